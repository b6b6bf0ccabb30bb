"""Candidate models against a baseline with one judge: config, answers (read or generated), run
(judging through batch cells, summary, report)."""

from .answers import ANSWERS, AnswerActor, collect_answers, generate_answers
from .config import CompareConfig, ModelSpec, load_compare
from .run import plan_cells, run_compare, summarise

__all__ = [
    "ANSWERS",
    "AnswerActor",
    "CompareConfig",
    "ModelSpec",
    "collect_answers",
    "generate_answers",
    "load_compare",
    "plan_cells",
    "run_compare",
    "summarise",
]
