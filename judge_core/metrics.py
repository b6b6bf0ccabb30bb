"""Metrics: pure functions over verdict lists (1 = first better, 2 = second, 0 = tie).

A verdict of None is a parse failure; the functions here count it as wrong (it never equals a
label). Protocols decide beforehand whether a failure becomes a tie, stays wrong or is dropped.
scikit-learn and scipy are imported inside functions so `import judge_core` stays light.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

LABELS = (0, 1, 2)
_FAIL = -1  # stands for a parse failure inside sklearn calls: a class no gold label has


def accuracy(gold: Sequence[int], pred: Sequence[int | None]) -> float:
    _same_length(gold, pred)
    return sum(g == p for g, p in zip(gold, pred)) / len(gold) if gold else math.nan


def macro_prf(
    gold: Sequence[int], pred: Sequence[int | None], labels: Sequence[int] | None = None
) -> tuple[float, float, float]:
    """Macro precision, recall and F1 over `labels`, by default the verdict labels that occur in gold
    or predictions.

    On sets with ties (PandaLM, Auto-J) that is {0,1,2}; a failure lowers its gold class's recall
    without adding a class. Undefined ratios count 0 (sklearn zero_division=0).
    """
    # heavy: out of judge_core's import (`judge score` stays light)
    from sklearn.metrics import precision_recall_fscore_support

    _same_length(gold, pred)
    y_pred = [_FAIL if p is None else p for p in pred]
    labels = sorted(labels if labels is not None else (set(gold) | set(y_pred)) & set(LABELS))
    p, r, f, _ = precision_recall_fscore_support(gold, y_pred, labels=labels, average="macro", zero_division=0)
    return float(p), float(r), float(f)


def confusion(gold: Sequence[int], pred: Sequence[int | None]) -> dict[str, dict[str, int]]:
    """Counts gold -> predicted, with "fail" as a predicted column for parse failures."""
    table = {str(g): {str(p): 0 for p in (*LABELS, "fail")} for g in LABELS}
    for g, p in zip(gold, pred):
        table[str(g)]["fail" if p is None else str(p)] += 1
    return table


def cohen_kappa(a: Sequence[int | None], b: Sequence[int | None]) -> float:
    from sklearn.metrics import cohen_kappa_score  # heavy: out of judge_core's import (`judge score` stays light)

    _same_length(a, b)
    return float(cohen_kappa_score([_FAIL if x is None else x for x in a], [_FAIL if x is None else x for x in b]))


def fleiss_kappa(ratings: Sequence[Sequence[int]], categories: Sequence[int] = LABELS) -> float:
    """Fleiss' kappa for items each rated by the same number of raters (e.g. PandaLM's three)."""
    n_items = len(ratings)
    raters = len(ratings[0])
    if any(len(r) != raters for r in ratings):
        raise ValueError("every item needs the same number of ratings")
    counts = [[list(r).count(c) for c in categories] for r in ratings]
    p_items = [(sum(c * c for c in row) - raters) / (raters * (raters - 1)) for row in counts]
    p_bar = sum(p_items) / n_items
    shares = [sum(row[j] for row in counts) / (n_items * raters) for j in range(len(categories))]
    p_e = sum(s * s for s in shares)
    return (p_bar - p_e) / (1 - p_e)


def consistency(ab: Sequence[int | None], ba: Sequence[int | None]) -> float:
    """Share of examples whose two presentation orders give the same verdict (original frame);
    a parse failure is consistent with nothing."""
    _same_length(ab, ba)
    return sum(x is not None and x == y for x, y in zip(ab, ba)) / len(ab) if ab else math.nan


def position_preference(ab: Sequence[int | None], ba: Sequence[int | None]) -> dict[str, float]:
    """Shares of examples where the judge picked whichever answer was shown first (resp. second)
    in both orders: ab says 1 and ba says 2 in the original frame = prefers first."""
    _same_length(ab, ba)
    n = len(ab)
    first = sum(x == 1 and y == 2 for x, y in zip(ab, ba))
    second = sum(x == 2 and y == 1 for x, y in zip(ab, ba))
    return {"prefer_first": first / n if n else math.nan, "prefer_second": second / n if n else math.nan}


def verdict_shares(ab: Sequence[int | None], ba: Sequence[int | None] | None = None) -> dict:
    """What a judge said on unlabelled pairs: the share of each verdict over every judged order
    ("fail" for parse failures), and with both orders, consistency and position preference."""
    said = list(ab) + list(ba or [])
    names = {1: "1", 2: "2", 0: "tie", None: "fail"}
    out: dict[str, Any] = {
        "verdicts": {names[v]: sum(x == v for x in said) / len(said) for v in (1, 2, 0, None)} if said else {}
    }
    if ba is not None:
        out |= {"consistency": consistency(ab, ba)} | position_preference(ab, ba)
    return out


def log_loss(gold: Sequence[int], probs: Sequence[Sequence[float]]) -> float:
    """Multi-class log loss over (p_tie, p1, p2), rows renormalised and clipped as scikit-learn does."""
    from sklearn.metrics import log_loss as sk_log_loss  # heavy: out of judge_core's import (`judge score` stays light)

    _same_length(gold, probs)
    rows = [[p / sum(row) for p in row] for row in probs]
    return float(sk_log_loss(list(gold), rows, labels=list(LABELS)))


def brier(gold: Sequence[int], probs: Sequence[Sequence[float]]) -> float:
    """Mean over examples of sum_k (p_k - [k == gold])^2 (multi-class Brier, range 0..2)."""
    _same_length(gold, probs)
    return sum(sum((p - (k == g)) ** 2 for k, p in zip(LABELS, row)) for g, row in zip(gold, probs)) / len(gold)


def ece(gold: Sequence[int], probs: Sequence[Sequence[float]], bins: int = 10) -> float:
    """Expected calibration error of the top label: equal-width confidence bins over (0, 1]."""
    _same_length(gold, probs)
    return sum(b["count"] / len(gold) * abs(b["accuracy"] - b["confidence"]) for b in reliability(gold, probs, bins))


def reliability(gold: Sequence[int], probs: Sequence[Sequence[float]], bins: int = 10) -> list[dict[str, float]]:
    """Per-bin count, mean confidence and accuracy (the reliability diagram behind ece)."""
    rows = [{"bin": i, "count": 0, "confidence": 0.0, "accuracy": 0.0} for i in range(bins)]
    for g, row in zip(gold, probs):
        conf = max(row)
        b = rows[min(bins - 1, max(0, math.ceil(conf * bins) - 1))]
        b["count"] += 1
        b["confidence"] += conf
        b["accuracy"] += LABELS[list(row).index(conf)] == g
    for b in rows:
        if b["count"]:
            b["confidence"] /= b["count"]
            b["accuracy"] /= b["count"]
    return rows


def correlations(human: Sequence[float], judge: Sequence[float]) -> dict[str, float]:
    """Pearson r, Spearman rho and Kendall tau-b between human and judge scores."""
    from scipy import stats  # heavy: out of judge_core's import (`judge score` stays light)

    _same_length(human, judge)
    return {
        "pearson": float(stats.pearsonr(human, judge)[0]),
        "spearman": float(stats.spearmanr(human, judge)[0]),
        "kendall": float(stats.kendalltau(human, judge)[0]),
    }


def bootstrap_draws(
    statistic: Callable[[list[int]], Mapping[str, float | None]], n: int, resamples: int = 1000, seed: int = 0
) -> dict[str, list[float | None]]:
    """{key: its value on each of `resamples` resamples of the n examples} (with replacement; both
    orders of an example move together; None where the statistic is undefined). Seeded: the same n,
    resamples and seed draw the same indices, so two judges' draws of the same examples are PAIRED
    (draw b of each is the same resample), which judge_core.separability compares."""
    import numpy as np  # heavy: out of judge_core's import (`judge score` stays light)

    if resamples <= 0 or n == 0:
        return {}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float | None]] = {}
    for b in range(resamples):
        for key, value in statistic(rng.integers(0, n, n).tolist()).items():
            defined = value is not None and not (isinstance(value, float) and math.isnan(value))
            draws.setdefault(key, [None] * b).append(float(value) if defined else None)  # type: ignore[arg-type]
        for column in draws.values():  # a key the statistic left out of this resample
            column.extend([None] * (b + 1 - len(column)))
    return draws


def rounded_draws(draws: Sequence[float | None], digits: int) -> list[float | None]:
    """Bootstrap draws as a results file keeps them (a thousand floats per metric, rounded)."""
    return [None if v is None else round(v, digits) for v in draws]


def undefined_on_error(
    statistic: Callable[[list[int]], Mapping[str, float]], errors: tuple[type[Exception], ...] = (ValueError,)
) -> Callable[[list[int]], Mapping[str, float | None]]:
    """`statistic`, with a resample on which it raises `errors` (a fit with one outcome only) undefined."""

    def stat(idx: list[int]) -> Mapping[str, float | None]:
        try:
            return statistic(idx)
        except errors:
            return {}

    return stat


def percentile_ci(draws: Sequence[float | None], level: float = 0.95) -> tuple[float, float] | None:
    """The percentile interval of the defined draws (None when none is)."""
    import numpy as np  # heavy: out of judge_core's import (`judge score` stays light)

    values = [v for v in draws if v is not None]
    if not values:
        return None
    tail = (1 - level) / 2 * 100
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def bootstrap_ci(
    statistic: Callable[[list[int]], Mapping[str, float | None]],
    n: int,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap CIs: `statistic(indices)` is recomputed on `resamples` resamples of
    the n examples (with replacement; both orders of an example move together). Seeded."""
    cis = {k: percentile_ci(v, level) for k, v in bootstrap_draws(statistic, n, resamples, seed).items()}
    return {k: ci for k, ci in cis.items() if ci is not None}


def _same_length(a: Sequence, b: Sequence) -> None:
    if len(a) != len(b):
        raise ValueError(f"length mismatch: {len(a)} vs {len(b)}")
