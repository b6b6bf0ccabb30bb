"""judge_core.compare: questions, answers, FastChat's pairwise rule, Bradley-Terry, score ratios
(hand-computed values)."""

import json
import math

import pytest

from judge_core.compare import (
    answer_record,
    bradley_terry,
    bradley_terry_ci,
    conversation,
    load_questions,
    mean_scores,
    pair_examples,
    pair_outcome,
    point_examples,
    read_answers,
    score_ratio,
    win_rates,
    win_rates_ci,
)
from judge_core.data._io import BadRecordError


def test_mt_bench_questions_carry_gpt4_references_for_math_reasoning_coding():
    qs = load_questions("mt-bench")
    assert len(qs) == 80 and all(len(q.turns) == 2 for q in qs)
    with_ref = [q for q in qs if q.reference]
    assert len(with_ref) == 30 and {q.category for q in with_ref} == {"math", "reasoning", "coding"}
    q101 = next(q for q in qs if q.question_id == "101")
    assert q101.reference[0].startswith("If you have just overtaken the second person")  # GPT-4's, not the field


def test_alignbench_questions_are_one_turn_with_reference():
    qs = load_questions("alignbench")
    assert len(qs) == 683 and qs[0].turns == [qs[0].turns[0]] and qs[0].reference and qs[0].category == "专业能力"


def test_answers_round_trip_and_bad_rows_name_file_and_line(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(answer_record("81", "m", ["x", "y"])) + "\n" + '{"question_id": 82, "choices": []}\n')
    with pytest.raises(BadRecordError, match=r"a.jsonl, line 2"):
        read_answers(path)
    path.write_text(json.dumps(answer_record("81", "m", ["x", "y"])) + "\n")
    assert read_answers(path) == {"81": ["x", "y"]}


def test_examples_per_turn_and_references():
    qs = load_questions("mt-bench")[:2] + [q for q in load_questions("mt-bench") if q.question_id == "111"]
    a = {q.question_id: [f"a{q.question_id}-1", f"a{q.question_id}-2"] for q in qs}
    b = {q.question_id: ["b1", "b2"] for q in qs[1:]}  # b did not answer the first question
    t1 = pair_examples(qs, a, b, "a", "b", 1)
    assert [e.meta["question_id"] for e in t1] == ["82", "111"] and t1[0].answer1 == "a82-1" and t1[0].reference is None
    t2 = pair_examples(qs, a, b, "a", "b", 2)
    assert t2[1].question == qs[2].turns and t2[1].answer2 == ["b1", "b2"] and len(t2[1].reference) == 2
    assert t2[0].uid == "compare/t2.a.vs.b/1"
    p = point_examples(qs, a, "a", 1)
    assert len(p) == 3 and p[2].reference == qs[2].reference[0]


def test_fastchat_pair_rule_and_win_rates():
    pairs = [(1, 1), (1, 1), (2, 2), (0, 0), (1, 2), (0, 1), (None, 1)]
    outcomes = [pair_outcome(g1, g2) for g1, g2 in pairs]
    assert outcomes == ["win", "win", "loss", "tie", "conflict", "conflict", "error"]
    r = win_rates(outcomes)
    assert (r["n"], r["win"], r["tie"], r["loss"], r["conflicts"], r["errors"]) == (6, 2, 3, 1, 2, 1)
    assert r["win_rate"] == pytest.approx(2 / 6) and r["loss_rate"] == pytest.approx(1 / 6)
    assert r["win_rate_adjusted"] == pytest.approx((2 + 1.5) / 6)
    ci = win_rates_ci(outcomes, resamples=200)["ci95"]["win_rate"]
    assert 0 <= ci[0] <= 2 / 6 <= ci[1] <= 1


def test_bradley_terry_two_and_three_models_match_closed_form():
    battles = [("a", "base", "win")] * 6 + [("a", "base", "loss")] * 2 + [("a", "base", "tie")] * 2
    battles += [("c", "base", "win")] * 3 + [("c", "base", "loss")] * 7
    r = bradley_terry(battles, anchor="base")
    assert r["base"] == 1000
    assert r["a"] == pytest.approx(1000 + 400 * math.log10(0.7 / 0.3), abs=0.01)  # ties are half a win
    assert r["c"] == pytest.approx(1000 - 400 * math.log10(0.7 / 0.3), abs=0.01)
    with_q = [(str(i % 10), *b) for i, b in enumerate(battles)]
    ci = bradley_terry_ci(with_q, "base", resamples=100)
    assert ci["a"]["ci95"][0] < r["a"] < ci["a"]["ci95"][1] and ci["base"]["ci95"] == pytest.approx((1000, 1000))
    assert bradley_terry_ci(with_q, "base", resamples=100) == ci  # seeded


def test_score_ratio_pairs_questions_and_mean_scores():
    r = score_ratio({"1": 8.0, "2": 6.0, "3": None}, {"1": 5.0, "2": 5.0, "3": 4.0, "4": 2.0}, resamples=100)
    assert (r["n"], r["dropped"], r["ratio"]) == (2, 2, pytest.approx(140.0))
    assert r["candidate_mean"] == 7.0 and r["baseline_mean"] == 5.0
    assert r["ci95"][0] <= 140 <= r["ci95"][1]
    m = mean_scores([("math", 1, 4.0), ("math", 2, 2.0), ("writing", 1, 9.0), ("writing", 2, None)], resamples=50)
    assert (m["n"], m["failures"], m["mean"]) == (3, 1, 5.0)
    assert m["turns"] == {"1": 6.5, "2": 2.0} and m["categories"] == {"math": 3.0, "writing": 9.0}


def test_turn_two_conversation_carries_the_models_own_first_answer():
    q = load_questions("mt-bench")[0]
    assert conversation(q, [], 1) == [{"role": "user", "content": q.turns[0]}]
    assert conversation(q, ["mine"], 2) == [
        {"role": "user", "content": q.turns[0]},
        {"role": "assistant", "content": "mine"},
        {"role": "user", "content": q.turns[1]},
    ]
