"""Length and style control: AlpacaEval's length-controlled win rate on fixtures computed by hand, Arena-
Hard's style control moving a long-answer model down, and a judge's length bias against the gold."""

import math
import warnings

import pytest

from judge_core.compare import bradley_terry
from judge_core.schema import Judgment, PairExample
from judge_core.style import length_bias, length_controlled_winrate, style_controlled_bt, style_features


def _logit(p):
    return math.log(p / (1 - p))


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


@pytest.mark.parametrize(
    "longer, shorter",
    [
        ((15, 0.8), (5, 0.2)),  # wins when longer, loses when shorter: the win rate is length
        ((10, 0.9), (10, 0.4)),
    ],
)
def test_lc_win_rate_is_alpacaevals_glm_computed_by_hand(longer, shorter):
    """With two length groups the length feature tanh(d / std(d)) takes two values +-c, and AlpacaEval's
    GLM (tanh(std_delta_len) + bias, no intercept) fits each group's preference exactly:
    sigmoid(b - w c) = p_longer, sigmoid(b + w c) = p_shorter, so b = (logit p_longer + logit p_shorter) / 2
    and the LC win rate, the prediction at d = 0, is sigmoid(b) (x100 in AlpacaEval's tables). The L1
    penalty of the CV-chosen C (1e4 here) moves it by far less than 0.1 points."""
    (n_long, p_long), (n_short, p_short) = longer, shorter
    prefs = [p_long] * n_long + [p_short] * n_short
    model = ["x" * 300] * n_long + ["x" * 100] * n_short  # 100 characters longer or shorter than the baseline
    baseline = ["y" * 200] * (n_long + n_short)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the sklearn spelling of AlpacaEval's settings is current
        out = length_controlled_winrate(prefs, model, baseline, resamples=0)
    by_hand = 100 * _sigmoid((_logit(p_long) + _logit(p_short)) / 2)
    assert 100 * out["win_rate"] == pytest.approx(100 * sum(prefs) / len(prefs))
    assert 100 * out["lc_win_rate"] == pytest.approx(by_hand, abs=0.1)
    assert out["length_coef"] < 0  # d = baseline minus model: a longer model answer has negative d and wins more
    if (p_long, p_short) == (0.8, 0.2):
        assert 100 * out["win_rate"] == pytest.approx(65.0) and 100 * out["lc_win_rate"] == pytest.approx(50.0, abs=0.1)
    else:
        assert by_hand == pytest.approx(71.0101, abs=1e-3)


def test_lc_win_rate_has_a_bootstrap_ci_and_leaves_failures_out():
    prefs = [1.0, 0.0, 0.5, None] * 10
    model = ["a" * (50 + 10 * i) for i in range(40)]
    out = length_controlled_winrate(prefs, model, ["b" * 200] * 40, resamples=30)
    assert out["n"] == 30 and out["dropped"] == 10 and out["win_rate"] == pytest.approx(0.5)
    lo, hi = out["ci95"]["lc_win_rate"]
    assert lo <= out["lc_win_rate"] <= hi


def test_style_features_count_markdown_as_arena_hard():
    text = "# Title\n\nSome **bold** and __bold__.\n\n1. one\n2. two\n- three\n```\n# not a header\n- not a list\n```"
    assert style_features(text) == (len(text), 1, 3, 2)
    assert style_features(["first turn", "# last"]) == (6, 1, 0, 0)


def _fixture():
    """Two candidates against a baseline. `plain` writes long and short answers and wins exactly when its
    answer is the longer; `verbose` always writes long markdown answers and wins 80% of its battles."""
    battles, features = [], []
    base = style_features("b" * 200)
    for q in range(40):
        long = q % 2 == 0
        battles.append((f"q{q}", "plain", "base", "win" if long else "loss"))
        features.append((style_features("p" * (500 if long else 100)), base))
        verbose = "# Answer\n" + "- point\n" * 20 + "**done**" + "v" * 400
        battles.append((f"q{q}", "verbose", "base", "win" if q % 5 else "loss"))
        features.append((style_features(verbose), base))
    return battles, features


def test_style_control_moves_a_long_answer_model_down():
    battles, features = _fixture()
    raw = bradley_terry([b[1:] for b in battles], anchor="base")
    styled = style_controlled_bt([b[1:] for b in battles], features, anchor="base")
    assert raw["verbose"] > raw["plain"] + 200  # raw: 80% against 50% wins
    assert styled["ratings"]["verbose"] < raw["verbose"] - 100  # its wins are explained by length and markdown
    assert styled["style_coef"]["length"] > 0  # the longer answer wins (features: model1 minus model2)
    assert styled["ratings"]["base"] == 1000


def _example(i, label, len1, len2):
    return PairExample(
        benchmark="b", subset="s", index=i, question="q", answer1="a" * len1, answer2="b" * len2, label=label
    )


def test_length_bias_is_how_much_more_often_the_judge_picks_the_longer_than_the_gold():
    # gold: the longer answer wins half the time; the judge always picks the longer one
    examples = [_example(i, 1 if i % 2 else 2, 300, 100) for i in range(20)]
    examples += [_example(20, 0, 300, 100), _example(21, 1, 100, 100)]  # a tie and equal lengths: left out
    judged = [Judgment(uid=ex.uid, order=o, verdict=1) for ex in examples for o in ("ab", "ba")]
    out = length_bias(examples, judged, resamples=200)
    assert out["n"] == 40 and out["judge_longer"] == 100.0 and out["gold_longer"] == 50.0
    assert out["value"] == 50.0 and out["ci95"][0] <= 50.0 <= out["ci95"][1]
    fair = [Judgment(uid=ex.uid, order=o, verdict=ex.label or 1) for ex in examples for o in ("ab", "ba")]
    assert length_bias(examples, fair, resamples=0)["value"] == 0.0
