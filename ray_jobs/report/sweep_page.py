"""The sweep report: Markdown and one self-contained HTML page (inline CSS and SVG, no scripts).

    judge report results/quickstart-cpu

Per benchmark subset: a leaderboard under the paper's protocol (headline metrics with 95% CIs),
parse failures, engine errors, truncated prompts, position bias (prefer-first / prefer-second,
consistency), calibration (ECE, reliability diagram) for probabilistic judges, confusion matrices,
and the published numbers of known judges, each marked as published and citing its source.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

from judge_core import protocols
from judge_core.published import published_for

from ..store import data_notes, finished_cells, read_status, status_groups
from . import unlabelled
from .format import RAW, bars_svg, fmt, html_table, md_table, missing, page, pct, reliability_svg, with_ci
from .summary import RULE, best_line, chance_value, shown, summary_plots, summary_table

BIAS = ("prefer_first", "prefer_second", "consistency")
LOWER_IS_BETTER = frozenset({"log_loss"})


def collect(results_dir: Path) -> dict[str, list[dict]]:
    """{benchmark-subset: [row]}: one row per scored cell, plus one per swap-averaged variant. A row is
    structured: judge (its name), template, swapavg; `shown(row)` is how it is written."""
    table: dict[str, list[dict]] = {}
    for m in finished_cells(results_dir):
        judge, template, _ = m["cell"].split("/")
        mode = m["mode"] if template != "-" else m["engine"]  # a prompted judge has a template
        for key, swapavg in (("result", False), ("result_swapavg", True)):
            if key in m:
                r = m[key]
                table.setdefault(f"{r['benchmark']}/{r['subset']}", []).append(
                    {"judge": judge, "template": template, "mode": mode, "result": r, "cell": m, "swapavg": swapavg}
                )
    return table


def _sort_key(row: dict, headline: tuple[str, ...]):
    v = row["result"].get(headline[0])
    v = -math.inf if missing(v) else v
    return -v if headline[0] in LOWER_IS_BETTER else v


def leaderboard(bench: str, rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """(header, body) of one benchmark subset's table, measured rows first, then published ones."""
    protocol = rows[0]["result"]["protocol"]
    headline = protocols.get(protocol).headline
    bias = [k for k in BIAS if k not in headline]  # Auto-J's and JudgeLM's headline has consistency already
    header = [
        "judge",
        "template",
        "mode",
        *headline,
        "n",
        "rows dropped",
        "parse fail",
        "errors",
        "truncated prompts",
        *bias,
        "ECE",
    ]
    body = []
    for row in sorted(rows, key=lambda r: _sort_key(r, headline), reverse=True):
        r, cell = row["result"], row["cell"]
        ece = cell.get("calibration", {}).get("ece") if not row["swapavg"] else None
        mark = " ‡" if cell.get("data_modified") else ""
        body.append(
            [
                shown(row) + mark,
                row["template"],
                row["mode"],
                *[with_ci(r, k) for k in headline],
                str(r["n"]),
                dropped(cell),
                str(r["parse_failures"]),
                str(cell["errors"]),
                str(cell["truncated"]),
                *[pct(r.get(k)) for k in bias],
                fmt("ece", ece),
            ]
        )
    name, subset = bench.split("/")
    for p in published_for(name, subset):
        body.append(
            [
                f"† {p.judge} (published)",
                "-",
                "-",
                *[f"{p.metrics[k]:.2f}" if k in p.metrics else "-" for k in headline],
                *["-"] * (6 + len(bias)),
            ]
        )
    return header, body


def dropped(cell: dict) -> str:
    """Rows of the source the cell did not judge: bad records skipped, rows removed by a documented filter."""
    bad, filtered = cell.get("skipped_bad_rows", 0), sum((cell.get("filtered") or {}).values())
    parts = ([f"{bad} bad"] if bad else []) + ([f"{filtered} filtered"] if filtered else [])
    return ", ".join(parts) or "0"


