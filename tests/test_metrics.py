"""Metric functions against values computed by hand (worked out in the comments)."""

import math

import pytest

from judge_core import metrics as M

GOLD = [1, 1, 2, 2, 0, 0]
PRED = [1, 2, 2, 2, 0, 1]


def test_accuracy_and_macro_prf():
    assert M.accuracy(GOLD, PRED) == pytest.approx(4 / 6)
    # class 0: P 1/1 R 1/2 F 2/3; class 1: P 1/2 R 1/2 F 1/2; class 2: P 2/3 R 2/2 F 4/5
    p, r, f = M.macro_prf(GOLD, PRED)
    assert (p, r, f) == pytest.approx(((1 + 0.5 + 2 / 3) / 3, (0.5 + 0.5 + 1) / 3, (2 / 3 + 0.5 + 0.8) / 3))


def test_parse_failure_is_wrong_but_adds_no_class():
    pred = [1, None, 2, 2, 0, 1]
    assert M.accuracy(GOLD, pred) == pytest.approx(4 / 6)
    # class 2 now P 2/2 R 1; class 1 P 1/2 R 1/2; class 0 P 1 R 1/2
    p, r, f = M.macro_prf(GOLD, pred)
    assert (p, r, f) == pytest.approx(((1 + 0.5 + 1) / 3, 2 / 3, (2 / 3 + 0.5 + 1) / 3))


def test_macro_over_present_labels_only():
    # no ties anywhere: macro over {1, 2}; class 1 P 1 R 1/2 F 2/3, class 2 P 2/3 R 1 F 4/5
    assert M.macro_prf([1, 1, 2, 2], [1, 2, 2, 2]) == pytest.approx((5 / 6, 3 / 4, (2 / 3 + 0.8) / 2))


def test_confusion():
    table = M.confusion(GOLD, [1, None, 2, 2, 0, 1])
    assert table["1"] == {"0": 0, "1": 1, "2": 0, "fail": 1}
    assert table["0"] == {"0": 1, "1": 1, "2": 0, "fail": 0}


def test_kappas():
    # po = 3/4; pe = .5*.25 + .5*.75 = .5 -> 0.5
    assert M.cohen_kappa([1, 1, 2, 2], [1, 2, 2, 2]) == pytest.approx(0.5)
    # P_i = 1, 0, 1 -> 2/3; shares 1/9, 4/9, 4/9 -> Pe 33/81; kappa = (21/81)/(48/81) = 0.4375
    assert M.fleiss_kappa([[1, 1, 1], [1, 2, 0], [2, 2, 2]]) == pytest.approx(0.4375)
    with pytest.raises(ValueError):
        M.fleiss_kappa([[1, 1, 1], [1, 2]])


def test_consistency_and_position_preference():
    assert M.consistency([1, 2, 0, None], [1, 1, 0, None]) == 0.5  # two failures are not consistent
    assert M.position_preference([1, 2, 1, 0], [2, 1, 1, 0]) == {"prefer_first": 0.25, "prefer_second": 0.25}


PROBS = [(0.2, 0.5, 0.3), (0.5, 0.25, 0.25), (0.05, 0.05, 0.9)]


def test_probabilistic_metrics():
    assert M.log_loss([1, 0], PROBS[:2]) == pytest.approx(-math.log(0.5))
    assert M.log_loss([1, 0], [(0.4, 1.0, 0.6), (2, 1, 1)]) == pytest.approx(-math.log(0.5))  # renormalised
    # (.04 + .25 + .09 + .25 + .0625 + .0625) / 2
    assert M.brier([1, 0], PROBS[:2]) == pytest.approx(0.3775)
    # rows 1-2: conf .5, both right -> bin 5 gap .5 (weight 2/3); row 3: conf .9 right -> gap .1 (1/3)
    assert M.ece([1, 0, 2], PROBS) == pytest.approx(0.5 * 2 / 3 + 0.1 / 3)
    bins = M.reliability([1, 0, 2], PROBS)
    assert bins[4] == {"bin": 4, "count": 2, "confidence": 0.5, "accuracy": 1.0} and bins[8]["count"] == 1


def test_correlations():
    # deviations (-1.5,-.5,.5,1.5) and (-1.5,.5,-.5,1.5): cov 4, var 5 -> r = .8; one discordant pair of 6
    c = M.correlations([1, 2, 3, 4], [1, 3, 2, 4])
    assert c == pytest.approx({"pearson": 0.8, "spearman": 0.8, "kendall": 4 / 6})


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    gold = [1] * 60 + [2] * 40
    pred = [1] * 45 + [2] * 15 + [2] * 30 + [1] * 10

    def stat(idx):
        return {"accuracy": M.accuracy([gold[i] for i in idx], [pred[i] for i in idx])}

    a = M.bootstrap_ci(stat, 100, resamples=300, seed=7)
    assert a == M.bootstrap_ci(stat, 100, resamples=300, seed=7)
    assert a != M.bootstrap_ci(stat, 100, resamples=300, seed=8)
    low, high = a["accuracy"]
    assert low < 0.75 < high and high - low < 0.25
    assert M.bootstrap_ci(stat, 100, resamples=0) == {}


def test_length_mismatch():
    with pytest.raises(ValueError, match="length mismatch"):
        M.accuracy([1, 2], [1])
