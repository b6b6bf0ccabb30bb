"""Ensembles of stored judgments and post-hoc calibration (the Kaggle LMSYS Arena lessons).

    avg = swap_averaged(judgments, allow_tie=True)            # both orders' probabilities averaged
    ens = ensemble([judge_a, judge_b], weights=[2, 1])        # weighted mean of swap-averaged members
    fit, held = split_uids(uids, share=0.5)                   # deterministic by uid hash
    params = fit_calibration(gold_fit, probs_fit)             # temperature T and tie multiplier m
    calibrated = apply_calibration(probs, params)

Calibration: p_k ∝ exp(log p_k / T), then p_tie ∝ m * p_tie, renormalised. T > 1 softens an
overconfident judge; m is the tie threshold made explicit: a tie is the verdict exactly when
m * p_tie > max(p1, p2). Both are fitted by minimum log loss on a validation split and judged on the
held-out rest, so a report's "after" numbers are never in-sample.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Sequence
from typing import Any, cast

from . import metrics as M
from .schema import Judgment
from .verdicts import Probs, average_orders, verdict_from_probs

EPS = 1e-12


def swap_averaged(judgments: list[Judgment], allow_tie: bool) -> list[Judgment]:
    """Each uid's probabilities averaged over the orders judged (original frame), for every judgment of
    that uid: the verdict no longer depends on position. A uid with a failed order keeps its judgments."""
    by_uid: dict[str, list[Judgment]] = {}
    for j in judgments:
        by_uid.setdefault(j.uid, []).append(j)
    out = []
    for group in by_uid.values():
        mean = average_orders([j.probs for j in group])
        out += (
            group
            if mean is None
            else [j.model_copy(update={"probs": mean, "verdict": verdict_from_probs(mean, allow_tie)}) for j in group]
        )
    return out


def ensemble(
    members: dict[str, list[Judgment]], weights: dict[str, float], name: str, allow_tie: bool
) -> list[Judgment]:
    """One judgment per (uid, order) of the first member: the weighted mean of every member's
    swap-averaged probabilities. A uid that some member could not judge (no probabilities) is a
    failure naming that member, never a silent drop or a renormalised subset."""
    averaged = {m: {j.uid: j for j in swap_averaged(js, allow_tie)} for m, js in members.items()}
    total = sum(weights[m] for m in members)
    first = next(iter(members.values()))
    out = []
    for j in first:
        missing = [m for m in members if j.uid not in averaged[m] or averaged[m][j.uid].probs is None]
        base: dict[str, Any] = {"uid": j.uid, "judge": name, "template": "", "order": j.order}
        if missing:
            why = "; ".join(
                f"{m}: {averaged[m][j.uid].error if j.uid in averaged[m] else 'not judged'}" for m in missing
            )
            out.append(Judgment(**base, error=f"ensemble member without probabilities ({why})"[:500]))
            continue
        member = {m: cast(Probs, averaged[m][j.uid].probs) for m in members}  # none is missing (above)
        probs = cast(Probs, tuple(sum(weights[m] * member[m][k] for m in members) / total for k in range(3)))
        out.append(Judgment(**base, probs=probs, verdict=verdict_from_probs(probs, allow_tie)))
    return out


def split_uids(uids: Collection[str], share: float = 0.5, seed: int = 0) -> tuple[set[str], set[str]]:
    """(fit, held-out): a uid is in fit when its seeded hash falls below `share` (stable across runs)."""
    fit = {u for u in uids if int(hashlib.sha256(f"{seed}/{u}".encode()).hexdigest()[:8], 16) / 16**8 < share}
    return fit, set(uids) - fit


def apply_calibration(probs: Sequence[float], params: dict[str, float]) -> Probs:
    t, m = params["temperature"], params["tie_scale"]
    logs = [math.log(max(p, EPS)) / t for p in probs]
    top = max(logs)
    w = [math.exp(x - top) for x in logs]
    w[0] *= m
    s = sum(w)
    return cast(Probs, tuple(x / s for x in w))  # one per (p_tie, p1, p2)


def fit_calibration(gold: list[int], probs: Sequence[Sequence[float]]) -> dict[str, float]:
    """Temperature and tie multiplier minimising log loss on (gold, probs). On gold without ties the
    multiplier learns to shrink p_tie, which is what such a benchmark rewards."""
    from scipy.optimize import minimize  # heavy: out of judge_core's import (`judge score` stays light)

    def loss(x: Sequence[float]) -> float:  # log T, log m
        params = {"temperature": math.exp(x[0]), "tie_scale": math.exp(x[1])}
        return -sum(math.log(max(apply_calibration(p, params)[g], EPS)) for g, p in zip(gold, probs)) / len(gold)

    # T and m within e^±5: enough to undo any sane judge, never degenerate
    res = minimize(loss, [0.0, 0.0], method="L-BFGS-B", bounds=[(-5.0, 5.0)] * 2)
    return {"temperature": math.exp(res.x[0]), "tie_scale": math.exp(res.x[1])}


def _quality(gold: list[int], probs: Sequence[Probs], allow_tie: bool) -> dict[str, float]:
    verdicts = [verdict_from_probs(p, allow_tie) for p in probs]
    return {
        "log_loss": M.log_loss(gold, probs),
        "brier": M.brier(gold, probs),
        "ece": M.ece(gold, probs),
        "accuracy": M.accuracy(gold, verdicts),
    }


def calibrate_split(
    gold: dict[str, int], probs: dict[str, tuple], share: float = 0.5, seed: int = 0, min_rows: int = 20
) -> dict:
    """Fit on the uids of the fit split, report log loss / Brier / ECE / accuracy before and after on the
    held-out split. `gold` and `probs` are keyed by uid (one probability triple per example). Fewer than
    `min_rows` on either side: a reason instead of numbers."""
    uids = sorted(set(gold) & set(probs))
    fit, held = (sorted(side) for side in split_uids(uids, share, seed))
    if len(fit) < min_rows or len(held) < min_rows:
        return {"skipped": f"{len(fit)} fit / {len(held)} held-out examples; calibration needs {min_rows} on each side"}
    allow_tie = any(v == 0 for v in gold.values())
    params = fit_calibration([gold[u] for u in fit], [probs[u] for u in fit])
    g = [gold[u] for u in held]
    before = [probs[u] for u in held]
    after = [apply_calibration(p, params) for p in before]
    return params | {
        "n_fit": len(fit),
        "n_heldout": len(held),
        "share": share,
        "seed": seed,
        "before": _quality(g, before, allow_tie),
        "after": _quality(g, after, allow_tie),
    }
