"""Compare candidate models against a baseline with one judge (MT-Bench's pairwise-baseline and
single modes); answers read from files or generated on Ray Data; resumable; Markdown + HTML report.

    judge compare configs/compare/mtbench-cpu.yaml
    judge compare configs/compare/mtbench-cpu.yaml limit=5 name=try

Results under <output_dir>/<name>/: answers/ (compare/answers.py), the judge's cells as in a sweep
(<judge>/<template>/compare-<subset>/, judged by batch.run_cells: one pipeline, resumable),
compare.json, report.md/html. A re-run skips answers already generated and judgments already stored.
"""

from __future__ import annotations

import json

from judge_core.compare import (
    Question,
    bradley_terry_ci,
    load_questions,
    mean_scores,
    pair_examples,
    pair_outcome,
    point_examples,
    preference,
    score_ratio,
    win_rates_ci,
)
from judge_core.schema import PairExample
from judge_core.separability import leaders, separability
from judge_core.style import length_controlled_winrate, style_controlled_bt_ci, style_features

from .. import console
from ..batch.cells import run_cells
from ..locations import results_location, staged
from ..ray_lifecycle import ensure_ray
from ..report import write_compare_report
from ..store import Cell, locked, read_judgments, write_json
from .answers import collect_answers
from .config import CompareConfig


def _pairs(cfg: CompareConfig) -> list[tuple[str, str]]:
    names = [m.name for m in cfg.models]
    others = [n for n in names if n != cfg.baseline]
    pairs = [(n, cfg.baseline) for n in others]
    if cfg.pairing == "all":
        pairs += [(a, b) for i, a in enumerate(others) for b in others[i + 1 :]]
    return pairs


def plan_cells(cfg: CompareConfig, questions: list[Question], answers: dict, turns: list[int]) -> list[Cell]:
    """The judge's cells: one per (pair, turn) both orders, and one per (model, turn) pointwise."""
    cells = []
    for turn in turns:
        if cfg.pairwise:
            for a, b in _pairs(cfg):
                exs = pair_examples(questions, answers[a], answers[b], a, b, turn)
                if exs:
                    cells.append(
                        Cell(
                            cfg.judge,
                            cfg.pair_template if cfg.judge.prompted else None,
                            "compare",
                            exs[0].subset,
                            ("ab", "ba"),
                            root=cfg.root,
                            examples=exs,
                        )
                    )
        if cfg.pointwise:
            for m in cfg.models:
                exs = point_examples(questions, answers[m.name], m.name, turn)
                if exs:
                    cells.append(
                        Cell(
                            cfg.judge,
                            cfg.point_template,
                            "compare",
                            exs[0].subset,
                            ("ab",),
                            root=cfg.root,
                            examples=exs,
                        )
                    )
    return cells


def _outcomes(cfg: CompareConfig, cells: list[Cell]) -> tuple[list, dict, dict]:
    """(battles, {pair: [(turn, outcome, answer1, answer2)]}, {model: {(question, turn): (category, score)}})
    from the judge's stored judgments (FastChat's rule for the two orders of a pair); a battle is
    (question, model1, model2, outcome, (model1's, model2's) style_features)."""
    battles, per_pair, scores = [], {}, {}
    for cell in cells:
        got = {(j.uid, j.order): j for j in read_judgments(cfg.results_dir / cell.key)}
        for ex in cell.examples:
            m = ex.meta
            if isinstance(ex, PairExample):
                outcome = pair_outcome(got[(ex.uid, "ab")].verdict, got[(ex.uid, "ba")].verdict)
                per_pair.setdefault(f"{m['model1']} vs {m['model2']}", []).append(
                    (m["turn"], outcome, ex.answer1, ex.answer2)
                )
                styles = (style_features(ex.answer1), style_features(ex.answer2))
                battles.append((m["question_id"], m["model1"], m["model2"], outcome, styles))
            else:
                j = got[(ex.uid, "ab")]
                scores.setdefault(m["model"], {})[(m["question_id"], m["turn"])] = (
                    m["category"],
                    j.scores[0] if j.scores else None,
                )
    return battles, per_pair, scores


