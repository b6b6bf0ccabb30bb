"""judge compare end to end on Ray: a tiny Llama answers MT-Bench questions (two turns, the second
seeing its own first answer), a rule judge compares and scores them; FastChat's aggregation, the
reported gaps and the resume are checked against values computed here from the stored answers."""

import json
from collections import Counter

import pytest

from judge_core.compare import answer_record, load_questions, read_answers
from ray_jobs.compare import CompareConfig, collect_answers, plan_cells, run_compare


@pytest.fixture(scope="module")
def tiny_llama_dir(tmp_path_factory):
    from ray_jobs.tiny_models import tiny_llama

    return str(tiny_llama(tmp_path_factory.mktemp("tiny") / "llama"))


def _length(a):
    return len(a) if isinstance(a, str) else sum(map(len, a))


def _upto(turns, turn):
    return turns[0] if turn == 1 else turns[:turn]


def _fake_score(answer):  # the fake engine's pointwise rule
    return min(10, 1 + len(str(answer).split()) // 10)


def test_missing_or_short_answers_are_reported_and_not_judged(tmp_path):
    files = {"a": {"81": ["x", "y"], "82": ["only one"]}, "b": {q: ["u", "v"] for q in ("81", "82", "83")}}
    for name, rows in files.items():
        (tmp_path / f"{name}.jsonl").write_text(
            "".join(json.dumps(answer_record(q, name, t)) + "\n" for q, t in rows.items())
        )
    cfg = CompareConfig(
        name="x",
        output_dir=str(tmp_path),
        limit=3,
        baseline="b",
        judge={"name": "f", "engine": "fake"},
        models=[{"name": n, "answers": str(tmp_path / f"{n}.jsonl")} for n in files],
    )
    questions = load_questions("mt-bench")[:3]
    answers, problems = collect_answers(cfg, questions, 2)
    assert problems == {"a": {"82": "1 of 2 turns answered", "83": "no answer in the file"}, "b": {}}
    assert [[e.meta["question_id"] for e in c.examples] for c in plan_cells(cfg, questions, answers, [1, 2])] == [
        ["81"],
        ["81"],
    ]
    answers, problems = collect_answers(cfg, questions, 1)  # judging turn 1 only: one turn is enough
    assert problems["a"] == {"83": "no answer in the file"} and sorted(answers["a"]) == ["81", "82"]
    with pytest.raises(ValueError, match="exactly one of answers"):
        CompareConfig(name="x", baseline="b", judge={"name": "f", "engine": "fake"}, models=[{"name": "b"}])


@pytest.mark.slow
def test_compare_generates_judges_aggregates_and_resumes(tmp_path, ray_local, tiny_llama_dir):
    base_file = tmp_path / "base.jsonl"
    base_turns = {"81": ["word " * 12, "w " * 40], "82": ["short", "x"], "83": ["y " * 200, "z " * 3]}  # no 84
    base_file.write_text("".join(json.dumps(answer_record(q, "base", t)) + "\n" for q, t in base_turns.items()))
    starts = tmp_path / "starts.txt"
    gen = {
        "name": "tiny",
        "engine": "hf",
        "model": tiny_llama_dir,
        "batch_size": 4,
        "options": {"max_new_tokens": 12, "max_model_len": 1024},
    }
    cfg = CompareConfig(
        name="c",
        output_dir=str(tmp_path),
        questions="mt-bench",
        limit=4,
        baseline="base",
        models=[{"name": "base", "answers": str(base_file)}, {"name": "tiny", "generator": gen}],
        judge={"name": "fake", "engine": "fake", "mode": "label", "options": {"starts_file": str(starts)}},
        pointwise=True,
        bootstrap=50,
    )
    summary = run_compare(cfg)

    tiny = read_answers(tmp_path / "c" / "answers" / "tiny.jsonl")
    assert sorted(tiny) == ["81", "82", "83", "84"] and all(len(t) == 2 and all(t) for t in tiny.values())
    assert summary["problems"] == {"base": {"84": "no answer in the file"}, "tiny": {}}

    expected = Counter()
    for q in base_turns:
        for turn in (1, 2):
            a, b = _length(_upto(tiny[q], turn)), _length(_upto(base_turns[q], turn))
            expected["win" if a > b else "loss" if b > a else "tie"] += 1
    got = summary["pairwise"]["tiny vs base"]["all"]
    assert (got["win"], got["tie"], got["loss"], got["n"], got["conflicts"]) == (
        expected["win"],
        expected["tie"],
        expected["loss"],
        6,
        0,
    )
    assert got["win_rate_adjusted"] == pytest.approx((expected["win"] + 0.5 * expected["tie"]) / 6)
    assert summary["bradley_terry"]["base"]["rating"] == pytest.approx(1000)
    lc = got["length_controlled"]  # AlpacaEval's GLM over the pair's 6 judged turns (judge_core.style)
    assert lc["n"] == 6 and lc["win_rate"] == pytest.approx(got["win_rate_adjusted"]) and lc["resamples"] == 50
    assert summary["style_controlled"]["base"]["rating"] == pytest.approx(1000)  # Arena-Hard's style control
    assert set(summary["style_controlled"]["style_coef"]) == {"length", "header_count", "list_count", "bold_count"}
    assert summary["separability"]["tied_for_first"][0] in ("tiny", "base")

    tiny_scores = [_fake_score(_upto(tiny[q], t)) for q in base_turns for t in (1, 2)]
    base_scores = [_fake_score(_upto(base_turns[q], t)) for q in base_turns for t in (1, 2)]
    ratio = summary["score_ratio"]["tiny"]
    assert ratio["n"] == 6 and ratio["dropped"] == 2  # question 84's two turns: tiny only
    assert ratio["ratio"] == pytest.approx(100 * sum(tiny_scores) / sum(base_scores))
    assert summary["pointwise"]["tiny"]["n"] == 8 and summary["pointwise"]["base"]["n"] == 6
    report = (tmp_path / "c" / "report.md").read_text()
    assert "| tiny vs base | all | 6 |" in report and "84" in report
    assert "length-controlled % [95% CI]" in report and "style-controlled [95% CI]" in report
    assert "tied for first" in report or "Best model:" in report
    assert starts.read_text().count("fake") == 1  # one engine for every cell of the judge

    logs = []
    again = run_compare(cfg, log=logs.append)
    assert "[skip] answers of tiny: generated with the same config" in logs
    assert sum(line.startswith("[skip] fake/") for line in logs) == len(summary["cells"]) == 6
    assert starts.read_text().count("fake") == 1 and again["pairwise"] == summary["pairwise"]

    # killed mid-generation: the partial file holds two questions; a re-run answers only the other two
    partial = tmp_path / "c" / "answers" / "tiny.partial.json"
    state = json.loads(partial.read_text())
    kept = {q: state["answers"][q] for q in ("81", "82")}
    partial.write_text(json.dumps(state | {"answers": kept, "done": False}))
    (tmp_path / "c" / "answers" / "tiny.jsonl").unlink()
    logs = []
    run_compare(cfg, log=logs.append)
    assert "[answers] tiny: 2 of 4 questions to answer, 2 turn(s)" in logs
    again = read_answers(tmp_path / "c" / "answers" / "tiny.jsonl")
    assert sorted(again) == ["81", "82", "83", "84"] and {q: again[q] for q in kept} == kept


def test_answer_actor_answers_turn_by_turn_and_keeps_failures():
    import pyarrow as pa

    from ray_jobs.compare import ANSWERS, AnswerActor

    class Echo:  # an engine stub: answers with the last user turn, fails on "POISON"
        def answer(self, conversations):
            return [
                {"error": "too long"} if "POISON" in c[-1]["content"] else {"raw": f"re {c[-1]['content']} ({len(c)})"}
                for c in conversations
            ]

    actor = object.__new__(AnswerActor)
    actor.engine, actor.turns = Echo(), 2
    qs = load_questions("mt-bench")[:2]
    bad = qs[1].model_copy(update={"turns": [qs[1].turns[0], "POISON"]})
    rows = [{"question_id": q.question_id, "question": q.model_dump_json(), "answers": "[]"} for q in (qs[0], bad)]
    out = actor(pa.Table.from_pylist(rows)).to_pylist()
    assert (
        json.loads(out[0]["answers"]) == [f"re {qs[0].turns[0]} (1)", f"re {qs[0].turns[1]} (3)"]
        and out[0]["error"] is None
    )
    assert json.loads(out[1]["answers"]) == [f"re {bad.turns[0]} (1)"] and out[1]["error"] == "turn 2: too long"
    assert actor(pa.Table.from_pylist(rows[:1])).schema == ANSWERS  # no error at all: still a string column
