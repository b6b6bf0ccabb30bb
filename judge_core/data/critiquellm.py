"""CritiqueLLM's human-rated AlignBench samples (Chinese), pairwise and pointwise.

`judge data show critiquellm-pointwise --subset reference-free`. Pairwise labels count 0 = first,
1 = second, 2 = tie and are mapped 0->1, 1->2, 2->0.
"""

from __future__ import annotations

from ..schema import PairExample, PointExample
from ._io import label_from, need, read_jsonl
from .registry import Source, Subset, github, register, rows_reader

_REPO, _COMMIT = "thu-coai/CritiqueLLM", "e1e0241bc0fec50d8125fe93044df56d5d289a8a"
_SHA = {
    ("pairwise", "reference-based"): "d7634049824668b92eaa86c43b83a4e18289992aede7a4dcd09b93c9fc897bd3",
    ("pairwise", "reference-free"): "c0cce90960d24c9f795184325f0dec16071869070e52c72580fe5f8fd5f88797",
    ("pointwise", "reference-based"): "5133c5de27826b99f95004052955fba1e2955e4e801217a992c480f05d8ac1ea",
    ("pointwise", "reference-free"): "c21439d0144746e466483e9261a90679344df02d82247897f56d0e6ebe4a9813",
}


def _reference(r: dict, subset: str) -> str | None:
    return need(r, "reference") if subset == "reference-based" else None


def _pair(row: int, r: dict, source: Source, subset: str) -> PairExample:
    return PairExample(
        benchmark=source.name,
        subset=subset,
        index=row,
        question=need(r, "question"),
        answer1=need(r, "response_1"),
        answer2=need(r, "response_2"),
        reference=_reference(r, subset),
        label=label_from(r, "label", {0: 1, 1: 2, 2: 0}),
        meta={
            "category": r.get("category"),
            "id": r.get("id"),
            "human_scores": [need(r, "human_score_1", (int, float)), need(r, "human_score_2", (int, float))],
        },
    )


def _point(row: int, r: dict, source: Source, subset: str) -> PointExample:
    return PointExample(
        benchmark=source.name,
        subset=subset,
        index=row,
        question=need(r, "question"),
        answer=need(r, "response"),
        reference=_reference(r, subset),
        score=float(need(r, "human_score", (int, float))),
        scale=(1.0, 5.0),
        meta={"category": r.get("category"), "id": r.get("id"), "model": r.get("model")},
    )


def _subsets(kind: str) -> dict[str, Subset]:
    out = {}
    for subset in ("reference-based", "reference-free"):
        name = f"alignbench_{subset.replace('-', '_')}_sample.jsonl"
        out[subset] = Subset(
            f"alignbench/critiquellm/{kind}/{name}",
            github(_REPO, _COMMIT, f"data/evaluation/{kind}/{name}", _SHA[kind, subset]),
        )
    return out


register(
    Source(
        name="critiquellm-pairwise",
        kind="benchmark",
        protocol="autoj",
        read=rows_reader(read_jsonl, _pair),
        description="AlignBench pairwise samples rated by humans (CritiqueLLM), with/without reference",
        subsets=_subsets("pairwise"),
    )
)
register(
    Source(
        name="critiquellm-pointwise",
        kind="benchmark",
        protocol="pointwise",
        read=rows_reader(read_jsonl, _point),
        description="AlignBench single answers with human scores 1-5 (CritiqueLLM), with/without reference",
        subsets=_subsets("pointwise"),
    )
)
