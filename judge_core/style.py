"""Length and style control: AlpacaEval 2's length-controlled win rate, Arena-Hard's style-controlled
Bradley-Terry, and a judge's length bias against the gold labels.

    length_controlled_winrate(prefs, model_texts, baseline_texts)   # {"win_rate", "lc_win_rate", ...}
    style_controlled_bt(battles, texts, anchor="gpt-3.5")             # {model: rating}, style held at the mean
    length_bias(examples, judgments)                                  # judge's share picking the longer - gold's

AlpacaEval (tatsu-lab/alpaca_eval, src/alpaca_eval/metrics/glm_winrate.py @ cd543a1): the preference p
in [0, 1] (a tie 0.5) of each instruction is fitted by a logistic GLM without intercept on
tanh(d / std(d)), d = len(baseline) - len(model) in characters, std with ddof 1, plus the model's bias
column; soft labels by duplicating each row (y=1 weight p, y=0 weight 1-p); sklearn's
LogisticRegressionCV with an L1 penalty, liblinear, random_state 123, 5-fold GroupKFold (both copies of a
row in one fold), its default 10 Cs, scored by the weighted continuous log loss. The LC win rate is
mean sigmoid(prediction with d = 0) (x100 in AlpacaEval's tables). AlpacaEval's default GLM
(length_controlled_v1) adds an instruction-difficulty term and regularises towards two "gamed"
baselines, both FITTED ON ITS 805 INSTRUCTIONS and downloaded from the Hugging Face hub; neither exists
for another question set, so this is its `length_controlled_minimal` GLM (same formula without those
two, same fit). AlpacaEval reports a standard error of the predictions; we give a bootstrap CI over
instructions (the GLM refitted on each resample).

Arena-Hard (lmarena/arena-hard-auto, show_result.py/utils_math.py @ 3071ef9, construct_style_matrices and
fit_bt): battles duplicated, models at +-ln(10), style features (length, markdown headers, list items,
bold spans, counted by its regexes after code blocks are emptied) as (a - b) / (a + b + 1), standardised
(mean, ddof-0 std over the rows); ties one win each; sklearn's LogisticRegression without intercept and
otherwise default (L2, C=1); rating = 400 * coefficient, anchored at 1000 here (Arena-Hard anchors its
baseline at 1114). Length is in characters here (Arena-Hard's tiktoken tokens need a download); the
features are ratios, so the unit barely matters. A style-controlled rating is the model's strength with
every style feature at its mean over the battles. CIs: bootstrap over questions.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence

from .compare import question_groups
from .metrics import bootstrap_draws, percentile_ci, undefined_on_error
from .schema import Judgment, PairExample, Text

# ---- AlpacaEval's length-controlled win rate ---------------------------------------------------------
N_SPLITS = 5  # AlpacaEval's GroupKFold folds (GLM_INFO["length_controlled_v1"]["kwargs"])


def _last_turn(text: Text) -> str:
    return text if isinstance(text, str) else text[-1]  # a conversation: its last turn's answer


def _char_len(text: Text) -> int:
    return len(_last_turn(text))


def _soft_logloss(y_true, y_pred, true_prob, true_sample_weight=None):
    """AlpacaEval's logloss_continuous: log loss against the soft target each duplicated row carries."""
    import numpy as np  # heavy: out of judge_core's import (`judge score` stays light)

    target = np.where(y_true == 1, true_prob, 1 - true_prob)
    y_pred = np.clip(y_pred, 1e-15, 1 - 1e-15)
    loss = target * np.log(y_pred) + (1 - target) * np.log(1 - y_pred)
    if true_sample_weight is not None:
        loss = loss * true_sample_weight
    return -np.mean(loss)


def fit_soft_logistic_cv(X, prefs):
    """AlpacaEval's fit_LogisticRegressionCV(is_ytrue_proba=True, n_splits=5) without sample weights:
    (the fitted coefficients of X (rows: instructions, no intercept) on soft preferences, the C the CV chose,
    whether liblinear converged within sklearn's default iterations, as AlpacaEval runs it)."""
    import numpy as np  # heavy: out of judge_core's import (`judge score` stays light)
    import sklearn  # heavy: out of judge_core's import (`judge score` stays light)
    from sklearn.exceptions import ConvergenceWarning  # heavy: out of judge_core's import
    from sklearn.linear_model import LogisticRegressionCV  # heavy: out of judge_core's import
    from sklearn.metrics import make_scorer  # heavy: out of judge_core's import
    from sklearn.model_selection import GroupKFold  # heavy: out of judge_core's import

    X, p = np.asarray(X, dtype=float), np.asarray(prefs, dtype=float)
    n = len(p)
    X_dup, y = np.vstack([X, X]), np.concatenate([np.ones(n), np.zeros(n)])
    true_prob = np.concatenate([p, 1 - p])
    groups = np.concatenate([np.arange(n), np.arange(n)])
    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        scorer = make_scorer(_soft_logloss, response_method="predict_proba", greater_is_better=False)
        scorer = scorer.set_score_request(true_sample_weight=True, true_prob=True)
        model = LogisticRegressionCV(
            cv=GroupKFold(n_splits=N_SPLITS),
            scoring=scorer,
            l1_ratios=(1.0,),  # penalty="l1" (the name sklearn 1.8 gave it)
            solver="liblinear",
            random_state=123,
            dual=False,
            fit_intercept=False,
            use_legacy_attributes=False,
        )
        model.set_fit_request(sample_weight=True)
        model.fit(X_dup, y, sample_weight=true_prob, groups=groups, true_sample_weight=None, true_prob=true_prob)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return model.coef_[0], float(model.C_[0] if hasattr(model.C_, "__len__") else model.C_), converged


