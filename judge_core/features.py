"""Answer-pair features for the feature baseline judge (the Kaggle Arena bucket/feature baseline)
and for the pair head's feature terms (ray_jobs/finetune_model.PairJudge).

Every baseline feature is a difference "first minus second", so swapping the answers negates it: a
model trained on both orders cannot prefer a position. The pair head takes each answer's features
(its score) and symmetric ones (its tie term) instead. Pure Python; the scikit-learn model lives in
ray_jobs/engines/baselines.py.
"""

from __future__ import annotations

import math
import re

from .prompts.base import answer_text, question_text
from .schema import PairExample, presented

_WORD = re.compile(r"\w+")
_REFUSAL = re.compile(r"\b(I'?m sorry|I cannot|I can'?t|as an AI|I am unable|I'm unable|I apologi[sz]e)\b", re.I)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")

NAMES = (
    "log_chars",
    "log_words",
    "lines",
    "bullets",
    "headers",
    "code_blocks",
    "bold",
    "digits",
    "question_overlap",
    "reference_overlap",
    "refusal",
    "question_echo",
    "empty",
)


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(b) if b else 0.0


def answer_features(answer: str, question: str, reference: str | None) -> list[float]:
    words = _words(answer)
    q, ref = _words(question), _words(reference) if reference else set()
    return [
        math.log1p(len(answer)),
        math.log1p(len(_WORD.findall(answer))),
        math.log1p(answer.count("\n")),
        len(re.findall(r"^\s*(?:[-*•]|\d+[.)])\s", answer, re.M)) ** 0.5,
        len(re.findall(r"^#+\s", answer, re.M)) ** 0.5,
        answer.count("```") / 2,
        answer.count("**") / 2**0.5,
        math.log1p(len(_NUMBER.findall(answer))),
        _overlap(words, q),
        _overlap(words, ref),
        float(bool(_REFUSAL.search(answer))),
        float(question.strip()[:80].lower() in answer.lower()),
        float(not answer.strip()),
    ]


def _shown(example: PairExample, order: str) -> tuple[str, str, list[float], list[float]]:
    """(first answer, second answer, their features) as shown in `order`."""
    shown = presented(example, order)
    q = question_text(shown)
    ref = None if shown.reference is None else answer_text(shown.reference)
    a1, a2 = answer_text(shown.answer1), answer_text(shown.answer2)
    return a1, a2, answer_features(a1, q, ref), answer_features(a2, q, ref)


def pair_features(example: PairExample, order: str = "ab") -> list[float]:
    """Feature differences (shown first minus shown second) for the `order` presentation."""
    _, _, f1, f2 = _shown(example, order)
    return [a - b for a, b in zip(f1, f2)] + [abs(a - b) for a, b in zip(f1[:2], f2[:2])]


TIE_NAMES = tuple(f"gap_{n}" for n in NAMES) + ("answer_overlap",)


def head_features(example: PairExample, order: str = "ab") -> tuple[list[float], list[float], list[float]]:
    """(first answer's features, second answer's, tie features) as shown in `order`. The tie
    features are symmetric: each feature's gap |f1 - f2| and the two answers' word overlap
    (Jaccard), so near-identical answers can be called a tie whatever the order."""
    a1, a2, f1, f2 = _shown(example, order)
    w1, w2 = _words(a1), _words(a2)
    jaccard = len(w1 & w2) / len(w1 | w2) if w1 | w2 else 1.0
    return f1, f2, [abs(a - b) for a, b in zip(f1, f2)] + [jaccard]
