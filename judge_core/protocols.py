"""Each paper's evaluation protocol, exactly: which orders count, how they combine, what is reported.

    from judge_core.protocols import evaluate
    result = evaluate("autoj", records)   # records: one ProtocolRecord per example

Parse failures (verdict None) follow `on_parse_failure`: "wrong" (never matches a label or the
other order), "tie" (becomes 0) or "drop" (the example leaves the metric). Each protocol's
default is its paper's; the count of failures is always reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, cast

from . import metrics as M
from .chance import chance
from .data.autoj import SCENARIO_GROUPS
from .verdicts import Probs, average_orders, combine_orders, verdict_from_probs

OnParseFailure = Literal["wrong", "tie", "drop"]


@dataclass(frozen=True)
class ProtocolRecord:
    """One example as a protocol sees it: gold, and each order's verdict in the ORIGINAL frame.

    `has_ab`/`has_ba` say whether that order was judged at all (a judged order with verdict None
    is a parse failure). Pointwise records use `human` and `score` instead.
    """

    gold: int | None = None
    ab: int | None = None
    ba: int | None = None
    has_ab: bool = False
    has_ba: bool = False
    probs_ab: tuple[float, float, float] | None = None
    probs_ba: tuple[float, float, float] | None = None
    group: str | None = None
    human: float | None = None
    score: float | None = None


@dataclass(frozen=True)
class Protocol:
    name: str
    orders: tuple[str, ...]  # orders every example must have; the other order is optional
    on_parse_failure: OnParseFailure  # the paper's rule
    compute: Callable[[list[ProtocolRecord]], dict]
    headline: tuple[str, ...]
    description: str


def _failures(records: Sequence[ProtocolRecord]) -> int:
    return sum((r.has_ab and r.ab is None) + (r.has_ba and r.ba is None) for r in records)


def apply_policy(records: list[ProtocolRecord], policy: OnParseFailure) -> list[ProtocolRecord]:
    if policy == "wrong":
        return records
    if policy == "tie":
        return [
            replace(r, ab=0 if r.has_ab and r.ab is None else r.ab, ba=0 if r.has_ba and r.ba is None else r.ba)
            for r in records
        ]
    if policy == "drop":
        return [r for r in records if not (r.has_ab and r.ab is None) and not (r.has_ba and r.ba is None)]
    raise ValueError(f"on_parse_failure must be wrong, tie or drop, not {policy!r}")


# ---- pairwise protocols ---------------------------------------------------------------------------
def _gold(records: Sequence[ProtocolRecord]) -> list[int]:
    """The gold verdicts: pairwise records are labelled (scoring leaves unlabelled pairs out)."""
    return cast(list[int], [r.gold for r in records])


def _combined(r: ProtocolRecord) -> int | None:
    """Both orders: agreeing verdicts stand, disagreeing ones become a tie; one order: that verdict."""
    return combine_orders(r.ab, r.ba) if r.has_ba else r.ab


def pandalm(records: list[ProtocolRecord]) -> dict:
    gold = _gold(records)
    pred = [_combined(r) for r in records]
    p, rec, f = M.macro_prf(gold, pred)
    out = {
        "accuracy": M.accuracy(gold, pred),
        "precision": p,
        "recall": rec,
        "f1": f,
        "single_accuracy": M.accuracy(gold, [r.ab for r in records]),
        "cohen_kappa": M.cohen_kappa(gold, pred),
    }
    return out | _order_stats(records)


def _order_stats(records: list[ProtocolRecord]) -> dict:
    if not all(r.has_ab and r.has_ba for r in records):
        return {}
    ab, ba = [r.ab for r in records], [r.ba for r in records]
    return {"consistency": M.consistency(ab, ba)} | M.position_preference(ab, ba)


def _autoj_scores(records: list[ProtocolRecord]) -> dict:
    gold = _gold(records)
    single = M.accuracy(gold, [r.ab for r in records])
    if not all(r.has_ba for r in records):  # single-order judge: agreement is plain accuracy
        return {"agreement": single, "consistency": None, "single_accuracy": single}
    both = sum(r.ab is not None and r.ab == r.ba == r.gold for r in records) / len(records)
    return {
        "agreement": both,
        "consistency": M.consistency([r.ab for r in records], [r.ba for r in records]),
        "single_accuracy": single,
    }


def autoj(records: list[ProtocolRecord]) -> dict:

    groups = {g: _autoj_scores(rs) for g in SCENARIO_GROUPS if (rs := [r for r in records if r.group == g])}
    return _autoj_scores(records) | {"groups": groups} | _order_stats(records)


def llmbar(records: list[ProtocolRecord]) -> dict:
    """Accuracy = mean of the two orders' accuracies; agreement = same winner in both orders.
    As in LLMBar's evaluate.py, two failed parses count as the same winner."""
    gold = _gold(records)
    acc_ab, acc_ba = M.accuracy(gold, [r.ab for r in records]), M.accuracy(gold, [r.ba for r in records])
    agreement = sum(r.ab == r.ba for r in records) / len(records)
    return {
        "accuracy": (acc_ab + acc_ba) / 2,
        "agreement": agreement,
        "accuracy_ab": acc_ab,
        "accuracy_ba": acc_ba,
        "both_correct": sum(r.ab == r.ba == r.gold for r in records) / len(records),
    } | M.position_preference([r.ab for r in records], [r.ba for r in records])


def judgelm(records: list[ProtocolRecord]) -> dict:
    gold, ab = _gold(records), [r.ab for r in records]
    p, rec, f = M.macro_prf(gold, ab)
    out = {"agreement": M.accuracy(gold, ab), "precision": p, "recall": rec, "f1": f, "consistency": None}
    return out | _order_stats(records)


