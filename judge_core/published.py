"""Published numbers of known judges, shown beside measured ones and marked as published.

Each entry: (benchmark, subset, judge, metrics in percent, source). Metric names follow the
protocol's keys in judge_core.protocols, so a report can put them in the same columns. The source
says where each number was read: the paper or its authors' released files where we could read them,
otherwise the citing paper it was read from (said so in the source string).
"""

from __future__ import annotations

from dataclasses import dataclass

LLMBAR = (
    "LLMBar (Zeng et al., ICLR 2024), princeton-nlp/LLMBar @ caa7bee7, "
    "Dataset/LLMBar/{path}/evaluators/GPT-4/Vanilla/statistics.json"
)
AUTOJ = "Auto-J (Li et al., ICLR 2024), GAIR-NLP/auto-j README leaderboard, pairwise response comparison"
# Not read from the original papers here (no access): read from FLEX-Judge's Table 10 ("results from
# Chen et al.", i.e. JudgeLRM, 2025, which quotes the original papers). Its PandaLM-7B row gives the
# same 59.26 / 54.56 as the PandaLM paper, our primary source for that row.
VIA_FLEX = "{origin}; read via FLEX-Judge (2025) Table 10, quoting JudgeLRM (Chen et al., 2025)"
JUDGELM = "JudgeLM (Zhu et al., ICLR 2025, arXiv:2310.17631), zero-shot on the PandaLM test set, human ground truth"
PANDALM_GPT = "PandaLM (Wang et al., ICLR 2024, arXiv:2306.05087) as tabulated by JudgeLM (arXiv:2310.17631)"


@dataclass(frozen=True)
class Published:
    benchmark: str
    subset: str
    judge: str
    metrics: dict
    source: str


def _llmbar(subset: str, path: str, accuracy: float, agreement: float) -> Published:
    return Published(
        "llmbar",
        subset,
        "GPT-4 (LLMBar Vanilla prompt)",
        {"accuracy": accuracy, "agreement": agreement},
        LLMBAR.format(path=path),
    )


PUBLISHED: tuple[Published, ...] = (
    Published(
        "pandalm",
        "test",
        "PandaLM-7B",
        {"accuracy": 59.26, "f1": 54.56},
        "PandaLM (Wang et al., ICLR 2024, arXiv:2306.05087), human-annotated test set, both orders",
    ),
    Published(
        "pandalm",
        "test",
        "JudgeLM-33B",
        {"accuracy": 75.18, "precision": 69.30, "recall": 74.93, "f1": 69.73},
        VIA_FLEX.format(origin=JUDGELM),
    ),
    Published(
        "pandalm",
        "test",
        "GPT-4",
        {"accuracy": 66.47, "precision": 66.20, "recall": 68.15, "f1": 61.80},
        VIA_FLEX.format(origin=PANDALM_GPT),
    ),
    Published(
        "pandalm",
        "test",
        "GPT-3.5",
        {"accuracy": 62.96, "precision": 61.95, "recall": 63.59, "f1": 58.20},
        VIA_FLEX.format(origin=PANDALM_GPT),
    ),
    Published("autoj", "test", "GPT-4", {"agreement": 62.28, "consistency": 86.28}, AUTOJ),
    Published("autoj", "test", "Auto-J-13B", {"agreement": 54.96, "consistency": 83.41}, AUTOJ),
    Published("autoj", "test", "LLaMA-2-70B-Chat", {"agreement": 46.12, "consistency": 69.90}, AUTOJ),
    Published("autoj", "test", "ChatGPT", {"agreement": 42.74, "consistency": 62.43}, AUTOJ),
    Published("autoj", "test", "PandaLM-7B", {"agreement": 39.44, "consistency": 66.88}, AUTOJ),
    _llmbar("natural", "Natural", 95.5, 95.0),
    _llmbar("neighbor", "Adversarial/Neighbor", 78.73134328358209, 93.28358208955224),
    _llmbar("gptinst", "Adversarial/GPTInst", 86.41304347826086, 94.56521739130434),
    _llmbar("gptout", "Adversarial/GPTOut", 77.6595744680851, 93.61702127659575),
    _llmbar("manual", "Adversarial/Manual", 80.43478260869566, 82.6086956521739),
)


def published_for(benchmark: str, subset: str) -> list[Published]:
    return [p for p in PUBLISHED if p.benchmark == benchmark and p.subset == subset]
