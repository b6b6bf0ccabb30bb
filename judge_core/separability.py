"""Can the numbers tell judges (or models) apart? Paired bootstrap comparisons, Arena-Hard's separability
and a "best" named only when it beats the runner-up in at least 95% of resamples.

    draws = {"a": [0.71, 0.69, ...], "b": [0.70, 0.66, ...]}   # the same resamples of the same examples
    leaders(points, draws)             # ["a", "b"]: tied for first unless a beats b in >= 95% of them
    separability(cis)                  # share of pairs whose 95% CIs do not overlap

Draws come from judge_core.metrics.bootstrap_draws: draw b of every judge is the metric on the SAME
resample of the examples (both orders of an example move together), so the comparison is paired:
the share of resamples in which one judge scores better than another (ties count half).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

Draws = Sequence[float | None]
CONFIDENCE = 0.95  # a leader must beat the runner-up in this share of paired resamples to be named


def beats(a: Draws, b: Draws, lower_better: bool = False) -> float | None:
    """The share of paired resamples in which `a` is better than `b` (equal counts half); None when no
    resample defines both or the draws are not paired (different lengths)."""
    if len(a) != len(b):
        return None
    both = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    if not both:
        return None
    wins = sum((x < y if lower_better else x > y) + 0.5 * (x == y) for x, y in both)
    return wins / len(both)


def leaders(
    points: Mapping[str, float],
    draws: Mapping[str, Draws],
    lower_better: bool = False,
    confidence: float = CONFIDENCE,
) -> list[str]:
    """Who is tied for first: the best point estimate first, then every other that it does not beat
    in at least `confidence` of the paired resamples (best estimate first). One name: a clear leader."""
    if not points:
        return []
    order = sorted(points, key=lambda k: points[k] if lower_better else -points[k])
    top = order[0]
    tied = [
        k
        for k in order[1:]
        if (share := beats(draws.get(top, ()), draws.get(k, ()), lower_better)) is None or share < confidence
    ]
    return [top, *tied]


def separability(cis: Mapping[str, tuple[float, float]]) -> float | None:
    """Arena-Hard's separability: the share of pairs whose CIs do not overlap (None for fewer than two)."""
    pairs = list(combinations(cis.values(), 2))
    if not pairs:
        return None
    apart = sum(a[1] < b[0] or b[1] < a[0] for a, b in pairs)
    return apart / len(pairs)


def rank_draws(
    draws: Mapping[str, Mapping[str, Draws]], lower_better: Mapping[str, bool]
) -> dict[str, list[float | None]]:
    """{judge: its mean rank over the subsets on each resample}: `draws[subset][judge]` are paired within
    a subset (subsets are resampled independently). On resample b each subset's judges are ranked by
    their draw b (1 = best, equal values share their mean rank); a judge's mean rank is over the subsets
    where its draw is defined. The paired distribution of the report's mean rank."""
    lengths = {len(d) for per in draws.values() for d in per.values()}
    if len(lengths) != 1:
        return {}
    (n,) = lengths
    judges = sorted({j for per in draws.values() for j in per})
    out: dict[str, list[float | None]] = {j: [] for j in judges}
    for b in range(n):
        total = dict.fromkeys(judges, 0.0)
        count = dict.fromkeys(judges, 0)
        for subset, per in draws.items():
            values: dict[str, float] = {j: v for j, d in per.items() if (v := d[b]) is not None}
            for j, rank in mean_ranks(values, lower_better[subset]).items():
                total[j] += rank
                count[j] += 1
        for j in judges:
            out[j].append(total[j] / count[j] if count[j] else None)
    return out


def mean_ranks(values: Mapping[str, float], lower_better: bool) -> dict[str, float]:
    """Rank (1 = best) of each key; equal values share the mean of their ranks."""
    order = sorted(values, key=lambda k: values[k] if lower_better else -values[k])
    ranks, i = {}, 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in order[i : j + 1]:
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    return ranks
