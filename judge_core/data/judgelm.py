"""JudgeLM-100K / JudgeLM val JSONL format: score pair -> label (higher wins, equal -> tie).

`judge data show judgelm-val`. The files live on the Hugging Face hub (BAAI/JudgeLM-100K); put
them under <data root>/judgelm/ or let the loader fetch them. Reference answers are optional.
"""

from __future__ import annotations

from ..schema import PairExample
from ..verdicts import Verdict
from ._io import FieldError, Remote, need, read_jsonl
from .registry import Reader, Source, Subset, register, rows_reader

_HF = "https://huggingface.co/datasets/BAAI/JudgeLM-100K/resolve/main/"


def label_from_scores(s1: float, s2: float) -> Verdict:
    """JudgeLM's rule: the higher score wins; equal scores are a tie."""
    return 1 if s1 > s2 else 2 if s2 > s1 else 0


def _scores(r: dict, key: str) -> tuple[float, float]:
    score = need(r, key, list)
    if len(score) != 2 or not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in score):
        raise FieldError(key, f"expected two numbers, got {score!r:.60}")
    return float(score[0]), float(score[1])


def _example(row: int, r: dict, source: Source, subset: str, with_reference: bool) -> PairExample:
    ref = r.get("reference")
    reference = ref.get("text") if isinstance(ref, dict) else ref
    key = "score_w_reference" if with_reference and "score_w_reference" in r else "score"
    s1, s2 = _scores(r, key)
    return PairExample(
        benchmark=source.name,
        subset=subset,
        index=row,
        question=need(r, "question_body"),
        answer1=need(r, "answer1_body"),
        answer2=need(r, "answer2_body"),
        reference=reference if with_reference else None,
        label=label_from_scores(s1, s2),
        meta={
            "scores": [s1, s2],
            "question_id": r.get("question_id"),
            "models": [r.get("answer1_model_id"), r.get("answer2_model_id")],
            "judgment": r.get("text_w_reference" if key == "score_w_reference" else "text"),
        },
    )


def reader(with_reference: bool) -> Reader:
    return rows_reader(read_jsonl, lambda row, r, source, subset: _example(row, r, source, subset, with_reference))


register(
    Source(
        name="judgelm-train",
        kind="train",
        read=reader(with_reference=False),
        description="JudgeLM-100K training judgments by GPT-4 (HF BAAI/JudgeLM-100K; not in ../shared/data)",
        subsets={"train": Subset("judgelm/judgelm_train_100k.jsonl", Remote(_HF + "judgelm_train_100k.jsonl"))},
    )
)
register(
    Source(
        name="judgelm-val",
        kind="benchmark",
        protocol="judgelm",
        read=reader(with_reference=False),
        description="JudgeLM val 5K with GPT-4 judgments (HF BAAI/JudgeLM-100K; not in ../shared/data)",
        subsets={"val": Subset("judgelm/judgelm_val_5k_gpt4.jsonl", Remote(_HF + "judgelm_val_5k_gpt4.jsonl"))},
    )
)
