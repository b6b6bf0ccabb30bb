"""The pure steps of one judging run, around the model call (inspect_ai's judge/scorer split).

    rows = expand(examples, ("ab", "ba"))              # one row per (example, presented order)
    messages = render(rows[0], "label")                 # chat messages for an engine
    j = to_judgment(rows[0], engine_output, "label", judge="qwen")   # Judgment, ORIGINAL frame

Engines answer in the PRESENTED order: raw text and/or label probabilities (p_tie, p1, p2) of the
answers as shown. `to_judgment` parses the text with the template and maps verdict, scores and
probabilities back to the source's answer order, so a "ba" row is stored like an "ab" one.
"""

from __future__ import annotations

import json
import math
from typing import cast

from . import prompts, schema
from .schema import ORDERS, Judgment, PairExample, PointExample, to_original
from .verdicts import Probs, Verdict, verdict_from_probs


def expand(examples: list[PairExample | PointExample], orders: tuple[str, ...]) -> list[dict]:
    """Rows {uid, order, example} (example as JSON: rows travel through Ray Data as plain columns).
    A PointExample has one answer, hence one row ("ab") whatever the orders."""
    bad = set(orders) - set(ORDERS)
    if bad or not orders:
        raise ValueError(f"orders must be a non-empty subset of {ORDERS}, got {orders!r}")
    return [
        {"uid": ex.uid, "order": order, "example": ex.model_dump_json()}
        for ex in examples
        for order in (("ab",) if isinstance(ex, PointExample) else orders)
    ]


def example_of(row: dict) -> PairExample | PointExample:
    data = json.loads(row["example"])
    return (PointExample if "answer" in data else PairExample).model_validate(data)


def presented_row(row: dict) -> PairExample | PointExample:
    """The row's example with its answers in the presented order."""
    ex = example_of(row)
    return schema.presented(ex, row["order"])


def render(row: dict, template: str, control: tuple[str, ...] = ()) -> list[dict]:
    return prompts.get(template).render(example_of(row), row["order"], control)


def to_judgment(
    row: dict, out: dict, template: str | None, judge: str, allow_tie: bool = True, parse: str | None = None
) -> Judgment:
    """A Judgment in the ORIGINAL frame from one engine output in the presented frame.

    `out` keys: raw (text or None), probs ((p_tie, p1, p2) or None), verdict (rule judges), score (a
    pointwise label-mode judge's expected rating), tokens_in, tokens_out, seconds, error (why the engine
    produced nothing). Text wins over probabilities for the verdict when the template parses it; a text
    that does not parse is a failure with the parser's reason; `parse` is the judge's parse rule
    ("source", "strict" or None: the template's default).
    """
    order = row["order"]
    probs = tuple(out["probs"]) if out.get("probs") is not None else None
    verdict, scores, error = _outcome(out, probs, template, order, allow_tie, row, parse)
    return Judgment(
        uid=row["uid"],
        judge=judge,
        template=template or "",
        order=order,
        raw=out.get("raw"),
        verdict=verdict,
        probs=_normalised(to_original(probs, order)),
        scores=scores,
        tokens_in=out.get("tokens_in"),
        tokens_out=out.get("tokens_out"),
        seconds=out.get("seconds"),
        error=error,
    )


def _outcome(
    out: dict, probs: Probs | None, template: str | None, order: str, allow_tie: bool, row: dict, parse: str | None
) -> tuple[Verdict | None, tuple[float, ...] | None, str | None]:
    """(verdict, scores, error) in the original frame, from the first of: the engine's error, its
    text, a rating, a rule judge's verdict, probabilities."""
    if out.get("error") is not None:
        return None, None, out["error"]
    if out.get("raw") is not None:
        if template is None:
            raise ValueError("raw text needs a template to parse it")
        tpl = prompts.get(template)
        parsed = tpl.verdict(out["raw"], order, example_of(row), tpl.strict(parse))  # quotes of it do not count
        return parsed.verdict, parsed.scores, parsed.reason
    if out.get("score") is not None and not math.isnan(out["score"]):  # NaN: a model that computed nothing
        return None, (float(out["score"]),), None
    if out.get("verdict") is not None:
        return to_original(out["verdict"], order), None, None
    if probs is not None:
        return to_original(verdict_from_probs(probs, allow_tie), order), None, None
    return None, None, "engine returned neither text nor probabilities"


def _normalised(probs: Probs | None) -> Probs | None:
    if probs is None:
        return None
    total = sum(probs)
    return cast(Probs, tuple(p / total for p in probs))
