"""Each paper's protocol on hand-made judgments with hand-computed results."""

import math

import pytest

from judge_core.protocols import ProtocolRecord as R
from judge_core.protocols import evaluate


def recs(gold, ab, ba=None, groups=None):
    ba = ba or [None] * len(gold)
    has_ba = ba != [None] * len(gold)
    return [
        R(gold=g, ab=a, ba=b, has_ab=True, has_ba=has_ba, group=(groups or [None] * len(gold))[i])
        for i, (g, a, b) in enumerate(zip(gold, ab, ba))
    ]


def test_llmbar_mean_of_orders_and_agreement():
    records = recs([1, 2, 1, 2], [1, 2, 2, None], [1, 1, 2, None])
    r = evaluate("llmbar", records, bootstrap=0)
    assert (r["accuracy_ab"], r["accuracy_ba"], r["accuracy"]) == (0.5, 0.25, 0.375)
    assert r["agreement"] == 0.75  # as in LLMBar's evaluate.py, two failures count as the same winner
    assert r["parse_failures"] == 2 and r["on_parse_failure"] == "wrong"
    dropped = evaluate("llmbar", records, on_parse_failure="drop", bootstrap=0)
    assert (dropped["n"], dropped["accuracy"], dropped["agreement"]) == (3, 0.5, pytest.approx(2 / 3))


def test_autoj_agreement_consistency_groups():
    records = recs([1, 2, 0, 1], [1, 2, 1, None], [1, 1, 1, 1], groups=["Code", "Code", "Rewriting", "Rewriting"])
    r = evaluate("autoj", records, bootstrap=0)
    assert (r["agreement"], r["consistency"], r["single_accuracy"]) == (0.25, 0.5, 0.5)
    assert r["groups"]["Code"] == {"agreement": 0.5, "consistency": 0.5, "single_accuracy": 1.0}
    assert r["groups"]["Rewriting"] == {"agreement": 0.0, "consistency": 0.5, "single_accuracy": 0.0}
    assert list(r["groups"]) == ["Code", "Rewriting"]  # Auto-J's group order


def test_autoj_single_order_judge():
    r = evaluate("autoj", recs([1, 2, 0], [1, 1, 0]), bootstrap=0)
    assert r["agreement"] == r["single_accuracy"] == pytest.approx(2 / 3) and r["consistency"] is None


def test_pandalm_single_order_failures_are_ties():
    r = evaluate("pandalm", recs([1, 2, 0, 1], [1, 2, 1, None]), bootstrap=0)
    # failure -> tie: pred [1,2,1,0]; class 0 P0 R0, class 1 P1/2 R1/2, class 2 P1 R1
    assert (r["accuracy"], r["precision"], r["recall"], r["f1"]) == pytest.approx((0.5, 0.5, 0.5, 0.5))
    assert r["parse_failures"] == 1 and r["on_parse_failure"] == "tie"
    wrong = evaluate("pandalm", recs([1, 2, 0, 1], [1, 2, 1, None]), on_parse_failure="wrong", bootstrap=0)
    assert wrong["accuracy"] == 0.5 and wrong["precision"] == pytest.approx((0 + 0.5 + 1) / 3)


def test_pandalm_both_orders_conflict_is_tie():
    r = evaluate("pandalm", recs([1, 2, 0, 1], [1, 2, 1, None], [1, 1, 1, 2]), bootstrap=0)
    # combined: [1, tie (2 vs 1), 1, tie (failure->tie vs 2)]
    assert r["accuracy"] == 0.25 and r["single_accuracy"] == 0.5
    assert r["consistency"] == 0.5


def test_judgelm_bias_rates():
    r = evaluate("judgelm", recs([1, 2, 1, 2], [1, 2, 1, 1], [2, 2, 1, 2]), bootstrap=0)
    assert (r["agreement"], r["consistency"]) == (0.75, 0.5)
    assert (r["prefer_first"], r["prefer_second"]) == (0.5, 0.0)  # items 0 and 3 pick the first shown
    single = evaluate("judgelm", recs([1, 2], [1, 1]), bootstrap=0)
    assert single["consistency"] is None and "prefer_first" not in single


def test_arena_log_loss_swap_averaged():
    one = [
        R(gold=1, ab=1, has_ab=True, probs_ab=(0.2, 0.5, 0.3)),
        R(gold=0, ab=0, has_ab=True, probs_ab=(0.5, 0.25, 0.25)),
    ]
    r = evaluate("arena", one, bootstrap=0)
    assert (r["log_loss"], r["accuracy"]) == (pytest.approx(math.log(2)), 1.0)
    both = [
        R(gold=1, ab=1, ba=1, has_ab=True, has_ba=True, probs_ab=(0.2, 0.5, 0.3), probs_ba=(0.4, 0.3, 0.3)),
        R(gold=0, ab=0, ba=0, has_ab=True, has_ba=True, probs_ab=(0.5, 0.25, 0.25), probs_ba=(0.5, 0.25, 0.25)),
    ]
    assert evaluate("arena", both, bootstrap=0)["log_loss"] == pytest.approx(-(math.log(0.4) + math.log(0.5)) / 2)
    no_probs = evaluate("arena", recs([1, 0], [1, 1]), bootstrap=0)
    assert no_probs["log_loss"] is None and no_probs["missing_probs"] == 2 and no_probs["accuracy"] == 0.5


def test_pointwise_drops_unscored():
    records = [
        R(human=h, score=s, has_ab=True, ab=None if s is None else 0)
        for h, s in [(1, 1), (2, 3), (3, 2), (4, 4), (5, None)]
    ]
    r = evaluate("pointwise", records, bootstrap=0)
    assert r["n"] == 4 and r["parse_failures"] == 1
    assert (r["pearson"], r["spearman"], r["kendall"]) == pytest.approx((0.8, 0.8, 4 / 6))


def test_bootstrap_ci_of_headline_metrics():
    records = recs([1, 2] * 50, [1, 2] * 40 + [2, 1] * 10, [1, 2] * 50)
    r = evaluate("llmbar", records, bootstrap=200, seed=1)
    low, high = r["ci95"]["accuracy"]
    assert low < r["accuracy"] < high and set(r["ci95"]) == {"accuracy", "agreement"}


def test_unknown_protocol_and_policy():
    with pytest.raises(KeyError, match="unknown protocol"):
        evaluate("nope", [])
    with pytest.raises(ValueError, match="wrong, tie or drop"):
        evaluate("llmbar", recs([1], [1], [1]), on_parse_failure="maybe")