MODIFIED_NOTE = (
    "‡ judged on a benchmark file that differs from its pinned sha256 (accept_modified_data): not "
    "comparable with published numbers."
)


def calibration_table(rows: list[dict]) -> tuple[list[str], list[list[str]]] | None:
    """Temperature + tie multiplier fitted on half the examples, before -> after on the other half."""
    header = ["judge", "template", "T", "tie ×", "n held-out", "log loss", "ECE", "accuracy"]
    body = []
    for row in rows:
        cal = row["cell"].get("calibrated")
        if row["swapavg"] or not cal:
            continue
        if "skipped" in cal:  # too few examples to fit and judge a calibration: say so, do not drop the row
            body.append([shown(row), row["template"], "-", "-", "-", f"not fitted: {cal['skipped']}", "-", "-"])
            continue
        b, a = cal["before"], cal["after"]
        body.append(
            [
                shown(row),
                row["template"],
                f"{cal['temperature']:.3f}",
                f"{cal['tie_scale']:.3f}",
                str(cal["n_heldout"]),
                *[f"{fmt(k, b[k])} → {fmt(k, a[k])}" for k in ("log_loss", "ece", "accuracy")],
            ]
        )
    return (header, body) if body else None


CALIBRATION_NOTE = (
    "Calibration: swap-averaged probabilities; temperature T and tie multiplier fitted by log loss on "
    "half the examples (uid hash), numbers before → after on the other half."
)


def _sources(bench: str) -> list[str]:
    name, subset = bench.split("/")
    return sorted({p.source for p in published_for(name, subset)})


def _not_ok(status: dict) -> list[tuple[str, dict]]:
    """(title, {what: why}) for judges left out (one line per judge) and for failed cells."""
    _, left, failed = status_groups(status)
    judges = {k.split("/")[0]: why for k, why in left.items()}
    return [
        (t, items)
        for t, items in (
            ("Left out (model or adapter missing; not run, not failed)", judges),
            ("Cells whose data lost rows or was modified", data_notes(status)),
            ("Failed cells", failed),
        )
        if items
    ]


SUMMARY_NOTE = (
    "Each subset's headline metric with its 95% CI; bold: the judges tied for first in the column (its "
    "leader does not beat them in 95% of paired bootstrap resamples of the subset's examples); mean rank over the "
    "subsets judged (1 = best); prefer first: position bias (share of examples that followed the "
    "first-shown answer in both orders); length bias: how many points more often the judge picks the longer "
    "answer than the gold label does, over the labelled pairwise subsets (mean, 95% CI; ties, equal lengths "
    "and failed verdicts left out); s / row and tokens out / row: the engine's cost per judged "
    "presentation. · chance: the expected headline of a judge that answers each order uniformly at "
    "random among the subset's allowed verdicts, under its protocol (judge_core/chance.py); "
    "† published, not measured here; · separability: the share of judge pairs whose CIs do not overlap "
    "(Arena-Hard's). In the HTML, a click on a column header sorts by it."
)


WIDE_CI = 0.20  # a headline CI wider than 20 points cannot rank judges


def banners(table: dict) -> list[str]:
    """What a reader must know before reading any number: a limited run, random models, wide CIs."""
    rows = [(bench, r) for bench, rs in table.items() for r in rs]
    cells = [r["cell"] for _, r in rows if not r["swapavg"]]
    out = []
    limits = sorted({c["limit"] for c in cells if c.get("limit")})
    if limits:
        shares = sorted(
            {
                f"{bench} {r['result']['n_total']} of {r['cell']['available']}"
                for bench, r in rows
                if r["cell"].get("limit") and r["cell"].get("available") and not r["swapavg"]
            }
        )
        out.append(
            f"Limited run: each cell judged only the first {' / '.join(map(str, limits))} examples of its "
            "subset (the first rows of the file, not a random sample), so its numbers are not comparable "
            "with full-set or published (†) figures" + (f" ({'; '.join(shares)})." if shares else ".")
        )
    random = sorted({c["cell"].split("/")[0] for c in cells if c.get("random_model")})
    if random:
        out.append(
            f"Random models: {', '.join(random)} judge with random weights (ray_jobs.tiny_models, made for "
            "tests): whatever they score is noise, however it ranks."
        )
    wide = [
        r for bench, r in rows if _ci_width(r["result"], protocols.get(r["result"]["protocol"]).headline[0]) > WIDE_CI
    ]
    if wide:
        out.append(
            f"Wide intervals: {len(wide)} of {len(rows)} rows have a 95% CI on their headline metric wider "
            f"than {100 * WIDE_CI:.0f} points; judges whose intervals overlap cannot be told apart there."
        )
    return out


