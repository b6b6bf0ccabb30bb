"""Compare candidate models with a judge: questions, answers, and the numbers MT-Bench reports.

    qs = load_questions("mt-bench")                          # 80 questions, GPT-4 references for math/reasoning/coding
    answers = read_answers("answers/vicuna.jsonl")           # FastChat model_answer format
    exs = pair_examples(qs, answers, base_answers, "vicuna", "gpt-3.5", turn=1)
    outcome = pair_outcome(ab_verdict, ba_verdict)           # FastChat's rule: win / loss / tie
    win_rates([...]); bradley_terry(battles, anchor="gpt-3.5"); score_ratio(cand, base)

Pure Python (numpy, scipy, scikit-learn inside functions); the Ray side is ray_jobs/compare.py.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from pydantic import BaseModel, ConfigDict, Field

from .data._io import BadRecordError, DataRoot, data_root, read_jsonl
from .metrics import bootstrap_ci, bootstrap_draws, percentile_ci, undefined_on_error
from .schema import PairExample, PointExample, Text

NEED_REF = ("math", "reasoning", "coding", "arena-hard-200")  # FastChat's NEED_REF_CATS
MT_BENCH = "mt_bench/fastchat"


class Question(BaseModel):
    """One question of a compare run: its turns, and a reference answer per turn when the judge needs one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    question_id: str
    category: str = ""
    turns: list[str] = Field(min_length=1)
    reference: list[str] | None = None


# ---- questions and answers -------------------------------------------------------------------------
def load_questions(source: str, root: DataRoot = None) -> list[Question]:
    """'mt-bench' (FastChat's 80, GPT-4 references for math/reasoning/coding as FastChat judges them),
    'alignbench' (683, one turn, every question with its reference), or a JSONL path whose rows have
    question_id, turns (or question), and optionally category and reference."""
    if source == "mt-bench":
        base = data_root(root) / MT_BENCH
        refs = {str(qid): turns for qid, turns in read_answers(base / "reference_answer" / "gpt-4.jsonl").items()}
        return [
            q.model_copy(update={"reference": refs.get(q.question_id) if q.category in NEED_REF else None})
            for q in _read_questions(base / "question.jsonl", keep_reference=False)
        ]
    if source == "alignbench":
        return _read_questions(data_root(root) / "alignbench" / "data_v1.1_release.jsonl", keep_reference=True)
    return _read_questions(Path(source), keep_reference=True)


