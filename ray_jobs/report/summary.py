"""The report's first table: every judge across every benchmark subset, and the judge to trust.

One row per judge (and per swap-averaged variant), one column per benchmark subset with its headline
metric and 95% CI; the judges tied for first in a column are **bold** (judge_core.separability: the
column's leader does not beat them in 95% of paired bootstrap resamples). Then:
- mean rank: over the subsets the row judged, 1 = best (log loss: lowest); ties share their mean rank;
- prefer first: the mean over pairwise subsets of the share of examples whose verdict followed the
  position shown first in both orders (position bias; 0 for a position-free judge);
- length bias: the mean over labelled pairwise subsets of how many points more often the judge picks the
  longer answer than the gold label does (judge_core.style.length_bias), with a 95% CI;
- parse fail: parse failures over judged presentations (an example in both orders is two), all subsets;
- s / row and tokens out / row: the engine's time and output tokens per judged presentation.
The best judge (the rule, also in the report): the lowest mean rank among rows that judged every
pairwise subset of the run (every subset, in a pointwise-only run), ties broken by fewer seconds per
row, then by name; those rows come first. It is named best only when its mean rank beats the runner-up's
in at least 95% of paired resamples (each subset's examples resampled, both orders together); otherwise
the report names the rows tied for first, and `best_of` says it had to break the tie, and by what.
Published (†) rows are not ranked.
"""

from __future__ import annotations

from judge_core import protocols
from judge_core.metrics import percentile_ci
from judge_core.published import published_for
from judge_core.separability import CONFIDENCE, beats, leaders, mean_ranks, rank_draws, separability

from .format import RAW, bias_svg, cost_svg, fmt, num, pct, with_ci

LOWER_IS_BETTER = frozenset({"log_loss"})
POINTWISE = frozenset({"pearson"})  # the pointwise protocol's headline
RULE = (
    "Best judge: the lowest mean rank over the benchmark subsets, among judges that judged every pairwise "
    "subset of the run (every subset, when the run has only pointwise ones), named only when its mean rank "
    f"beats the runner-up's in at least {CONFIDENCE:.0%} of paired bootstrap resamples (else the judges "
    "tied for first are named); ties broken by fewer seconds per row, then by name."
)


def _headline(rows: list[dict]) -> str:
    return protocols.get(rows[0]["result"]["protocol"]).headline[0]


def _measured(value) -> bool:
    """A headline the subset can rank: a number (a correlation of constant scores is NaN: not ranked)."""
    return value is not None and value == value


def _per_row(cell: dict) -> tuple[float | None, float | None]:
    """(seconds, output tokens) per judged presentation of one cell."""
    rows = cell.get("judge_rows_this_run") or 0
    seconds = cell.get("judge_seconds_this_run", 0) / rows if rows else None
    tokens = cell.get("tokens_out", 0) / cell["rows"] if cell.get("rows") else None
    return seconds, tokens


def shown(row: dict) -> str:
    """How a collected row's judge is written: its name, marked when its result is swap-averaged."""
    return row["judge"] + (" (swap-avg)" if row["swapavg"] else "")


def summarise(table: dict[str, list[dict]]) -> dict:
    """{"benches", "rows": [{judge, template, swap_averaged, label, results, ranks, mean_rank, prefer_first,
    parse_fail, seconds, tokens, complete}], "best"}: one row per (judge, template, swap-averaged)."""
    benches = sorted(table)
    rows: dict[tuple, dict] = {}
    for bench in benches:
        key = _headline(table[bench])
        measured = {}
        for r in table[bench]:
            who = (r["judge"], r["template"], r["swapavg"])
            label = shown(r) + (f" / {r['template']}" if r["template"] != "-" else "")
            row = rows.setdefault(who, {"who": who, "label": label, "cells": [], "results": {}})
            row["cells"].append((r["cell"], r["result"]))
            row["results"][bench] = r
            if _measured(r["result"].get(key)):
                measured[who] = r["result"][key]
        for who, rank in mean_ranks(measured, key in LOWER_IS_BETTER).items():
            rows[who].setdefault("ranks", {})[bench] = rank
    pairwise = {b for b in benches if _headline(table[b]) not in POINTWISE}
    required = pairwise or set(benches)  # a pointwise template's row judges only the pointwise subsets
    out = [_finish(row, required) for row in rows.values()]
    order = sorted(out, key=lambda r: (not r["complete"], r["mean_rank"] or float("inf"), r["label"]))
    return {"benches": benches, "rows": order, "columns": _columns(table)} | _first(table, out)


