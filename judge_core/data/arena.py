"""LMSYS Chatbot Arena, Kaggle "LLM Classification Finetuning" CSV (3-way: a, b, tie).

`judge data show arena`. prompt/response_a/response_b are JSON-encoded lists (one string per
turn; the real data has null turns, read as empty strings). Winner one-hot -> 1 (a), 2 (b), 0 (tie).
"""

from __future__ import annotations

import json

from ..schema import PairExample
from ..verdicts import Verdict
from ._io import FieldError, read_csv
from .registry import Source, Subset, github, register, rows_reader

_REPO, _COMMIT = "AlperCeyhun/llm-classification-finetuning", "86170aaa9650841f586da62a60ccb0ea5ae98f57"
_WINNERS: tuple[tuple[str, Verdict], ...] = (("winner_model_a", 1), ("winner_model_b", 2), ("winner_tie", 0))


def _turns(r: dict, key: str) -> list[str]:
    try:
        turns = json.loads(r[key])
    except json.JSONDecodeError as e:
        raise FieldError(key, f"not a JSON list of turns ({e.msg})") from e
    if not isinstance(turns, list) or not all(t is None or isinstance(t, str) for t in turns):
        raise FieldError(key, "expected a JSON list of strings")
    return ["" if t is None else t for t in turns]


def _label(r: dict) -> Verdict | None:
    if not any(k in r for k, _ in _WINNERS):
        return None  # the Kaggle test stub has no labels
    hot = [(k, v) for k, v in _WINNERS if r[k].strip() == "1"]
    bad = [k for k, _ in _WINNERS if r[k].strip() not in ("0", "1")]
    if bad or len(hot) != 1:
        raise FieldError(",".join(bad) or "winner_*", f"winner columns are not one-hot: {[r[k] for k, _ in _WINNERS]}")
    return hot[0][1]


def _example(row: int, r: dict, source: Source, subset: str) -> PairExample:
    question, a, b = _turns(r, "prompt"), _turns(r, "response_a"), _turns(r, "response_b")
    return PairExample(
        benchmark=source.name,
        subset=subset,
        index=row,
        question=question,
        answer1=a,
        answer2=b,
        label=_label(r),
        meta={"id": r["id"], "models": [r.get("model_a"), r.get("model_b")]},
    )


register(
    Source(
        name="arena",
        kind="benchmark",
        protocol="arena",
        read=rows_reader(read_csv, _example),
        description="Kaggle LMSYS Arena CSV: first 100 rows of train.csv (3-way), and the 3-row test stub",
        subsets={
            "train": Subset(
                "lmsys_arena_kaggle/small_train.csv",
                github(
                    _REPO,
                    _COMMIT,
                    "src/model/small_train.csv",
                    "c7e2612ab22df142031a415bba213670d87e43038708fab7b110e81335ed4adc",
                ),
            ),
            "test": Subset(
                "lmsys_arena_kaggle/test.csv",
                github(
                    _REPO,
                    _COMMIT,
                    "src/model/test.csv",
                    "4d6a47208951532a0b6bf862a75531806270f4782afc342125fd399682d09957",
                ),
            ),
        },
    )
)
