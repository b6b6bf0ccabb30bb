"""`judge compare CONFIG [key=value ...]`: candidate models against a baseline with one judge."""

from __future__ import annotations

import time

from ..config import add_config_verb
from ..console import log_note
from ..locations import run_location
from .config import load_compare
from .run import run_compare


def add_parser(sub) -> None:
    add_config_verb(
        sub,
        "compare",
        run,
        "candidate models against a baseline with one judge (win/tie/loss, "
        "Bradley-Terry, scores as %% of the baseline); resumable; writes a report",
        "configs/compare/<name>.yaml",
        "e.g. limit=10 name=try",
        "ray_jobs.compare.config:CompareConfig",
    )


def run(args) -> int:
    start, cfg = time.perf_counter(), load_compare(args.config, args.overrides)
    summary = run_compare(cfg)
    where = run_location(cfg.output_dir, cfg.name)
    print(
        f"compared {len(cfg.models) - 1} models with {cfg.baseline} as the baseline "
        f"on {summary['questions']} questions "
        f"({len(summary['cells'])} cells) in {time.perf_counter() - start:.0f} s; report: {where}/report.html, "
        f"numbers: {where}/compare.json{log_note()}"
    )
    return 0