def _ci_width(result: dict, key: str) -> float:
    bounds = result.get("ci95", {}).get(key)
    if key in RAW or not bounds or missing(bounds[0]) or missing(bounds[1]):
        return 0.0
    return bounds[1] - bounds[0]


def markdown(results_dir: Path, table: dict, status: dict, unlabelled_sections: list) -> str:
    out = [
        f"# Judge report: {results_dir.name}",
        "",
        "Percentages unless noted (log loss, correlations as they are); 95% bootstrap CIs in brackets. "
        "Rows marked † are published numbers of known judges, NOT measured here. "
        "prefer_first / prefer_second: share of examples whose verdict followed the position in both orders. "
        "n counts examples; parse fail and errors count presentations (an example judged in both orders is two); "
        "truncated prompts: presentations whose prompt was cut to fit the judge's context.",
        "",
    ]
    out += [line for b in banners(table) for line in (f"> **{b.split(':')[0]}:**{b.split(':', 1)[1]}", "")]
    for title, items in _not_ok(status):
        out += [f"**{title}**", ""] + [f"- `{k}`: {v}" for k, v in items.items()] + [""]
    if table:
        header, body, summary = summary_table(table)
        out += ["## Summary", "", best_line(summary), "", md_table(header, body), "", RULE + " " + SUMMARY_NOTE, ""]
    for bench, rows in sorted(table.items()):
        protocol = protocols.get(rows[0]["result"]["protocol"])
        out += [
            f"## {bench}",
            "",
            f"Protocol `{protocol.name}`: {protocol.description}.",
            "",
            md_table(*leaderboard(bench, rows)),
            "",
        ]
        cal = calibration_table(rows)
        out += [CALIBRATION_NOTE, "", md_table(*cal), ""] if cal else []
        out += [f"† {s}" for s in _sources(bench)] + [""]
        out += [MODIFIED_NOTE, ""] if any(r["cell"].get("data_modified") for r in rows) else []
    return "\n".join(out + unlabelled.markdown(unlabelled_sections))


# ---- HTML -------------------------------------------------------------------------------------------
def _confusion_html(conf: dict) -> str:
    cols = list(next(iter(conf.values())))
    head = "<tr><th>gold \\ verdict</th>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"
    return (
        "<table>"
        + head
        + "".join(
            f"<tr><td>{g}</td>" + "".join(f"<td>{row[c]}</td>" for c in cols) + "</tr>" for g, row in conf.items()
        )
        + "</table>"
    )


def _bars(bench: str, rows: list[dict], key: str, headline: tuple[str, ...]) -> str:
    """The headline metric of every row and published judge as bars (0-100) with CI whiskers."""

    def scaled(r):
        return (
            100 * r["result"][key] if r["result"].get(key) is not None else math.nan,
            tuple(100 * x for x in r["result"]["ci95"][key]) if key in r["result"].get("ci95", {}) else None,
        )

    bars = [(shown(r), *scaled(r)) for r in sorted(rows, key=lambda r: _sort_key(r, headline), reverse=True)]
    bars += [(f"† {p.judge}", p.metrics[key], None) for p in published_for(*bench.split("/")) if key in p.metrics]
    chance = chance_value(rows, key)
    return f"<p class=note>{html.escape(key)} (%), 95% CI whiskers</p>" + bars_svg(
        bars, reference=None if chance is None else 100 * chance, reference_label=f"chance under {protocol_of(rows)}"
    )