def _draws(row: dict, key: str) -> list | None:
    return row["result"].get("draws", {}).get(key)


def _columns(table: dict[str, list[dict]]) -> dict[str, dict]:
    """Per subset: {"leaders": the rows tied for first (their labels' keys), "separability": the share of
    row pairs whose CIs do not overlap}."""
    out = {}
    for bench, rows in table.items():
        key = _headline(rows)
        measured = {_who(r): r for r in rows if _measured(r["result"].get(key))}
        points = {w: r["result"][key] for w, r in measured.items()}
        draws = {w: d for w, r in measured.items() if (d := _draws(r, key)) is not None}
        cis = {w: tuple(ci) for w, r in measured.items() if (ci := r["result"].get("ci95", {}).get(key))}
        out[bench] = {
            "leaders": leaders(points, draws, key in LOWER_IS_BETTER) if draws else None,
            "separability": separability(cis),
        }
    return out


def _who(r: dict) -> tuple:
    return (r["judge"], r["template"], r["swapavg"])


def _first(table: dict[str, list[dict]], rows: list[dict]) -> dict:
    """RULE over summarised rows: {"best": the lowest mean rank among complete rows (then fewer seconds
    per row, then the name), "tied": the complete rows whose mean rank it does not beat in CONFIDENCE of
    the paired resamples, best first (None: no draws to test with), "closest": the complete row it beats
    least often, "confidence": the share of resamples in which it beats that row}."""
    complete = sorted(
        (r for r in rows if r["complete"]),
        key=lambda r: (r["mean_rank"], r["seconds"] if r["seconds"] is not None else float("inf"), r["label"]),
    )
    if not complete:
        return {"best": None, "tied": None, "closest": None, "confidence": None}
    draws = {
        bench: {_who(r): d for r in rs if (d := _draws(r, _headline(rs))) is not None} for bench, rs in table.items()
    }
    lower = {bench: _headline(rs) in LOWER_IS_BETTER for bench, rs in table.items()}
    ranked = rank_draws(draws, lower) if all(draws.values()) else {}
    best = complete[0]
    if not ranked or best["who"] not in ranked:
        return {"best": best, "tied": None, "closest": None, "confidence": None}
    shares = {id(r): beats(ranked[best["who"]], ranked.get(r["who"], ()), lower_better=True) for r in complete[1:]}
    tied = [best] + [r for r in complete[1:] if (shares[id(r)] or 0) < CONFIDENCE]
    closest = min(complete[1:], key=lambda r: shares[id(r)] or 0, default=None)
    confidence = (shares[id(closest)] or 0) if closest is not None else None
    return {"best": best, "tied": tied, "closest": closest, "confidence": confidence}


def select_best(table: dict[str, list[dict]], keep=lambda row: True) -> dict | None:
    """The best judge by RULE among the collected rows that `keep` accepts (ranked among themselves), as
    its summary row: judge, template (None without one), swap_averaged, mean_rank, label. The report's ★
    and `best_of` (serve, annotate) both ask this."""
    kept = {b: rows for b, all_rows in table.items() if (rows := [r for r in all_rows if keep(r)])}
    if not kept:
        return None
    s = summarise(kept)
    if s["best"] is None:
        return None
    return s["best"] | {"tied": s["tied"], "closest": s["closest"], "confidence": s["confidence"]}


