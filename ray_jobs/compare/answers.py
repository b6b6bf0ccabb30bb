"""The candidates' answers: read from FastChat files, or generated turn by turn on Ray Data, generators
side by side as the cluster allows; resumable.

    answers, problems = collect_answers(cfg, questions, turns=2)

A generator answers every turn of its questions inside one actor pool (turn k sees the model's own
earlier answers), so its model loads once. Each arriving batch is saved to
answers/<model>.partial.json, so a killed run resumes with the questions not yet answered; the
complete set is written as answers/<model>.jsonl in FastChat's model_answer format.
"""

from __future__ import annotations

import functools
import hashlib
import json

import pyarrow as pa

from judge_core.compare import Question, conversation, read_answers, write_answers

from ..batch.schedule import Job, side_by_side
from ..batch.stages import engine_stage, rows_dataset
from ..engines.base import build_engine
from ..ray_lifecycle import joined
from ..spec import JudgeSpec, preflight
from ..store import write_json
from .config import CompareConfig, ModelSpec

# fixed column types: a batch without any error must not come out as a null-typed column
ANSWERS = pa.schema([("question_id", pa.string()), ("answers", pa.string()), ("error", pa.string())])


class AnswerActor:
    """One engine per actor for the life of the pipeline. A batch of questions is answered turn by
    turn inside the actor (turn k needs the model's own answer to turn k-1), so the model loads once
    per generator, not once per turn."""

    def __init__(self, spec: dict, turns: int):
        self.engine, self.turns = build_engine(spec), turns

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = [
            {
                "question": Question.model_validate_json(r["question"]),
                "answers": json.loads(r["answers"]),
                "error": None,
            }
            for r in batch.to_pylist()
        ]
        for turn in range(1, self.turns + 1):
            self._answer_turn(
                [
                    r
                    for r in rows
                    if r["error"] is None and turn <= len(r["question"].turns) and len(r["answers"]) == turn - 1
                ],
                turn,
            )
        return pa.Table.from_pylist(
            [
                {"question_id": r["question"].question_id, "answers": json.dumps(r["answers"]), "error": r["error"]}
                for r in rows
            ],
            schema=ANSWERS,
        )

    def _answer_turn(self, todo: list[dict], turn: int) -> None:
        outs = self.engine.answer([conversation(r["question"], r["answers"], turn) for r in todo]) if todo else []
        for r, out in zip(todo, outs):
            if out.get("error") is not None:
                r["error"] = f"turn {turn}: {out['error']}"
            else:
                r["answers"].append(out["raw"])


def answer_dataset(spec: JudgeSpec, rows: list[dict], turns: int):
    """Rows {question_id, question (JSON), answers so far (JSON)} -> rows {question_id, answers, error}."""
    return rows_dataset(rows, spec.batch_size).map_batches(AnswerActor, **engine_stage(spec, turns=turns))


def _answers_hash(model: ModelSpec, questions: list[Question], turns: int) -> str:
    data = {
        "generator": model.generator.judging_config(),
        "questions": [q.model_dump() for q in questions],
        "turns": turns,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def generate_answers(cfg: CompareConfig, model: ModelSpec, questions: list[Question], turns: int, log=print) -> dict:
    """{"answers": {question_id: turns}, "errors": {question_id: why}, ...} for a generator model. A
    conversation that fails is recorded with its reason and left out of judging, never dropped silently."""
    out = cfg.results_dir / "answers"
    out.mkdir(parents=True, exist_ok=True)
    final, partial = out / f"{model.name}.jsonl", out / f"{model.name}.partial.json"
    key = _answers_hash(model, questions, turns)
    state = json.loads(partial.read_text()) if partial.exists() else {}
    if state.get("hash") != key:
        state = {"hash": key, "answers": {}, "errors": {}}
    if final.exists() and state.get("done"):
        log(f"[skip] answers of {model.name}: generated with the same config")
        return state
    todo = [
        q
        for q in questions
        if q.question_id not in state["errors"]
        and len(state["answers"].get(q.question_id, [])) < min(turns, len(q.turns))
    ]
    log(f"[answers] {model.name}: {len(todo)} of {len(questions)} questions to answer, {turns} turn(s)")
    _generate(model, todo, turns, state, partial)
    write_answers(
        final,
        model.name,
        {
            q.question_id: state["answers"][q.question_id]
            for q in questions
            if q.question_id in state["answers"] and q.question_id not in state["errors"]
        },
    )
    write_json(partial, state | {"done": True})
    return state | {"done": True}


def _generate(model: ModelSpec, todo: list[Question], turns: int, state: dict, partial) -> None:
    """Answer `todo` on one Ray Data pipeline, saving the state after every arriving batch."""
    if not todo:
        return
    rows = [
        {
            "question_id": q.question_id,
            "question": q.model_dump_json(),
            "answers": json.dumps(state["answers"].get(q.question_id, [])),
        }
        for q in todo
    ]
    spec = model.generator.model_copy(update={"name": model.name})
    preflight(spec)  # a models/NAME generator is pulled here, once
    for batch in answer_dataset(spec, rows, turns).iter_batches(batch_size=spec.batch_size, batch_format="pyarrow"):
        for r in batch.to_pylist():
            state["answers"][r["question_id"]] = json.loads(r["answers"])
            if r["error"] is not None:
                state["errors"][r["question_id"]] = r["error"]
        write_json(partial, state)


def generate_all(cfg: CompareConfig, questions: list[Question], turns: int, log=print) -> dict:
    """{model: generate_answers' state} for every model with a generator, side by side as the cluster's
    resources allow (each generator is independent; batch/schedule.py). A generator that fails raises
    once the others have ended: what every generator answered is saved, and a re-run resumes."""
    jobs = [
        Job(
            m.name,
            m.generator.actor_bundles,
            m.generator.pool[0],
            functools.partial(generate_answers, cfg, m, questions, turns, log),
        )
        for m in cfg.models
        if m.answers is None
    ]
    states = side_by_side(jobs, joined=joined())
    for name, state in states.items():
        if isinstance(state, Exception):
            raise RuntimeError(f"answers of {name}: {type(state).__name__}: {state}") from state
    return states


def collect_answers(cfg: CompareConfig, questions: list[Question], turns: int, log=print) -> tuple[dict, dict]:
    """({model: {question_id: turns}}, {model: {question_id: why it is left out}}): only questions a
    model answered for every turn to be judged go to the judge; the others are reported."""
    answers, problems = {}, {}
    generated = generate_all(cfg, questions, turns, log)
    for m in cfg.models:
        if m.answers is not None:
            got, errors = read_answers(m.answers), {}
        else:
            got, errors = generated[m.name]["answers"], dict(generated[m.name]["errors"])
        for q in questions:
            need = min(turns, len(q.turns))
            if q.question_id not in errors and len(got.get(q.question_id, [])) < need:
                errors[q.question_id] = (
                    f"{len(got[q.question_id])} of {need} turns answered"
                    if q.question_id in got
                    else "no answer in the file"
                )
        answers[m.name] = {q: a for q, a in got.items() if q not in errors}
        problems[m.name] = errors
    return answers, problems