def length_controlled_winrate(
    prefs: Sequence[float | None],
    model_texts: Sequence[Text],
    baseline_texts: Sequence[Text],
    resamples: int = 1000,
    seed: int = 0,
) -> dict:
    """{n, win_rate, lc_win_rate, length_coef, ci95: {win_rate, lc_win_rate}} as fractions (AlpacaEval
    prints them x100), from each
    instruction's preference for the model over the baseline (1 win, 0 loss, 0.5 tie; None: failed, left
    out). The GLM needs instructions whose lengths differ, and both wins and losses."""
    kept = [(p, _char_len(m), _char_len(b)) for p, m, b in zip(prefs, model_texts, baseline_texts) if p is not None]
    p = [k[0] for k in kept]
    delta = [b - m for _, m, b in kept]  # baseline minus model, as AlpacaEval

    def stat(idx: Sequence[int]) -> dict[str, float | None]:
        lc = _lc([p[i] for i in idx], [delta[i] for i in idx])[0]
        return {"win_rate": sum(p[i] for i in idx) / len(idx), "lc_win_rate": lc}

    point, coef, C, converged = _lc(p, delta) if kept else (None, None, None, None)
    draws = bootstrap_draws(stat, len(kept), resamples, seed) if kept and point is not None else {}
    return {
        "n": len(kept),
        "dropped": len(prefs) - len(kept),
        "win_rate": sum(p) / len(p) if p else math.nan,
        "lc_win_rate": math.nan if point is None else point,
        "length_coef": coef,
        "C": C,  # with few instructions the CV may pick a C that shrinks every coefficient to 0: LC reads 0.5
        "converged": converged,
        "ci95": {k: ci for k, v in draws.items() if (ci := percentile_ci(v)) is not None},
    }


def _lc(p: list[float], delta: list[int]) -> tuple[float | None, float | None, float | None, bool | None]:
    """(LC win rate, the length coefficient, the C chosen, converged?), or Nones where the GLM cannot be fitted."""
    import numpy as np  # heavy: out of judge_core's import (`judge score` stays light)

    d = np.asarray(delta, dtype=float)
    std = d.std(ddof=1) if len(d) > 1 else 0.0
    one_sided = all(x == 0.0 for x in p) or all(x == 1.0 for x in p)  # one class only: nothing to fit
    if not std or one_sided or len(p) < N_SPLITS:
        return None, None, None, None
    X = np.column_stack([np.tanh(d / std), np.ones(len(d))])  # tanh(std_delta_len), the model's bias column
    (length, bias), C, converged = fit_soft_logistic_cv(X, p)
    return float(1 / (1 + math.exp(-bias))), float(length), C, converged  # the prediction at std_delta_len = 0


# ---- Arena-Hard's style control ----------------------------------------------------------------------
_CODE = re.compile("```([^`]*)```")
_MARKDOWN = {
    "header_count": [re.compile(rf"^#{{{k}}}\s", re.MULTILINE) for k in range(1, 7)],
    "list_count": [re.compile(r"^\s*\d+\.\s", re.MULTILINE), re.compile(r"^\s*[-*+]\s", re.MULTILINE)],
    "bold_count": [re.compile(r"\*\*[^*\n]+\*\*"), re.compile(r"__[^_\n]+__")],
}
STYLE = ("length", "header_count", "list_count", "bold_count")


def style_features(text: Text) -> tuple[int, ...]:
    """(length in characters, headers, list items, bold spans) of an answer (a conversation: its last
    turn), markdown counted by Arena-Hard's count_markdown_elements after its remove_pattern empties
    code blocks."""
    text = _last_turn(text)
    prose = text
    for inner in _CODE.findall(text):
        if inner:
            prose = prose.replace(inner, "")
    return (len(text), *(sum(len(p.findall(prose)) for p in pats) for pats in _MARKDOWN.values()))


SCALE, BASE, INIT = 400.0, 10.0, 1000.0


