"""LLMBar (Natural + four Adversarial subsets) and LLMBar's processed 200-item MT-Bench human set.

`judge data show llmbar --subset neighbor`. Labels are already 1/2; LLMBar has no ties.
"""

from __future__ import annotations

from ..schema import PairExample
from ._io import label_from, need, read_json_list
from .registry import Source, Subset, github, pinned_file, register, rows_reader

_REPO, _COMMIT = "princeton-nlp/LLMBar", "900616bff90b6c6c8e1681f7d079250637c55992"
_SUBSETS = {  # name: (path under the data root, path in the LLMBar repo, sha256)
    "natural": (
        "llmbar/Natural/dataset.json",
        "Dataset/LLMBar/Natural/dataset.json",
        "f7127b7aa78104cb8e03a2b1b3ac0077e95b125714dd441a8ee63666145a3375",
    ),
    "neighbor": (
        "llmbar/Adversarial/Neighbor/dataset.json",
        "Dataset/LLMBar/Adversarial/Neighbor/dataset.json",
        "6712c7eda6342602e0bc7c06c282fa95e2110d4e741a284026a62d937f9780a0",
    ),
    "gptinst": (
        "llmbar/Adversarial/GPTInst/dataset.json",
        "Dataset/LLMBar/Adversarial/GPTInst/dataset.json",
        "1002425f73c2cf54b6e6de99bce3f6c60fa2a17d13194772e37d7481c1351d42",
    ),
    "gptout": (
        "llmbar/Adversarial/GPTOut/dataset.json",
        "Dataset/LLMBar/Adversarial/GPTOut/dataset.json",
        "1ff56e520d7607750a9866a3be0f5b850392ca4477a1f69d80f32bd3e310f561",
    ),
    "manual": (
        "llmbar/Adversarial/Manual/dataset.json",
        "Dataset/LLMBar/Adversarial/Manual/dataset.json",
        "0d9598769a39cdbbd265778c37e49939d41d5f76dcfb17bd75dcfa07516d3837",
    ),
}


def _example(row: int, r: dict, source: Source, subset: str) -> PairExample:
    return PairExample(
        benchmark=source.name,
        subset=subset,
        index=row,
        question=need(r, "input"),
        answer1=need(r, "output_1"),
        answer2=need(r, "output_2"),
        label=label_from(r, "label", {1: 1, 2: 2}),
    )


register(
    Source(
        name="llmbar",
        kind="benchmark",
        protocol="llmbar",
        read=rows_reader(read_json_list, _example),
        description="LLMBar instruction-following pairs: Natural and Adversarial Neighbor/GPTInst/GPTOut/Manual",
        subsets={
            name: Subset(local, github(_REPO, _COMMIT, remote, sha)) for name, (local, remote, sha) in _SUBSETS.items()
        },
    )
)
register(
    Source(
        name="mtbench",
        kind="benchmark",
        protocol="llmbar",
        read=rows_reader(read_json_list, _example),
        description="MT-Bench human judgments, LLMBar's processed 200-item turn-1 set (no ties)",
        subsets=pinned_file(
            "human",
            "mt_bench/llmbar_processed/dataset.json",
            _REPO,
            _COMMIT,
            "Dataset/Processed/MT-Bench/dataset.json",
            "c152249bc095d152485954bd2abd9ea79528ee5e4c045bfe9ef78755b03c20d8",
        ),
    )
)