def _finish(row: dict, required: set[str]) -> dict:
    ranks = row.get("ranks", {})
    judge, template, swap_averaged = row["who"]
    results = [res for _, res in row["cells"]]
    bias = [res["prefer_first"] for res in results if res.get("prefer_first") is not None]
    longer = [res["length_bias"] for res in results if res.get("length_bias", {}).get("n")]
    second = [res["prefer_second"] for res in results if res.get("prefer_second") is not None]
    n = sum(cell.get("rows", 0) for cell, _ in row["cells"])  # presentations: parse failures count those
    costs = [_per_row(cell) for cell, _ in row["cells"]]
    seconds = [s for s, _ in costs if s is not None]
    tokens = [t for _, t in costs if t is not None]
    return {
        "who": row["who"],
        "judge": judge,
        "template": None if template == "-" else template,
        "swap_averaged": swap_averaged,
        "label": row["label"],
        "complete": required <= set(ranks),
        "results": row["results"],
        "ranks": ranks,
        "mean_rank": sum(ranks.values()) / len(ranks) if ranks else None,
        "prefer_first": sum(bias) / len(bias) if bias else None,
        "prefer_second": sum(second) / len(second) if second else None,
        "parse_fail": sum(res.get("parse_failures", 0) for res in results) / n if n else None,
        "length_bias": _mean_over_subsets(longer),
        "seconds": sum(seconds) / len(seconds) if seconds else None,
        "tokens": sum(tokens) / len(tokens) if tokens else None,
    }


def _mean_over_subsets(biases: list[dict]) -> dict | None:
    """A judge's length bias over its labelled pairwise subsets: the mean of the subsets' values, with the
    CI of the mean of their bootstrap draws (subsets resampled independently)."""
    if not biases:
        return None
    value = sum(b["value"] for b in biases) / len(biases)
    columns = [b["draws"] for b in biases if b.get("draws")]
    means = []
    if len(columns) == len(biases) and len({len(c) for c in columns}) == 1:
        for draw in zip(*columns):
            defined = [d for d in draw if d is not None]
            means.append(sum(defined) / len(defined) if len(defined) == len(draw) else None)
    return {"value": value, "ci95": percentile_ci(means) if means else None}


def summary_plots(table: dict[str, list[dict]]) -> str:
    """The summary's two plots (HTML): position bias per judge, and cost against mean rank."""

    rows = summarise(table)["rows"]
    biased = [(r["label"], r["prefer_first"], r["prefer_second"]) for r in rows if r["prefer_first"] is not None]
    costly = [(r["label"], r["seconds"], r["mean_rank"]) for r in rows if r["seconds"] and r["mean_rank"]]
    out = "<h3>Position bias</h3>" + bias_svg(biased) if biased else ""
    return out + ("<h3>Cost and quality</h3>" + cost_svg(costly) if costly else "")


def chance_value(rows: list[dict], key: str) -> float | None:
    """Chance on a subset's headline (judge_core.chance), as its cells measured it (the same examples
    and orders give the same value; a cell scored before chance was stored has none)."""
    values = [r["result"]["chance"][key] for r in rows if not r["swapavg"] and key in r["result"].get("chance", {})]
    return values[0] if values else None


def _reference_rows(table: dict[str, list[dict]], benches: list[str], width: int) -> list[list[str]]:
    """Below the judges: chance under each subset's protocol (·), then published judges (†), unranked."""

    blank = ["-"] * width
    chance = [fmt(_headline(table[b]), chance_value(table[b], _headline(table[b]))) for b in benches]
    out = [["· chance (random verdicts)", *chance, *blank]] if any(c != "-" for c in chance) else []
    published: dict[str, dict[str, str]] = {}
    for b in benches:
        key = _headline(table[b])
        for p in published_for(*b.split("/")):
            if key in p.metrics:
                published.setdefault(p.judge, {})[b] = num(
                    p.metrics[key], 4 if key in RAW else 2
                )  # published: percent already
    return out + [
        [f"† {judge} (published)", *(vals.get(b, "-") for b in benches), *blank] for judge, vals in published.items()
    ]


