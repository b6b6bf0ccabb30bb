"""A finished cell's metrics.json: the paper's protocol, the swap-averaged row, calibration.

    metrics = cell_metrics(cell, judgments, truncated=3, examples=examples, bootstrap=1000)

Scoring is judge_core's (scoring.score_judgments under the benchmark's protocol, calibration); this
module only decides what a cell reports: counts, the protocol's result, and for probabilistic judges
the calibration table, the held-out recalibration, and the swap-averaged result when both orders ran.
"""

from __future__ import annotations

from pathlib import Path

from judge_core import metrics as M
from judge_core.calibration import calibrate_split, swap_averaged
from judge_core.scoring import score_judgments
from judge_core.verdicts import ties_allowed

from ..store import Cell
from ..tiny_models import RANDOM_MARKER


def cell_metrics(cell: Cell, judgments: list, truncated: int, examples: list, bootstrap: int) -> dict:
    metrics = {
        "cell": cell.key,
        "hash": cell.config_hash(),
        "rows": len(judgments),
        "engine": cell.judge.engine,
        "model": cell.judge.model,
        "mode": cell.judge.mode,
        "orders": list(cell.orders),
        "limit": cell.limit,
        "available": cell.available,
        "random_model": random_model(cell.judge.model),
        "errors": sum(j.error is not None and j.raw is None for j in judgments),
        "truncated": truncated,
        "tokens_in": sum(j.tokens_in or 0 for j in judgments),
        "tokens_out": sum(j.tokens_out or 0 for j in judgments),
        "probabilistic": all(j.probs is not None for j in judgments),
    }
    labelled = [ex for ex in examples if getattr(ex, "label", getattr(ex, "score", None)) is not None]
    if labelled:
        return metrics | _scored(cell, judgments, labelled, metrics["probabilistic"], bootstrap)
    return metrics | (
        {"unlabelled": unlabelled(judgments, cell.orders)} if examples and hasattr(examples[0], "label") else {}
    )


def unlabelled(judgments: list, orders) -> dict:
    """What the judge said on pairs without a label (nothing to score): verdict shares, and with both
    orders, consistency and position preference; the report adds agreement between judges."""
    by = {(j.uid, j.order): j.verdict for j in judgments}
    uids = list(dict.fromkeys(j.uid for j in judgments))
    ab = [by.get((u, "ab")) for u in uids]
    return M.verdict_shares(ab, [by.get((u, "ba")) for u in uids] if "ba" in orders else None) | {"n": len(uids)}


def random_model(model: str | None) -> bool:
    """Is the judge's model one of ray_jobs.tiny_models' random test models (they say so in a file)?"""
    return bool(model) and (Path(model) / RANDOM_MARKER).is_file()


def _scored(cell: Cell, judgments: list, labelled: list, probabilistic: bool, bootstrap: int) -> dict:
    """The protocol's result and, for probabilistic judges, calibration and the swap-averaged result."""

    def score(js):
        return score_judgments(cell.benchmark, cell.subset, js, bootstrap=bootstrap, examples=labelled)

    out = {"result": score(judgments)}
    if probabilistic:
        out |= {"calibration": calibration(judgments, labelled), "calibrated": calibrated(judgments, labelled)}
        if set(cell.orders) == {"ab", "ba"} and not cell.judge.capability.averages_orders:
            out["result_swapavg"] = score(swap_averaged(judgments, ties_allowed(labelled)))
    return out


def calibration(judgments: list, examples: list) -> dict:
    """Log loss, Brier, ECE and the reliability table over every judged order (original frame)."""
    gold = {ex.uid: ex.label for ex in examples}
    pairs = [(gold[j.uid], j.probs) for j in judgments if j.uid in gold and j.probs is not None]
    g, p = [x for x, _ in pairs], [y for _, y in pairs]
    return {
        "n": len(g),
        "log_loss": M.log_loss(g, p),
        "brier": M.brier(g, p),
        "ece": M.ece(g, p),
        "reliability": M.reliability(g, p),
    }


def calibrated(judgments: list, examples: list) -> dict:
    """Temperature + tie multiplier fitted on half the examples (uid hash), judged on the other half,
    over the swap-averaged probabilities (one triple per example)."""
    gold = {ex.uid: ex.label for ex in examples}
    probs = {j.uid: j.probs for j in swap_averaged(judgments, ties_allowed(examples)) if j.probs is not None}
    return calibrate_split(gold, probs)
