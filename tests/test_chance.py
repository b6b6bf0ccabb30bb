"""Chance under each protocol: the expected headline of a judge that answers uniformly at random."""

import math

import pytest

from judge_core.chance import chance
from judge_core.protocols import ProtocolRecord, evaluate, get


def _records(golds, both=True):
    return [ProtocolRecord(gold=g, ab=1, ba=1 if both else None, has_ab=True, has_ba=both) for g in golds]


def test_two_way_benchmarks_sit_at_a_coin_and_three_way_ones_at_a_third():
    llmbar = chance(get("llmbar"), _records([1, 2] * 100))
    assert llmbar["accuracy"] == pytest.approx(0.5, abs=0.01) and llmbar["agreement"] == pytest.approx(0.5, abs=0.01)
    single = chance(get("judgelm"), _records([0, 1, 2] * 100, both=False))
    assert single["agreement"] == pytest.approx(1 / 3, abs=0.01)
    assert single["f1"] == pytest.approx(1 / 3, abs=0.01)  # balanced classes: each class's F1 is 1/3 too


def test_pandalm_turns_disagreeing_orders_into_ties_so_its_chance_favours_tie_gold():
    # each order uniform over (0, 1, 2): the two agree with p 1/3, else a tie. P(pred = 1) = P(pred = 2) = 1/9,
    # P(pred = tie) = 1/9 + 2/3 = 7/9: accuracy = (n1 + n2) / 9n + 7 n0 / 9n
    golds = [1] * 150 + [2] * 150 + [0] * 60
    got = chance(get("pandalm"), _records(golds))["accuracy"]
    assert got == pytest.approx((300 / 9 + 7 * 60 / 9) / 360, abs=0.01)


def test_log_loss_is_that_of_the_uniform_distribution_and_correlations_are_zero():
    assert chance(get("arena"), _records([0, 1, 2] * 10, both=False))["log_loss"] == pytest.approx(math.log(3))
    assert chance(get("pointwise"), []) == {"pearson": 0.0, "spearman": 0.0, "kendall": 0.0}


def test_every_scored_result_carries_its_chance_and_the_same_input_gives_the_same_value():
    records = _records([1, 2, 2, 1] * 25)
    one, two = evaluate("llmbar", records, bootstrap=0), evaluate("llmbar", records, bootstrap=0)
    assert one["chance"] == two["chance"] and set(one["chance"]) == {"accuracy", "agreement"}