def protocol_of(rows: list[dict]) -> str:
    return rows[0]["result"]["protocol"]


def _details(row: dict) -> str:
    """A measured row's confusion matrix and reliability diagram, folded."""
    inner = []
    if "confusion_ab" in row["result"]:
        inner.append(
            "<div><b>confusion (original order)</b>" + _confusion_html(row["result"]["confusion_ab"]) + "</div>"
        )
    cal = row["cell"].get("calibration")
    if cal:
        inner.append(
            f"<div><b>reliability</b> (ECE {fmt('ece', cal['ece'])}, log loss {fmt('log_loss', cal['log_loss'])})<br>"
            + reliability_svg(cal["reliability"])
            + "</div>"
        )
    return (
        f"<details><summary>{html.escape(row['judge'])} / {html.escape(row['template'])}</summary>"
        f"<div class=cells>{''.join(inner)}</div></details>"
    )


def _bench_html(bench: str, rows: list[dict]) -> str:
    protocol = protocols.get(rows[0]["result"]["protocol"])
    key = protocol.headline[0]
    parts = [
        f"<h2>{html.escape(bench)}</h2>"
        f"<p class=note>Protocol <b>{protocol.name}</b>: {html.escape(protocol.description)}.</p>",
        html_table(*leaderboard(bench, rows)),
    ]
    if key not in RAW:  # a percentage: bars on a 0-100 axis
        parts.append(_bars(bench, rows, key, protocol.headline))
    parts += [f"<p class=note>† {html.escape(s)}</p>" for s in _sources(bench)]
    parts += (
        [f"<p class=note>{html.escape(MODIFIED_NOTE)}</p>"] if any(r["cell"].get("data_modified") for r in rows) else []
    )
    cal = calibration_table(rows)
    parts += [f"<p class=note>{html.escape(CALIBRATION_NOTE)}</p>", html_table(*cal)] if cal else []
    return "".join(parts + [_details(r) for r in rows if not r["swapavg"]])


def html_page(results_dir: Path, table: dict, status: dict, unlabelled_sections: list) -> str:
    fail_html = "".join(
        f"<h3>{html.escape(title)}</h3><ul>"
        + "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>" for k, v in items.items())
        + "</ul>"
        for title, items in _not_ok(status)
    )
    body = "".join(_bench_html(b, rows) for b, rows in sorted(table.items())) + unlabelled.html_part(
        unlabelled_sections
    )
    warn = "".join(
        f"<p class=banner><b>{html.escape(b.split(':')[0])}:</b>{html.escape(b.split(':', 1)[1])}</p>"
        for b in banners(table)
    )
    if table:
        header, rows, summary = summary_table(table)
        body = warn + (
            f"<h2>Summary</h2><p>{best_line(summary).replace('**', '')}</p>"
            + html_table(header, rows, sortable=True)
            + f"<p class=note>{html.escape(RULE + ' ' + SUMMARY_NOTE)}</p>"
            + summary_plots(table)
            + body
        )
    title = f"Judge report: {results_dir.name}"
    return page(
        title,
        f"<h1>{html.escape(title)}</h1><p class=note>Percentages unless noted; 95% bootstrap CIs in "
        "brackets. Rows in grey italics marked † are published numbers, not measured here.</p>" + fail_html + body,
    )


def write_report(results_dir: str | Path) -> dict[str, Path]:
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(
            f"results folder {results_dir} not found: give the folder a sweep wrote "
            "(<output_dir>/<name>, e.g. results/quickstart-cpu)"
        )
    status = read_status(results_dir / "status.json")
    table = collect(results_dir)
    paths = {"md": results_dir / "report.md", "html": results_dir / "report.html"}
    built = unlabelled.sections(results_dir)
    paths["md"].write_text(markdown(results_dir, table, status, built))
    paths["html"].write_text(html_page(results_dir, table, status, built))
    return paths
