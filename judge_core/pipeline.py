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

from . import prompts
from .schema import ORDERS, Judgment, PairExample, PointExample, probs_to_original_frame, to_original_frame


def expand(examples: list[PairExample | PointExample], orders: tuple[str, ...]) -> list[dict]:
    """Rows {uid, order, example} (example as JSON: rows travel through Ray Data as plain columns).
    A PointExample has one answer, hence one row ("ab") whatever the orders."""
    bad = set(orders) - set(ORDERS)
    if bad or not orders:
        raise ValueError(f"orders must be a non-empty subset of {ORDERS}, got {orders!r}")
    return [{"uid": ex.uid, "order": order, "example": ex.model_dump_json()} for ex in examples
            for order in (("ab",) if isinstance(ex, PointExample) else orders)]


def example_of(row: dict) -> PairExample | PointExample:
    data = json.loads(row["example"])
    return (PointExample if "answer" in data else PairExample).model_validate(data)


def presented(row: dict) -> PairExample | PointExample:
    """The row's example with its answers in the presented order."""
    ex = example_of(row)
    return ex if row["order"] == "ab" or isinstance(ex, PointExample) else ex.swapped()


def render(row: dict, template: str) -> list[dict]:
    return prompts.get(template).render(example_of(row), row["order"])


def verdict_from_probs(probs, allow_tie: bool = True) -> int | None:
    """The likeliest verdict of (p_tie, p1, p2); without ties only 1 and 2 compete.
    Exact equality between 1 and 2 is a tie when ties are allowed, else answer 1 (stated, not hidden)."""
    if probs is None:
        return None
    p_tie, p1, p2 = probs
    if allow_tie and p_tie > max(p1, p2):
        return 0
    if p1 == p2:
        return 0 if allow_tie else 1
    return 1 if p1 > p2 else 2


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def to_judgment(row: dict, out: dict, template: str | None, judge: str, allow_tie: bool = True) -> Judgment:
    """A Judgment in the ORIGINAL frame from one engine output in the presented frame.

    `out` keys: raw (text or None), probs ((p_tie, p1, p2) or None), verdict (rule judges), score (a
    pointwise label-mode judge's expected rating), tokens_in, tokens_out, seconds, error (why the engine
    produced nothing). Text wins over probabilities for the verdict when the template parses it; a text
    that does not parse is a failure with the parser's reason.
    """
    order = row["order"]
    raw, error = out.get("raw"), out.get("error")
    probs = tuple(out["probs"]) if _present(out.get("probs")) else None
    verdict, scores = None, None
    if error is None and raw is not None:
        if template is None:
            raise ValueError("raw text needs a template to parse it")
        parsed = prompts.get(template).verdict(raw, order)
        verdict, scores, error = parsed.verdict, parsed.scores, parsed.reason
    elif error is None and _present(out.get("score")):
        scores = (float(out["score"]),)
    elif error is None and out.get("verdict") is not None:  # a rule judge's verdict, presented frame
        verdict = to_original_frame(out["verdict"], order)
    elif error is None and probs is not None:
        verdict = to_original_frame(verdict_from_probs(probs, allow_tie), order)
    elif error is None:
        error = "engine returned neither text nor probabilities"
    return Judgment(uid=row["uid"], judge=judge, template=template or "", order=order, raw=raw, verdict=verdict,
                    probs=_normalised(probs_to_original_frame(probs, order)), scores=scores,
                    tokens_in=out.get("tokens_in"), tokens_out=out.get("tokens_out"),
                    seconds=out.get("seconds"), error=error)


def _normalised(probs):
    if probs is None:
        return None
    total = sum(probs)
    return tuple(p / total for p in probs)


def judgment_row(j: Judgment) -> dict:
    """A flat row for Parquet: probabilities as three columns (NaN when absent)."""
    row = j.model_dump(exclude={"probs", "scores"})
    p = j.probs or (math.nan,) * 3
    return row | {"p_tie": p[0], "p1": p[1], "p2": p[2], "scores": list(j.scores) if j.scores else None}


def judgment_from_row(row: dict) -> Judgment:
    probs = (row["p_tie"], row["p1"], row["p2"])
    fields = {k: v for k, v in row.items() if k in Judgment.model_fields and k not in ("probs", "scores")}
    scores = row.get("scores")
    return Judgment(**fields, probs=None if any(map(math.isnan, probs)) else probs,
                    scores=tuple(scores) if scores is not None and len(scores) else None)
