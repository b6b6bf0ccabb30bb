"""PandaLM test set (999 pairs, 3 annotators; gold = majority). `judge data show pandalm`"""

from __future__ import annotations

from collections import Counter

from ..schema import PairExample
from ..verdicts import Verdict
from ._io import label_from, need, read_json_list
from .registry import Source, pinned_file, register, rows_reader

ANNOTATORS = ("annotator1", "annotator2", "annotator3")
_LABELS: dict[int, Verdict] = {0: 0, 1: 1, 2: 2}  # PandaLM already uses 0 tie / 1 / 2


def majority(votes: list[Verdict]) -> Verdict:
    """The label at least two of three annotators gave (every PandaLM row has one)."""
    label, count = Counter(votes).most_common(1)[0]
    if count < 2:
        raise ValueError(f"no majority among annotators {votes}")
    return label


def _response(r: dict, key: str) -> str:
    """Six PandaLM rows hold the JSON boolean true as a response; PandaLM's own prompt builder
    formats it as "True", so we do the same rather than reject the row."""
    value = r[key]
    return str(value) if isinstance(value, bool) else need(r, key)


def _example(row: int, r: dict, source: Source, subset: str) -> PairExample:
    votes = [label_from(r, a, _LABELS) for a in ANNOTATORS]
    if need(r, "idx", int) != row:
        raise ValueError(f"idx {r['idx']} differs from the row position {row}")
    instruction, extra = need(r, "instruction"), need(r, "input")
    question = f"{instruction}\n\n{extra}" if extra.strip() else instruction
    model1, _, model2 = need(r, "cmp_key").partition("_")
    return PairExample(
        benchmark=source.name,
        subset=subset,
        index=row,
        question=question,
        answer1=_response(r, "response1"),
        answer2=_response(r, "response2"),
        label=majority(votes),
        meta={
            "annotators": votes,
            "instruction": instruction,
            "input": extra,
            "motivation_app": r.get("motivation_app"),
            "models": [model1, model2],
        },
    )


SOURCE = register(
    Source(
        name="pandalm",
        kind="benchmark",
        protocol="pandalm",
        read=rows_reader(read_json_list, _example),
        description="PandaLM human-annotated test set (gold = majority of 3 annotators)",
        subsets=pinned_file(
            "test",
            "pandalm/testset-v1.json",
            "WeOpenML/PandaLM",
            "3871806e72b4832f815ecafd24d3503c73403f48",
            "data/testset-v1.json",
            "cc154f9067c7382d7ea86f8f246511a5e1ac87e1fddd845c5938d789505b07a4",
        ),
    )
)
