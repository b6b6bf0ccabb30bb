"""Chance under a protocol: the expected headline metrics of a judge that knows nothing.

    chance(protocols.get("pandalm"), records)  # {"accuracy": 0.3333..., "precision": ..., ...}

The uninformed judge answers each judged order uniformly at random among the verdicts the benchmark
allows (1 and 2; and 0 where its gold has ties), never fails to parse, and, for probabilities, says
the uniform distribution (log loss ln k). Its expected metrics come from the protocol's own compute
function averaged over seeded draws, so every protocol's quirks count (PandaLM's disagreeing orders
becoming ties, LLMBar's two-order mean, macro F1 under the gold's class balance). Scores are
uncorrelated with the humans': correlations 0.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol


class Scored(Protocol):
    """What chance needs of a protocols.Protocol, named here instead of imported: protocols imports
    this module, and a type import back would close a cycle."""

    @property
    def name(self) -> str: ...
    @property
    def headline(self) -> tuple[str, ...]: ...
    @property
    def compute(self) -> Callable[[list[Any]], dict]: ...


def draws_for(n: int) -> int:
    """Enough draws that the mean's standard error stays near 0.3 points or under (one draw's spread
    shrinks as 1/sqrt(n)), and few enough to cost under a second on PandaLM's 999 pairs."""
    return max(10, min(100, 20_000 // max(1, n)))


def chance(protocol: Scored, records: list[Any], draws: int | None = None, seed: int = 0) -> dict[str, float]:
    """`protocol`: a protocols.Protocol, `records` its ProtocolRecords (passed in, not looked up:
    protocols imports this module)."""
    if protocol.name == "pointwise":
        return dict.fromkeys(protocol.headline, 0.0)
    if not records:
        return {}
    verdicts = (0, 1, 2) if any(r.gold == 0 for r in records) else (1, 2)
    draws = draws or draws_for(len(records))
    rng = random.Random(seed)
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for _ in range(draws):
        drawn = [
            replace(
                r,
                ab=rng.choice(verdicts) if r.has_ab else None,
                ba=rng.choice(verdicts) if r.has_ba else None,
                probs_ab=None,
                probs_ba=None,
            )
            for r in records
        ]
        result = protocol.compute(drawn)
        for key in protocol.headline:
            if isinstance(result.get(key), float) and not math.isnan(result[key]):
                sums[key], counts[key] = sums.get(key, 0.0) + result[key], counts.get(key, 0) + 1
    out = {k: v / counts[k] for k, v in sums.items()}
    if "log_loss" in protocol.headline:
        out["log_loss"] = math.log(len(verdicts))
    return out