def _label(r: dict) -> str:
    cells = [res["cell"] for res in r["results"].values()]
    length = any(c.get("engine") == "baseline" and c.get("model") == "longer" for c in cells)
    return r["label"] + (" (length baseline)" if length else "")


def summary_table(table: dict[str, list[dict]]) -> tuple[list[str], list[list[str]], dict]:
    """(header, body, the summary) of the summary table: the judges tied for first in each column in
    bold (the best value where the cells have no bootstrap draws), ★ the best judge, ☆ the judges tied
    for first when none is; chance, published and separability rows below the judges."""
    s = summarise(table)
    header = [
        "judge",
        *s["benches"],
        "mean rank",
        "prefer first",
        "length bias",
        "parse fail",
        "s / row",
        "tokens out / row",
    ]
    best_in = {
        b: min(r["ranks"][b] for r in s["rows"] if b in r["ranks"])
        for b in s["benches"]
        if any(b in r["ranks"] for r in s["rows"])
    }

    def first_in(r: dict, b: str) -> bool:
        tied = s["columns"][b]["leaders"]
        return r["who"] in tied if tied is not None else r["ranks"].get(b) == best_in.get(b)

    tied = s["tied"] or []
    body = []
    for r in s["rows"]:
        cells = []
        for b in s["benches"]:
            res = r["results"].get(b)
            text = with_ci(res["result"], _headline(table[b])) if res else "-"
            cells.append(f"**{text}**" if res and b in r["ranks"] and first_in(r, b) else text)
        mark = " ★" if r is s["best"] and len(tied) <= 1 else " ☆" if any(r is t for t in tied) else ""
        body.append(
            [
                _label(r) + mark,
                *cells,
                f"{r['mean_rank']:.2f}" if r["mean_rank"] is not None else "-",
                pct(r["prefer_first"]),
                _bias(r["length_bias"]),
                pct(r["parse_fail"]),
                f"{r['seconds']:.3f}" if r["seconds"] is not None else "-",
                f"{r['tokens']:.1f}" if r["tokens"] is not None else "-",
            ]
        )
    width = len(header) - 1 - len(s["benches"])
    apart = [s["columns"][b]["separability"] for b in s["benches"]]
    separable = [["· separability (CI pairs apart)", *(pct(a) for a in apart), *["-"] * width]]
    return header, body + _reference_rows(table, s["benches"], width) + separable, s


def _bias(bias: dict | None) -> str:
    """A length bias in points with its CI ("+12.5 [+3.1, +21.0]"), or "-"."""
    if bias is None:
        return "-"
    ci = bias["ci95"]
    return f"{bias['value']:+.1f}" + (f" [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else "")


def best_line(s: dict) -> str:
    """Who is best, or who is tied for first, and how sure (RULE), as a sentence."""
    best, tied = s["best"], s["tied"]
    if best is None:
        return "No judge judged every pairwise subset of this run, so none is named best."
    if tied is None:
        return (
            f"**Best judge: {best['label']}** (mean rank {best['mean_rank']:.2f}) ★, not tested against the "
            "runner-up: its cells hold no bootstrap draws (bootstrap: 0, or scored before they were kept)."
        )
    if len(tied) > 1:
        names = ", ".join(t["label"] for t in tied)
        return (
            f"**No single best judge: {len(tied)} are tied for first** ☆ ({names}). The lowest mean rank, "
            f"{best['label']} ({best['mean_rank']:.2f}), beats {s['closest']['label']} in only "
            f"{s['confidence']:.0%} of paired resamples, short of the {CONFIDENCE:.0%} a best judge needs."
        )
    sure = f", ahead of every other in at least {s['confidence']:.0%} of paired resamples" if s["closest"] else ""
    return f"**Best judge: {best['label']}** (mean rank {best['mean_rank']:.2f}{sure}) ★"