def _pairwise(cfg: CompareConfig, battles: list, per_pair: dict) -> dict:
    def rates(outcomes):
        return win_rates_ci(outcomes, cfg.bootstrap, cfg.seed)

    out = {
        "pairwise": {
            pair: {"all": rates([r[1] for r in rows]) | {"length_controlled": _length_controlled(cfg, rows)}}
            | {f"turn{t}": rates([r[1] for r in rows if r[0] == t]) for t in sorted({r[0] for r in rows})}
            for pair, rows in per_pair.items()
        }
    }
    plain = [b[:4] for b in battles]
    try:
        out["bradley_terry"] = bradley_terry_ci(plain, cfg.baseline, cfg.bootstrap, cfg.seed)
        out["separability"] = _separability(out["bradley_terry"])
    except ValueError as exc:
        out["bradley_terry"] = {"skipped": str(exc)}
    try:
        styles = [b[4] for b in battles]
        out["style_controlled"] = style_controlled_bt_ci(plain, styles, cfg.baseline, cfg.bootstrap, cfg.seed)
    except ValueError as exc:
        out["style_controlled"] = {"skipped": str(exc)}
    return out


LC_RESAMPLES = 200  # each resample refits AlpacaEval's GLM with 5-fold CV (~0.05 s): 200, not `bootstrap`


def _length_controlled(cfg: CompareConfig, rows: list) -> dict:
    """AlpacaEval's length-controlled win rate of model1 over model2 (judge_core.style), over every turn."""
    prefs = [preference(outcome) for _, outcome, _, _ in rows]
    result = length_controlled_winrate(
        prefs, [r[2] for r in rows], [r[3] for r in rows], min(cfg.bootstrap, LC_RESAMPLES), cfg.seed
    )
    return result | {"resamples": min(cfg.bootstrap, LC_RESAMPLES)}


def _separability(ratings: dict) -> dict:
    """Who is tied for first among the compared models (paired: every resample refits every rating at
    once) and Arena-Hard's separability of their rating CIs."""
    points = {m: r["rating"] for m, r in ratings.items()}
    draws = {m: r["draws"] for m, r in ratings.items() if r.get("draws")}
    cis = {m: tuple(r["ci95"]) for m, r in ratings.items() if r.get("ci95")}
    return {"tied_for_first": leaders(points, draws) if draws else None, "separability": separability(cis)}


def _pointwise(cfg: CompareConfig, scores: dict) -> dict:
    base = {k: s for k, (_, s) in scores.get(cfg.baseline, {}).items()}
    return {
        "pointwise": {
            m: mean_scores([(c, t, s) for (_, t), (c, s) in v.items()], cfg.bootstrap, cfg.seed)
            for m, v in scores.items()
        },
        "score_ratio": {
            m: score_ratio({k: s for k, (_, s) in v.items()}, base, cfg.bootstrap, cfg.seed)
            for m, v in scores.items()
            if m != cfg.baseline
        },
    }


def summarise(cfg: CompareConfig, cells: list[Cell], problems: dict) -> dict:
    """compare.json: pairwise outcomes, win rates and Bradley-Terry; pointwise means and ratios."""
    battles, per_pair, scores = _outcomes(cfg, cells)
    summary = {"baseline": cfg.baseline, "judge": cfg.judge.name, "problems": problems}
    return (
        summary | (_pairwise(cfg, battles, per_pair) if per_pair else {}) | (_pointwise(cfg, scores) if scores else {})
    )


def run_compare(cfg: CompareConfig, log=print) -> dict:
    """Answers (read or generated) -> the judge's cells on one Ray Data pipeline -> compare.json + report.
    The results folder is locked while this runs (store.locked)."""
    with staged(results_location(cfg.output_dir), log) as (local, _):
        cfg = cfg.model_copy(update={"output_dir": str(local)})
        with locked(cfg.results_dir, log), console.logging_to(cfg.results_dir, "compare"):
            ensure_ray(cfg.ray_init)
            return _run_locked(cfg, log)


def _run_locked(cfg: CompareConfig, log) -> dict:
    out = cfg.results_dir
    (out / "compare.yaml.json").write_text(json.dumps(cfg.model_dump(), indent=1))
    questions = load_questions(cfg.questions, cfg.root)[: cfg.limit]
    turns = cfg.turns or list(range(1, max(len(q.turns) for q in questions) + 1))
    with console.progress(2, "stages", cfg.name) as bar:  # answers, then judgments
        console.note(f"answers of {len(cfg.models)} models to {len(questions)} questions")
        answers, problems = collect_answers(cfg, questions, max(turns), log)
        cells = plan_cells(cfg, questions, answers, turns)
        bar.update(1, f"judging {len(cells)} cells")
        failed = {
            k: f"{type(v).__name__}: {v}"
            for k, v in run_cells(cells, out, bootstrap=0, log=log).items()
            if isinstance(v, Exception)
        }
        bar.update(1, "judged")
    if failed:
        raise RuntimeError(f"judging failed (a re-run resumes): {failed}")
    summary = summarise(cfg, cells, problems) | {
        "questions": len(questions),
        "turns": turns,
        "cells": [c.key for c in cells],
    }
    write_json(out / "compare.json", summary)
    write_compare_report(out, summary)
    return summary
