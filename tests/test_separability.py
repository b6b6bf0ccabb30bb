"""Paired bootstrap comparisons, Arena-Hard's separability, and who is tied for first."""

import pytest

from judge_core import metrics as M
from judge_core.separability import beats, leaders, mean_ranks, rank_draws, separability


def test_beats_counts_paired_resamples_and_ties_as_half():
    assert beats([0.7, 0.6, 0.5, 0.4], [0.6, 0.6, 0.6, None]) == pytest.approx((1 + 0.5 + 0) / 3)
    assert beats([1.0, 2.0], [2.0, 3.0], lower_better=True) == 1.0  # log loss: lower wins
    assert beats([0.5], [0.5, 0.5]) is None  # not paired: different resamples


def test_leaders_name_one_judge_only_when_it_beats_the_runner_up_in_95_percent():
    top = [0.80 + 0.01 * (i % 5) for i in range(100)]
    near = [v - 0.01 if i % 10 else v + 0.02 for i, v in enumerate(top)]  # beaten in 90%
    far = [v - 0.2 for v in top]  # beaten in 100%
    points = {"top": 0.82, "near": 0.81, "far": 0.62}
    draws = {"top": top, "near": near, "far": far}
    assert beats(top, near) == pytest.approx(0.9) and leaders(points, draws) == ["top", "near"]
    assert leaders({"top": 0.82, "far": 0.62}, draws) == ["top"]
    assert leaders(points, draws, confidence=0.85) == ["top"]


def test_separability_is_the_share_of_pairs_whose_intervals_do_not_overlap():
    cis = {"a": (0.1, 0.2), "b": (0.15, 0.3), "c": (0.5, 0.6)}
    assert separability(cis) == pytest.approx(2 / 3)  # a-c and b-c apart, a-b overlap
    assert separability({"a": (0, 1)}) is None


def test_rank_draws_give_each_resamples_mean_rank():
    draws = {"s1": {"a": [0.9, 0.5], "b": [0.8, 0.6]}, "s2": {"a": [0.1, 0.1], "b": [0.2, 0.1]}}
    ranked = rank_draws(draws, {"s1": False, "s2": True})  # s2's metric: lower is better
    assert ranked == {"a": [1.0, 1.75], "b": [2.0, 1.25]}
    assert mean_ranks({"x": 1.0, "y": 1.0, "z": 0.0}, lower_better=False) == {"x": 1.5, "y": 1.5, "z": 3.0}


def test_draws_of_the_same_examples_are_paired_across_judges():
    right_a = [1, 1, 0, 1, 0, 1, 1, 1]
    right_b = [1, 0, 0, 1, 0, 1, 1, 0]  # wrong wherever a is, and on two more
    mean = lambda xs: lambda idx: {"acc": sum(xs[i] for i in idx) / len(idx)}  # noqa: E731
    a = M.bootstrap_draws(mean(right_a), 8, resamples=200, seed=0)["acc"]
    b = M.bootstrap_draws(mean(right_b), 8, resamples=200, seed=0)["acc"]
    assert all(x >= y for x, y in zip(a, b))  # the same resamples: a never scores below b
    assert M.bootstrap_ci(mean(right_a), 8, resamples=200)["acc"] == M.percentile_ci(a)