def style_controlled_bt(
    battles: Sequence[tuple[str, str, str]],
    features: Sequence[tuple[Sequence[float], Sequence[float]]],
    anchor: str,
) -> dict:
    """{"ratings": {model: Elo-scale rating, anchor at 1000}, "style_coef": {feature: coefficient}} from
    (model1, model2, outcome) battles (outcome for model1: win, loss, tie or conflict = tie) and each
    battle's (model1's, model2's) style_features: construct_style_matrices and fit_bt of Arena-Hard."""
    import numpy as np  # heavy: out of judge_core's import (`judge score` stays light)
    from sklearn.linear_model import LogisticRegression  # heavy: out of judge_core's import

    kept = [(b, f) for b, f in zip(battles, features) if b[2] in ("win", "loss", "tie", "conflict")]
    models = sorted({m for (a, b, _), _ in kept for m in (a, b)} | {anchor})
    col = {m: i for i, m in enumerate(models)}
    k = len(kept)
    X = np.zeros((2 * k, len(models) + len(STYLE)))
    Y = np.zeros(2 * k)
    diff = np.zeros((2 * k, len(STYLE)))
    for i, ((a, b, outcome), (fa, fb)) in enumerate(kept):
        fa_, fb_ = np.asarray(fa, dtype=float), np.asarray(fb, dtype=float)
        for row in (i, i + k):  # the battles twice: a tie is one win for each side
            X[row, col[a]], X[row, col[b]] = math.log(BASE), -math.log(BASE)
            diff[row] = (fa_ - fb_) / (fa_ + fb_ + 1)
        tie = outcome in ("tie", "conflict")
        Y[i] = 1.0 if outcome == "win" or tie else 0.0
        Y[i + k] = 1.0 if outcome == "win" else 0.0
    std = diff.std(axis=0)
    X[:, len(models) :] = (diff - diff.mean(axis=0)) / np.where(std > 0, std, 1.0)
    if len(set(Y)) < 2:
        raise ValueError("style control needs battles with both outcomes (or ties)")
    lr = LogisticRegression(fit_intercept=False)
    lr.fit(X, Y)
    coef = lr.coef_[0]
    ratings = SCALE * coef[: len(models)]
    return {
        "ratings": {m: float(INIT + ratings[col[m]] - ratings[col[anchor]]) for m in models},
        "style_coef": dict(zip(STYLE, map(float, coef[len(models) :]))),
    }


def style_controlled_bt_ci(
    battles: Sequence[tuple[str, str, str, str]],
    features: Sequence[tuple[Sequence[float], Sequence[float]]],
    anchor: str,
    resamples: int = 1000,
    seed: int = 0,
) -> dict:
    """{model: {rating, ci95}, "style_coef": ...}; battles are (question_id, model1, model2, outcome) and the
    bootstrap resamples questions (all battles of a question move together)."""
    groups = question_groups(battles)
    plain = [(a, b, o) for _, a, b, o in battles]

    def fit(idx: Sequence[int]) -> dict[str, float]:
        rows = [i for g in idx for i in groups[g]]
        ratings: dict[str, float] = style_controlled_bt([plain[i] for i in rows], [features[i] for i in rows], anchor)[
            "ratings"
        ]
        return ratings

    point = style_controlled_bt(plain, features, anchor)
    draws = bootstrap_draws(undefined_on_error(fit), len(groups), resamples, seed)
    ci = {m: percentile_ci(v) for m, v in draws.items()}
    return {m: {"rating": r, "ci95": ci.get(m)} for m, r in point["ratings"].items()} | {
        "style_coef": point["style_coef"]
    }


# ---- a judge's length bias ---------------------------------------------------------------------------
def length_bias(
    examples: Sequence[PairExample], judgments: Sequence[Judgment], resamples: int = 1000, seed: int = 0
) -> dict:
    """How much more often the judge picks the longer answer than the gold label does, in points:
    {value, judge_longer, gold_longer, n, ci95}. Over the judged presentations whose gold is not a tie,
    whose answers differ in length and whose verdict is not a tie or a failure (an example's two orders
    are two presentations; the bootstrap moves them together)."""
    by_uid: dict[str, list[Judgment]] = {}
    for j in judgments:
        by_uid.setdefault(j.uid, []).append(j)
    per_example = []  # [(judge picked longer, gold picked longer)] per example
    for ex in examples:
        la, lb = _char_len(ex.answer1), _char_len(ex.answer2)
        if ex.label in (None, 0) or la == lb:
            continue
        longer = 1 if la > lb else 2
        rows = [(j.verdict == longer, ex.label == longer) for j in by_uid.get(ex.uid, []) if j.verdict in (1, 2)]
        if rows:
            per_example.append(rows)

    def stat(idx: Sequence[int]) -> dict[str, float | None]:
        rows = [r for i in idx for r in per_example[i]]
        judge = sum(j for j, _ in rows) / len(rows)
        gold = sum(g for _, g in rows) / len(rows)
        return {"value": 100 * (judge - gold), "judge_longer": 100 * judge, "gold_longer": 100 * gold}

    if not per_example:
        return {"n": 0}
    draws = bootstrap_draws(stat, len(per_example), resamples, seed)
    return (
        stat(range(len(per_example)))
        | {"n": sum(map(len, per_example))}
        | {"ci95": percentile_ci(draws["value"]) if draws else None, "draws": draws.get("value")}
    )