def _read_questions(path: Path, keep_reference: bool) -> list[Question]:
    out, seen = [], set()
    for (line, *_), rec in read_jsonl(path):  # At: line, index, unit
        if isinstance(rec, BadRecordError):
            raise rec
        try:
            turns = rec["turns"] if "turns" in rec else [rec["question"]]
            ref = rec.get("reference") if keep_reference else None
            q = Question(
                question_id=str(rec["question_id"]),
                category=str(rec.get("category", "")),
                turns=turns,
                reference=[ref] if isinstance(ref, str) else ref,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadRecordError(path, line, None, f"not a question: {exc}") from exc
        if q.question_id in seen:
            raise BadRecordError(path, line, "question_id", f"duplicate question_id {q.question_id}")
        seen.add(q.question_id)
        out.append(q)
    return out


def read_answers(path: str | Path) -> dict[str, list[str]]:
    """{question_id: turns} from FastChat's model_answer JSONL ({question_id, model_id, choices: [{turns}]})."""
    out = {}
    for (line, *_), rec in read_jsonl(Path(path)):
        if isinstance(rec, BadRecordError):
            raise rec
        try:
            turns = rec["choices"][0]["turns"]
            if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
                raise TypeError("choices[0].turns must be a list of strings")
        except (KeyError, IndexError, TypeError) as exc:
            raise BadRecordError(path, line, "choices", f"not an answer record: {exc}") from exc
        out[str(rec.get("question_id"))] = turns
    return out


def answer_record(question_id: str, model: str, turns: list[str]) -> dict:
    """One line of FastChat's model_answer format."""
    qid = int(question_id) if question_id.isdigit() else question_id
    return {"question_id": qid, "model_id": model, "choices": [{"index": 0, "turns": turns}]}


def write_answers(path: Path, model: str, answers: dict[str, list[str]]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        "".join(json.dumps(answer_record(q, model, t), ensure_ascii=False) + "\n" for q, t in answers.items())
    )
    tmp.replace(path)


def conversation(question: Question, answers: list[str], turn: int) -> list[dict]:
    """Chat messages that ask turn `turn` (1-based), earlier turns answered by `answers`."""
    messages = []
    for k in range(turn - 1):
        messages += [{"role": "user", "content": question.turns[k]}, {"role": "assistant", "content": answers[k]}]
    return messages + [{"role": "user", "content": question.turns[turn - 1]}]


# ---- examples for the judge ------------------------------------------------------------------------
def _upto(question: Question, turn: int) -> tuple[Text, Text | None]:
    """(question, reference) as the judge sees them at `turn`: a string for turn 1, the turns so far after."""
    q = question.turns[0] if turn == 1 else question.turns[:turn]
    ref: Text | None = question.reference
    if ref is not None:
        ref = ref[0] if turn == 1 else (ref[:turn] if len(ref) >= turn else None)
    return q, ref


def _upto_answer(turns: list[str], turn: int) -> Text:
    return turns[0] if turn == 1 else turns[:turn]


def pair_examples(
    questions: list[Question], answers1: dict, answers2: dict, model1: str, model2: str, turn: int
) -> list[PairExample]:
    """answer1 = model1's, answer2 = model2's, for every question both answered up to `turn`."""
    out = []
    for i, q in enumerate(questions):
        if turn > len(q.turns) or q.question_id not in answers1 or q.question_id not in answers2:
            continue
        text, ref = _upto(q, turn)
        out.append(
            PairExample(
                benchmark="compare",
                subset=f"t{turn}.{model1}.vs.{model2}",
                index=i,
                question=text,
                reference=ref,
                answer1=_upto_answer(answers1[q.question_id], turn),
                answer2=_upto_answer(answers2[q.question_id], turn),
                meta={
                    "question_id": q.question_id,
                    "category": q.category,
                    "turn": turn,
                    "model1": model1,
                    "model2": model2,
                },
            )
        )
    return out


def point_examples(questions: list[Question], answers: dict, model: str, turn: int) -> list[PointExample]:
    out = []
    for i, q in enumerate(questions):
        if turn > len(q.turns) or q.question_id not in answers:
            continue
        text, ref = _upto(q, turn)
        out.append(
            PointExample(
                benchmark="compare",
                subset=f"t{turn}.{model}",
                index=i,
                question=text,
                reference=ref,
                answer=_upto_answer(answers[q.question_id], turn),
                meta={"question_id": q.question_id, "category": q.category, "turn": turn, "model": model},
            )
        )
    return out


# ---- pairwise: FastChat's rule, win rates, Bradley-Terry ---------------------------------------------
def pair_outcome(g1: int | None, g2: int | None) -> str:
    """One question judged in both orders (verdicts in the original frame, 1 = model1 better):
    FastChat show_result.py: an error in either order drops the question; a tie in the first order or
    two orders that disagree count as a tie ('conflict' when they disagree, reported apart);
    else the agreed winner."""
    if g1 is None or g2 is None:
        return "error"
    if g1 != g2:
        return "conflict"
    return {1: "win", 2: "loss", 0: "tie"}[g1]


def win_rates(outcomes: list[str]) -> dict:
    """win / tie / loss counts and rates for model1 (conflicts count as ties, errors are left out and counted)."""
    c = Counter(outcomes)
    n = c["win"] + c["loss"] + c["tie"] + c["conflict"]
    ties = c["tie"] + c["conflict"]
    rate = (lambda k: k / n) if n else (lambda k: math.nan)
    return {
        "n": n,
        "win": c["win"],
        "tie": ties,
        "loss": c["loss"],
        "conflicts": c["conflict"],
        "errors": c["error"],
        "win_rate": rate(c["win"]),
        "tie_rate": rate(ties),
        "loss_rate": rate(c["loss"]),
        "win_rate_adjusted": rate(c["win"] + 0.5 * ties),
    }


def win_rates_ci(outcomes: list[str], resamples: int = 1000, seed: int = 0) -> dict:
    def stat(idx: list[int]) -> dict[str, float]:
        r = win_rates([outcomes[i] for i in idx])
        return {k: r[k] for k in ("win_rate", "tie_rate", "loss_rate", "win_rate_adjusted")}

    return win_rates(outcomes) | {"ci95": bootstrap_ci(stat, len(outcomes), resamples, seed)}


SCALE, BASE, INIT = 400.0, 10.0, 1000.0  # Chatbot Arena's Elo scale


def bradley_terry(battles: list[tuple[str, str, str]], anchor: str) -> dict[str, float]:
    """Bradley-Terry ratings on the Elo scale, `anchor` at 1000, from (model1, model2, outcome) battles.
    As Chatbot Arena's compute_mle_elo: logistic regression without intercept, a tie = half a win for
    each side. A very weak L2 prior (C = 1e6) keeps a model that never lost finite; with any loss or tie
    it changes the ratings by far less than 0.01."""
    import numpy as np  # heavy: out of judge_core's import (`judge score` stays light)
    from sklearn.linear_model import LogisticRegression  # heavy: out of judge_core's import (`judge score` stays light)

    scored = [b for b in battles if b[2] in ("win", "loss", "tie", "conflict")]
    models = sorted({m for a, b, _ in scored for m in (a, b)} | {anchor})
    col = {m: i for i, m in enumerate(models)}
    X, y, w = [], [], []
    for a, b, outcome in scored:
        row = np.zeros(len(models))
        row[col[a]], row[col[b]] = math.log(BASE), -math.log(BASE)
        p_a = cast(float, preference(outcome))  # `scored` holds no errors
        for label, weight in ((1, p_a), (0, 1 - p_a)):
            if weight:
                X.append(row)
                y.append(label)
                w.append(weight)
    if len(set(y)) < 2:
        raise ValueError("Bradley-Terry needs battles with both outcomes (or ties)")
    lr = LogisticRegression(fit_intercept=False, C=1e6, tol=1e-10, max_iter=10000)
    lr.fit(np.array(X), np.array(y), sample_weight=np.array(w))
    ratings = SCALE * lr.coef_[0]
    return {m: float(INIT + ratings[col[m]] - ratings[col[anchor]]) for m in models}


def bradley_terry_ci(
    battles: list[tuple[str, str, str, str]], anchor: str, resamples: int = 1000, seed: int = 0
) -> dict[str, dict]:
    """{model: {rating, ci95}}; battles are (question_id, model1, model2, outcome) and the bootstrap
    resamples questions (all battles of a question move together)."""
    plain = [(a, b, outcome) for _, a, b, outcome in battles]
    groups = question_groups(battles)
    point = bradley_terry([plain[i] for g in groups for i in g], anchor)

    def fit(idx: list[int]) -> dict[str, float]:
        return bradley_terry([plain[i] for g in idx for i in groups[g]], anchor)

    # a resample with one outcome only carries no rating information: undefined
    draws = bootstrap_draws(undefined_on_error(fit), len(groups), resamples, seed)
    return {m: {"rating": r, "ci95": percentile_ci(draws.get(m, [])), "draws": draws.get(m)} for m, r in point.items()}


def question_groups(battles: Sequence[tuple]) -> list[list[int]]:
    """The battles' indices grouped by question (a battle's first field): what a bootstrap over
    questions resamples, so all battles of a question move together."""
    by_q: dict[str, list[int]] = {}
    for i, battle in enumerate(battles):
        by_q.setdefault(battle[0], []).append(i)
    return list(by_q.values())


def preference(outcome: str) -> float | None:
    """Model1's preference in a pair's outcome: win 1, loss 0, a tie or a conflict 0.5, an error None."""
    return {"win": 1.0, "loss": 0.0, "tie": 0.5, "conflict": 0.5}.get(outcome)


# ---- pointwise: mean scores and the score as a share of the baseline's ------------------------------
def score_ratio(
    candidate: dict[str, float | None], baseline: dict[str, float | None], resamples: int = 1000, seed: int = 0
) -> dict:
    """Candidate's mean score as a percentage of the baseline's over the questions both got a score
    for (a failed score drops that question from both, counted), with a paired bootstrap CI."""
    keys = [k for k in candidate if k in baseline and candidate[k] is not None and baseline[k] is not None]
    # keys holds the questions both got a score for
    c, b = cast(list[float], [candidate[k] for k in keys]), cast(list[float], [baseline[k] for k in keys])

    def stat(idx: Sequence[int]) -> dict[str, float]:
        sb = sum(b[i] for i in idx)
        return {"ratio": 100 * sum(c[i] for i in idx) / sb if sb else math.nan}

    unpaired = len(set(candidate) | set(baseline)) - len(keys)
    return {
        "n": len(keys),
        "dropped": unpaired,
        "candidate_mean": sum(c) / len(c) if c else math.nan,
        "baseline_mean": sum(b) / len(b) if b else math.nan,
        "ratio": stat(range(len(keys)))["ratio"] if keys else math.nan,
        "ci95": bootstrap_ci(stat, len(keys), resamples, seed).get("ratio"),
    }


def mean_scores(scores: list[tuple[str, int, float | None]], resamples: int = 1000, seed: int = 0) -> dict:
    """FastChat single mode from (category, turn, score or None): mean per turn, overall (over every
    scored turn) with a CI, per category; failures (None) are left out and counted."""
    ok = [(c, t, s) for c, t, s in scores if s is not None]

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs) if xs else math.nan

    values = [s for _, _, s in ok]
    ci = bootstrap_ci(lambda idx: {"mean": mean([values[i] for i in idx])}, len(values), resamples, seed)
    return {
        "n": len(ok),
        "failures": len(scores) - len(ok),
        "mean": mean(values),
        "ci95": ci.get("mean"),
        "turns": {str(t): mean([s for _, tt, s in ok if tt == t]) for t in sorted({t for _, t, _ in ok})},
        "categories": {c: mean([s for cc, _, s in ok if cc == c]) for c in sorted({c for c, _, _ in ok})},
    }
