"""The one rule for each way a verdict is made from other numbers: probabilities, and two orders.

    verdict_from_probs((0.2, 0.5, 0.3))            # 1: the likeliest of (tie, answer 1, answer 2)
    average_orders([(0.2, 0.5, 0.3), (0.2, 0.3, 0.5)])   # (0.2, 0.4, 0.4): swap-averaged
    combine_orders(1, 2)                           # 0: two orders that disagree are a tie

Label-mode judgments, `judge score` rows that carry only probabilities, the Arena protocol,
ensembles, calibration, the serving app and fine-tune evaluation all decide through here, so they
cannot drift apart. Probabilities and verdicts are in the ORIGINAL answer frame unless a caller
says otherwise (see judge_core.schema for the mapping between frames).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Probs = tuple[float, float, float]  # (p_tie, p1, p2)
Verdict = Literal[0, 1, 2]  # 1 = answer1 better, 2 = answer2 better, 0 = tie


def verdict_from_probs(probs: Probs | None, allow_tie: bool = True) -> Verdict | None:
    """The likeliest verdict of (p_tie, p1, p2); without ties only 1 and 2 compete.

    A tie must be strictly likelier than both answers. Exact equality between answers 1 and 2 is a
    tie when ties are allowed, else answer 1 (stated, not hidden: it happens with a uniform guess)."""
    if probs is None:
        return None
    p_tie, p1, p2 = probs
    if allow_tie and p_tie > max(p1, p2):
        return 0
    if p1 == p2:
        return 0 if allow_tie else 1
    return 1 if p1 > p2 else 2


def average_orders(probs: list[Probs | None]) -> Probs | None:
    """The mean of the orders' probabilities (each in the original frame): position bias cancels.
    None when any order has none: a partial average would favour the order that answered."""
    if not probs or any(p is None for p in probs):
        return None
    return tuple(sum(column) / len(probs) for column in zip(*probs))


def combine_orders(ab: int | None, ba: int | None) -> int | None:
    """Both orders' verdicts (original frame) as one: agreeing verdicts stand, disagreeing ones are a
    tie (PandaLM with both orders, FastChat's rule, the serving app); a failure in either is a failure."""
    if ab is None or ba is None:
        return None
    return ab if ab == ba else 0


def both_orders(
    ab: int | None, ba: int | None, probs_ab: Probs | None, probs_ba: Probs | None, allow_tie: bool = True
) -> tuple[int | None, Probs | None]:
    """(verdict, probabilities) of an example judged in both orders (original frame): the averaged
    probabilities and their likeliest verdict where both orders have probabilities, else the agreed
    verdict, a tie where the orders disagree (FastChat's rule). The serving app and `judge annotate`."""
    mean = average_orders([probs_ab, probs_ba])
    return (combine_orders(ab, ba) if mean is None else verdict_from_probs(mean, allow_tie)), mean


def ties_allowed(examples: Iterable[object]) -> bool:
    """May a verdict from probabilities be a tie? Yes when the gold has ties, or when there is no gold
    (comparisons); a benchmark without ties (LLMBar) asks its judges to choose."""
    labels = [getattr(ex, "label", None) for ex in examples]
    return 0 in labels or all(v is None for v in labels)
