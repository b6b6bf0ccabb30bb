"""Ensembles and calibration on synthetic judges whose true probabilities are known."""

import math

import numpy as np
import pytest

from judge_core import metrics as M
from judge_core.calibration import apply_calibration, calibrate_split, ensemble, split_uids, swap_averaged
from judge_core.schema import Judgment


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def _world(n=3000, seed=0):
    """True logits per example and gold labels drawn from them."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (n, 3))
    gold = [int(rng.choice(3, p=_softmax(z))) for z in logits]
    return rng, logits, gold


def test_split_is_deterministic_and_near_the_share():
    uids = [f"b/s/{i}" for i in range(1000)]
    fit, held = split_uids(uids, 0.5)
    assert split_uids(uids, 0.5) == (fit, held) and fit.isdisjoint(held) and 430 < len(fit) < 570


def test_temperature_undoes_an_overconfident_judge_on_heldout_data():
    _, logits, gold = _world()
    judge = {f"u{i}": tuple(_softmax(3 * z)) for i, z in enumerate(logits)}  # 3x too confident
    r = calibrate_split({f"u{i}": g for i, g in enumerate(gold)}, judge)
    assert r["temperature"] == pytest.approx(3.0, rel=0.15) and r["tie_scale"] == pytest.approx(1.0, rel=0.25)
    assert r["after"]["log_loss"] < r["before"]["log_loss"] - 0.2 and r["after"]["ece"] < r["before"]["ece"]


def test_tie_multiplier_restores_an_underestimated_tie():
    _, logits, gold = _world(seed=1)

    def shy(z):  # a judge that gives ties a fifth of their probability
        p = _softmax(z)
        p[0] /= 5
        return tuple(p / p.sum())

    r = calibrate_split({f"u{i}": g for i, g in enumerate(gold)}, {f"u{i}": shy(z) for i, z in enumerate(logits)})
    assert r["tie_scale"] == pytest.approx(5.0, rel=0.3) and r["after"]["log_loss"] < r["before"]["log_loss"]
    assert apply_calibration((0.2, 0.4, 0.4), {"temperature": 1.0, "tie_scale": 2.0}) == pytest.approx(
        (1 / 3, 1 / 3, 1 / 3)
    )


def test_too_few_examples_give_a_reason():
    assert "needs 20" in calibrate_split({"a": 1}, {"a": (0.2, 0.5, 0.3)})["skipped"]


def _judgments(name, probs_by_uid, order="ab"):
    return [Judgment(uid=u, judge=name, order=order, probs=p, verdict=1) for u, p in probs_by_uid.items()]


def test_ensemble_of_noisy_judges_beats_each_member():
    rng, logits, gold = _world(seed=2)
    members = {}
    for name in ("a", "b", "c"):
        noisy = {f"u{i}": tuple(_softmax(z + rng.normal(0, 1.5, 3))) for i, z in enumerate(logits)}
        members[name] = _judgments(name, noisy)
    ens = ensemble(members, {"a": 1, "b": 1, "c": 1}, "ens", allow_tie=True)
    loss = {k: M.log_loss(gold, [j.probs for j in js]) for k, js in members.items()}
    ens_loss = M.log_loss(gold, [j.probs for j in ens])
    assert ens_loss < min(loss.values()) - 0.05
    weighted = ensemble(members, {"a": 1, "b": 0, "c": 0}, "ens", allow_tie=True)
    assert np.allclose([j.probs for j in weighted], [j.probs for j in members["a"]])


def test_swap_average_and_ensemble_failures():
    ab = Judgment(uid="u", order="ab", probs=(0.2, 0.7, 0.1), verdict=1)
    ba = Judgment(uid="u", order="ba", probs=(0.2, 0.3, 0.5), verdict=2)
    avg = swap_averaged([ab, ba], allow_tie=True)
    assert [j.probs for j in avg] == [pytest.approx((0.2, 0.5, 0.3))] * 2 and {j.verdict for j in avg} == {1}
    bad = Judgment(uid="u", order="ba", error="parse: no verdict")
    out = ensemble({"x": [ab, ba], "y": [ab, bad]}, {"x": 1, "y": 1}, "ens", allow_tie=True)
    assert all(j.probs is None and "y: parse: no verdict" in j.error for j in out)
    assert math.isclose(sum(avg[0].probs), 1.0)
