"""Re-score existing judgments: the engine behind `judge score`.

A predictions file is JSONL, one judgment per line:
    {"index": 12, "order": "ba", "verdict": 1}            verdict in the ORIGINAL answer frame
    {"index": 12, "order": "ba", "output": "... [[A]]"}    raw text of that presentation, parsed
                                                           with --template and mapped back
optionally with "probs": [p_tie, p1, p2] (original frame). Pointwise benchmarks take
{"index": 3, "score": 4.5} or {"index": 3, "output": "... Rating: [[4]]"}.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from . import prompts, protocols
from .data import load, source
from .data._io import BadRecordError, DataRoot, not_utf8, read_jsonl
from .metrics import rounded_draws
from .prompts.base import RATING, Template, last_match
from .protocols import OnParseFailure
from .schema import ORDERS, PairExample, PointExample
from .style import length_bias
from .verdicts import Probs, verdict_from_probs

Bad = Callable[[str | None, str], BadRecordError]  # bad(field, reason): the error naming the line


@dataclass(frozen=True)
class Prediction:
    verdict: int | None = None
    score: float | None = None
    probs: tuple[float, float, float] | None = None


def parse_rating(text: str) -> float | None:
    """The LAST [[k]] rating in a pointwise judge's text (Auto-J "Rating: [[5]]", MT-Bench single),
    whatever its scale (a predictions file may use any)."""
    m = last_match(RATING, text)
    return float(m.group(1)) if m else None


def _row(
    path: Path,
    line: int,
    r: Any,
    template: Template | None,
    pointwise: bool,
    examples: dict | None = None,
    strict: bool = False,
) -> tuple[int, str, Prediction]:
    """(index, order, prediction) of one predictions line; a BadRecordError names the line and field."""

    def bad(field: str | None, reason: str) -> BadRecordError:
        return BadRecordError(path, line, field, reason)

    if isinstance(r, BadRecordError):
        raise r
    if not isinstance(r, dict):
        raise bad(None, "expected a JSON object")
    if why := not_utf8(r):
        raise bad(None, why)
    index, order = r.get("index"), r.get("order", "ab")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise bad("index", f"expected a non-negative integer, got {index!r}")
    if order not in ORDERS:
        raise bad("order", f"expected 'ab' or 'ba', got {order!r}")
    example = (examples or {}).get(index)
    pred = _point(r, bad, example) if pointwise else _pair(r, order, _probs(r, bad), template, bad, example, strict)
    return index, order, pred


def _probs(r: dict, bad: Bad) -> Probs | None:
    probs = r.get("probs")
    if probs is None:
        return None
    if (
        not isinstance(probs, list)
        or len(probs) != 3
        or abs(sum(probs) - 1) > 1e-3
        or not all(isinstance(p, (int, float)) and 0 <= p <= 1 for p in probs)
    ):
        raise bad("probs", f"expected [p_tie, p1, p2] summing to 1, got {probs!r:.60}")
    return cast(Probs, tuple(float(p) for p in probs))  # three: checked above


def _point(r: dict, bad: Bad, example: PointExample | None) -> Prediction:
    """A score given (finite, on the benchmark's scale) or parsed from the judge's text."""
    if "score" in r:
        score = r["score"]
        if not isinstance(score, (int, float)) or isinstance(score, bool) or not math.isfinite(score):
            raise bad("score", f"expected a finite number, got {score!r:.40}")
        if example is not None and not example.scale[0] <= score <= example.scale[1]:
            raise bad("score", f"{score} is off the benchmark's scale {example.scale[0]:g}..{example.scale[1]:g}")
        return Prediction(score=float(score))
    if isinstance(r.get("output"), str):
        return Prediction(score=parse_rating(r["output"]))
    raise bad("score", "a pointwise row needs 'score' or 'output'")


def _pair(
    r: dict,
    order: str,
    probs: Probs | None,
    template: Template | None,
    bad: Bad,
    example: PairExample | None,
    strict: bool = False,
) -> Prediction:
    """A verdict given, parsed from the judge's text (quotes of the example's texts do not count),
    or the likeliest of its probabilities."""
    if "verdict" in r:
        if (type(r["verdict"]) is not int and r["verdict"] is not None) or r["verdict"] not in (0, 1, 2, None):
            raise bad("verdict", f"expected the integer 0, 1 or 2, or null, got {r['verdict']!r}")
        return Prediction(verdict=r["verdict"], probs=probs)
    if isinstance(r.get("output"), str):
        if template is None:
            raise bad("output", "raw outputs need --template to parse them")
        return Prediction(verdict=template.verdict(r["output"], order, example, strict).verdict, probs=probs)
    if probs is not None:
        return Prediction(verdict=verdict_from_probs(probs), probs=probs)
    raise bad("verdict", "a row needs 'verdict', 'output' or 'probs'")


def read_predictions(
    path: str | Path,
    template: str | None = None,
    pointwise: bool = False,
    examples: list | None = None,
    strict: bool = False,
) -> dict:
    """{(index, order): Prediction}; duplicates are an error naming the line and index. With the
    benchmark's `examples`, scores are checked against its scale and quoted answers do not count;
    `strict`: raw outputs are parsed by the strict rule (markers that disagree are a failure)."""
    tpl = prompts.get(template) if template else None
    by_index = {ex.index: ex for ex in examples or []}
    out: dict[tuple[int, str], Prediction] = {}
    for (line, *_), r in read_jsonl(Path(path)):
        index, order, pred = _row(Path(path), line, r, tpl, pointwise, by_index, strict)
        if (index, order) in out:
            raise BadRecordError(path, line, "index", f"duplicate prediction for index {index} order {order}")
        out[index, order] = pred
    return out


def _check_coverage(
    path: str | Path, examples: list, preds: dict[tuple[int, str], Prediction], required: tuple[str, ...]
) -> None:
    indices = {ex.index for ex in examples}
    unknown = sorted({i for i, _ in preds} - indices)
    if unknown:
        raise ValueError(f"{path}: indices not in the benchmark: {_few(unknown)}")
    for order in ORDERS:
        have = {i for i, o in preds if o == order}
        if order in required or have:  # an optional order, once given, must be complete
            missing = sorted(indices - have)
            if missing:
                raise ValueError(
                    f"{path}: order {order!r} has no prediction for {len(missing)} indices: {_few(missing)}"
                )


def _few(items: list) -> str:
    return ", ".join(map(str, items[:20])) + (f" ... ({len(items)} in all)" if len(items) > 20 else "")


def records_for(examples: list, preds: dict[tuple[int, str], Prediction]) -> list[protocols.ProtocolRecord]:
    out = []
    for ex in examples:
        ab, ba = preds.get((ex.index, "ab")), preds.get((ex.index, "ba"))
        if isinstance(ex, PointExample):
            pred = ab or ba
            assert pred is not None  # _check_coverage: every example has its required order
            out.append(
                protocols.ProtocolRecord(
                    human=ex.score, score=pred.score, has_ab=True, ab=None if pred.score is None else 0
                )
            )
            continue
        out.append(
            protocols.ProtocolRecord(
                gold=ex.label,
                ab=ab.verdict if ab else None,
                ba=ba.verdict if ba else None,
                has_ab=ab is not None,
                has_ba=ba is not None,
                probs_ab=ab.probs if ab else None,
                probs_ba=ba.probs if ba else None,
                group=ex.meta.get("group"),
            )
        )
    return out


def benchmark_examples(
    benchmark: str,
    subset: str | None = None,
    root: DataRoot = None,
    report: dict | None = None,
    accept_modified: bool = False,
) -> tuple[str, list]:
    """(subset, labelled examples: pairs with a label, points with a human score) of one benchmark subset;
    a benchmark with several subsets needs one."""
    src = source(benchmark)
    if subset is None:
        if len(src.subsets) > 1:
            raise ValueError(f"{benchmark} has several subsets; choose one with --subset: {', '.join(src.subsets)}")
        subset = next(iter(src.subsets))
    examples, loaded = load(benchmark, subset, root=root, accept_modified=accept_modified)
    if report is not None:
        report["data_modified"] = loaded.modified
    return subset, [ex for ex in examples if (ex.label if isinstance(ex, PairExample) else ex.score) is not None]


def protocol_for(benchmark: str, protocol: str | None, examples: list) -> str:
    name = protocol or source(benchmark).protocol
    if name is None:
        raise ValueError(f"{benchmark} has no default protocol; pass --protocol")
    if (name == "pointwise") != isinstance(examples[0], PointExample):
        raise ValueError(f"protocol {name} does not fit {benchmark} ({type(examples[0]).__name__})")
    return name


def score(
    benchmark: str,
    predictions: str | Path,
    subset: str | None = None,
    template: str | None = None,
    protocol: str | None = None,
    on_parse_failure: OnParseFailure | None = None,
    root: DataRoot = None,
    bootstrap: int = 1000,
    seed: int = 0,
    accept_modified: bool = False,
    strict: bool = False,
) -> dict:
    """Metrics of a predictions file on one benchmark subset under its (or the given) protocol; a
    benchmark file that differs from its pinned sha256 is refused unless accept_modified (then the
    result's data_modified names it)."""
    data: dict = {}
    subset, examples = benchmark_examples(benchmark, subset, root, data, accept_modified)
    name = protocol_for(benchmark, protocol, examples)
    preds = read_predictions(predictions, template, pointwise=name == "pointwise", examples=examples, strict=strict)
    _check_coverage(predictions, examples, preds, protocols.get(name).orders)
    result = protocols.evaluate(name, records_for(examples, preds), on_parse_failure, bootstrap, seed)
    return (
        {"benchmark": benchmark, "subset": subset}
        | result
        | ({"data_modified": data["data_modified"]} if data["data_modified"] else {})
    )


def score_judgments(
    benchmark: str,
    subset: str,
    judgments: list,
    protocol: str | None = None,
    root: DataRoot = None,
    bootstrap: int = 1000,
    seed: int = 0,
    examples: list | None = None,
) -> dict:
    """Metrics of stored Judgments (original frame, keyed by uid and order) on one benchmark subset."""
    if examples is None:
        subset, examples = benchmark_examples(benchmark, subset, root)
    name = protocol_for(benchmark, protocol, examples)
    index_of = {ex.uid: ex.index for ex in examples}
    preds: dict[tuple[int, str], Prediction] = {}
    for j in judgments:
        if j.uid in index_of:  # unlabelled examples are judged but cannot be scored
            preds[index_of[j.uid], j.order] = Prediction(
                verdict=j.verdict, probs=j.probs, score=j.scores[0] if j.scores else None
            )
    _check_coverage(f"{benchmark}/{subset} judgments", examples, preds, protocols.get(name).orders)
    result = protocols.evaluate(name, records_for(examples, preds), None, bootstrap, seed)
    if name != "pointwise":
        result["length_bias"] = _length_bias(examples, judgments, bootstrap, seed)
    return {"benchmark": benchmark, "subset": subset} | result


def _length_bias(examples: list, judgments: list, bootstrap: int, seed: int) -> dict:
    """How many points more often the judge picks the longer answer than the gold does (style.length_bias),
    its bootstrap draws rounded for metrics.json."""
    bias = length_bias(examples, judgments, bootstrap, seed)
    draws = bias.pop("draws", None)
    return bias | ({"draws": rounded_draws(draws, 4)} if draws else {})