def _arena_probs(r: ProtocolRecord) -> Probs | None:
    """Swap-averaged probabilities when both orders have them, else the one there is."""
    return average_orders([r.probs_ab, r.probs_ba]) or r.probs_ab or r.probs_ba


def arena(records: list[ProtocolRecord]) -> dict:
    gold = _gold(records)
    probs = [_arena_probs(r) for r in records]
    pred = [verdict_from_probs(p) if p else _combined(r) for p, r in zip(probs, records)]
    out = {"accuracy": M.accuracy(gold, pred), "log_loss": None, "missing_probs": sum(p is None for p in probs)}
    if out["missing_probs"] == 0:
        full = cast(list[Probs], probs)  # none missing
        out |= {"log_loss": M.log_loss(gold, full), "brier": M.brier(gold, full), "ece": M.ece(gold, full)}
    return out


def pairwise(records: list[ProtocolRecord]) -> dict:
    """Your own labelled pairs: each judged order counts once (so position bias cancels in accuracy),
    macro F1 over the gold's classes (ties are a class when the labels hold any; none when every label
    is the same: shuffle_positions makes a constant label two classes), consistency and position
    preference where both orders ran."""
    orders = ("ab", "ba") if all(r.has_ba for r in records) else ("ab",)
    gold = _gold(records) * len(orders)
    pred = [getattr(r, o) for o in orders for r in records]
    classes = sorted({1, 2} | set(gold))
    by_order = {f"accuracy_{o}": M.accuracy(_gold(records), [getattr(r, o) for r in records]) for o in orders}
    f1 = M.macro_prf(gold, pred, classes)[2] if len(set(gold)) > 1 else None  # one gold class: F1 says nothing
    return {"accuracy": M.accuracy(gold, pred), "f1": f1} | by_order | _order_stats(records)


def pointwise(records: list[ProtocolRecord]) -> dict:
    scored = [r for r in records if r.score is not None]
    human = cast(list[float], [r.human for r in scored])  # scoring keeps the examples with a human score
    judge = cast(list[float], [r.score for r in scored])
    out = (
        M.correlations(human, judge)
        if len(scored) > 2
        else {"pearson": math.nan, "spearman": math.nan, "kendall": math.nan}
    )
    return out | {"scored": len(scored)}


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            "pandalm",
            ("ab",),
            "tie",
            pandalm,
            ("accuracy", "precision", "recall", "f1"),
            "accuracy and macro P/R/F1 vs the annotators' majority; with both orders, disagreeing "
            "orders count as a tie; failures count as ties (PandaLM's parser)",
        ),
        Protocol(
            "autoj",
            ("ab",),
            "wrong",
            autoj,
            ("agreement", "consistency", "single_accuracy"),
            "agreement = both orders equal each other and the label; consistency = both orders "
            "equal; per scenario group; single = original order",
        ),
        Protocol(
            "llmbar",
            ("ab", "ba"),
            "wrong",
            llmbar,
            ("accuracy", "agreement"),
            "accuracy = mean of per-order accuracy; agreement = same winner in both orders; failures are wrong",
        ),
        Protocol(
            "judgelm",
            ("ab",),
            "wrong",
            judgelm,
            ("agreement", "precision", "recall", "f1", "consistency"),
            "agreement and macro P/R/F1 of the original order; consistency and position "
            "preference from the swapped order",
        ),
        Protocol(
            "arena",
            ("ab",),
            "wrong",
            arena,
            ("log_loss", "accuracy"),
            "3-way log loss over (tie, a, b) probabilities (swap-averaged when both orders), accuracy",
        ),
        Protocol(
            "pairwise",
            ("ab",),
            "wrong",
            pairwise,
            ("accuracy", "f1"),
            "your own labelled pairs: accuracy over every judged order (the mean of both orders' accuracies), "
            "macro F1 over the gold's classes, consistency and position preference; failures are wrong",
        ),
        Protocol(
            "pointwise",
            ("ab",),
            "drop",
            pointwise,
            ("pearson", "spearman", "kendall"),
            "Pearson, Spearman and Kendall correlation with human scores",
        ),
    )
}


def get(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise KeyError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}") from None


def evaluate(
    name: str,
    records: list[ProtocolRecord],
    on_parse_failure: OnParseFailure | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> dict:
    """Metrics of `records` under protocol `name`: n, parse_failures, the protocol's metrics,
    bootstrap 95% CIs of its headline metrics (`bootstrap` resamples, 0 = none) and their draws (the
    headline on each resample of the records, paired across judges of the same records: `draws`)."""
    protocol = get(name)
    policy = on_parse_failure or protocol.on_parse_failure
    kept = apply_policy(list(records), policy)
    out = {
        "protocol": name,
        "n": len(kept),
        "n_total": len(records),
        "parse_failures": _failures(records),
        "on_parse_failure": policy,
    }
    if not kept:
        return out
    out |= protocol.compute(kept)
    if protocol.name != "pointwise":
        gold = _gold(kept)
        out["confusion_ab"] = M.confusion(gold, [r.ab for r in kept])

    def headline(idx: list[int]) -> dict:
        # resamples of every record, the policy applied after: the draws of two judges of the same
        # examples are paired even where their parse failures differ
        chosen = apply_policy([records[i] for i in idx], policy)
        result = protocol.compute(chosen) if chosen else {}
        return {k: result.get(k) for k in protocol.headline if isinstance(result.get(k), float)}

    draws = M.bootstrap_draws(headline, len(records), resamples=bootstrap, seed=seed)
    out["ci95"] = {k: ci for k, v in draws.items() if (ci := M.percentile_ci(v)) is not None}
    out["draws"] = {k: M.rounded_draws(vs, 6) for k, vs in draws.items()}
    out["chance"] = chance(protocol, kept)
    return out
