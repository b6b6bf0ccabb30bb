"""judgeray's pure core as a Python API: data, prompts, parsing and scoring, without Ray, torch or vLLM.

    import judge_core as jc
    pairs, report = jc.load("llmbar", subset="natural")        # or jc.load(jc.FileDataset(name=..., path=...))
    messages = jc.render(pairs[0], "llmbar", order="ba")       # chat messages, answers shown the other way round
    jc.parse("Output (b)", "llmbar", order="ba").verdict       # 1: back in the original answer order
    jc.score("llmbar", "preds.jsonl", subset="natural")        # the paper's protocol, parse failures, 95% CIs

Running judges is ray_jobs': `ray_jobs.sweep({...})` takes a sweep config as a dict.
"""

from __future__ import annotations

from typing import Any

from . import prompts
from .data import FileDataset, LoadReport, register
from .data import load as _load
from .prompts import Parsed
from .protocols import evaluate
from .schema import Judgment, PairExample, PointExample, presented, to_original
from .scoring import score, score_judgments

__all__ = [
    "FileDataset",
    "Judgment",
    "LoadReport",
    "PairExample",
    "PointExample",
    "evaluate",
    "load",
    "parse",
    "presented",
    "render",
    "score",
    "score_judgments",
    "to_original",
]


def load(dataset: str | FileDataset, subset: str | None = None, **options: Any) -> tuple[list, LoadReport]:
    """(examples, what was skipped or filtered) of a registered benchmark ("llmbar", "llmbar/natural")
    or of your own file; `options` as judge_core.data.load's (root, on_bad_record, fetch, ...)."""
    if isinstance(dataset, FileDataset):
        dataset = register(dataset).name
    name, _, named_subset = dataset.partition("/")
    return _load(name, subset or named_subset or None, **options)


def render(example: PairExample | PointExample, template: str, order: str = "ab") -> list[dict]:
    """The chat messages `template` shows a judge for `example` presented in `order`."""
    return prompts.get(template).render(example, order)


def parse(
    text: str, template: str, order: str = "ab", example: PairExample | PointExample | None = None, strict: bool = False
) -> Parsed:
    """A judge's output read by `template`'s parser: Parsed(verdict in the ORIGINAL order, reason, scores);
    with the judged `example`, quotes of it in the text do not count; `strict`: markers that disagree
    are "ambiguous" instead of read by the template's rule (its source's parser, or the last marker)."""
    return prompts.get(template).verdict(text, order, example, strict)
