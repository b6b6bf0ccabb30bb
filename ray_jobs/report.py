"""The sweep report: Markdown and one self-contained HTML page (inline CSS and SVG, no scripts).

    judge report results/quickstart-cpu

Per benchmark subset: a leaderboard under the paper's protocol (headline metrics with 95% CIs),
parse failures, engine errors, truncated prompts, position bias (prefer-first / prefer-second,
consistency), calibration (ECE, reliability diagram) for probabilistic judges, confusion matrices,
and the published numbers of known judges, each marked as published and citing its source.
"""
from __future__ import annotations

import html
import json
import math
from pathlib import Path

from judge_core import protocols
from judge_core.published import published_for

from .engines.base import PROMPTED

BIAS = ("prefer_first", "prefer_second", "consistency")


def collect(results_dir: Path) -> dict[str, list[dict]]:
    """{benchmark-subset: [row]}: one row per scored cell, plus one per swap-averaged variant."""
    table: dict[str, list[dict]] = {}
    for path in sorted(results_dir.glob("*/*/*/metrics.json")):
        m = json.loads(path.read_text())
        judge, template, _ = m["cell"].split("/")
        for key, label in (("result", ""), ("result_swapavg", " (swap-avg)")):
            if key in m:
                r = m[key]
                table.setdefault(f"{r['benchmark']}/{r['subset']}", []).append(
                    {"judge": judge + label, "template": template, "mode": m["mode"] if m["engine"] in PROMPTED else m["engine"],
                     "result": r, "cell": m, "swapavg": bool(label)})
    return table


def _pct(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.2f}"


def _raw(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


def _with_ci(r: dict, key: str) -> str:
    ci = r.get("ci95", {}).get(key)
    if key in ("log_loss", "pearson", "spearman", "kendall"):
        return _raw(r.get(key)) + (f" [{_raw(ci[0])}, {_raw(ci[1])}]" if ci else "")
    return _pct(r.get(key)) + (f" [{_pct(ci[0])}, {_pct(ci[1])}]" if ci else "")


def _sort_key(row: dict, headline: tuple[str, ...]):
    v = row["result"].get(headline[0])
    v = -math.inf if v is None or math.isnan(v) else v
    return v if headline[0] != "log_loss" else -v


def leaderboard(bench: str, rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """(header, body) of one benchmark subset's table, measured rows first, then published ones."""
    protocol = rows[0]["result"]["protocol"]
    headline = protocols.get(protocol).headline
    header = ["judge", "template", "mode", *headline, "n", "parse fail", "errors", "truncated", *BIAS, "ECE"]
    body = []
    for row in sorted(rows, key=lambda r: _sort_key(r, headline), reverse=True):
        r, cell = row["result"], row["cell"]
        ece = cell.get("calibration", {}).get("ece") if not row["swapavg"] else None
        body.append([row["judge"], row["template"], row["mode"], *[_with_ci(r, k) for k in headline], str(r["n"]),
                     str(r["parse_failures"]), str(cell["errors"]), str(cell["truncated"]),
                     *[_pct(r.get(k)) for k in BIAS], _raw(ece)])
    name, subset = bench.split("/")
    for p in published_for(name, subset):
        body.append([f"† {p.judge} (published)", "-", "-", *[f"{p.metrics[k]:.2f}" if k in p.metrics else "-" for k in headline],
                     *["-"] * (5 + len(BIAS))])
    return header, body


def calibration_table(rows: list[dict]) -> tuple[list[str], list[list[str]]] | None:
    """Temperature + tie multiplier fitted on half the examples, before -> after on the other half."""
    header = ["judge", "template", "T", "tie ×", "n held-out", "log loss", "ECE", "accuracy"]
    body = []
    for row in rows:
        cal = row["cell"].get("calibrated")
        if row["swapavg"] or not cal or "skipped" in cal:
            continue
        b, a = cal["before"], cal["after"]
        body.append([row["judge"], row["template"], f"{cal['temperature']:.3f}", f"{cal['tie_scale']:.3f}",
                     str(cal["n_heldout"]), f"{_raw(b['log_loss'])} → {_raw(a['log_loss'])}",
                     f"{_raw(b['ece'])} → {_raw(a['ece'])}", f"{_pct(b['accuracy'])} → {_pct(a['accuracy'])}"])
    return (header, body) if body else None


CALIBRATION_NOTE = ("Calibration: swap-averaged probabilities; temperature T and tie multiplier fitted by log loss on "
                    "half the examples (uid hash), numbers before → after on the other half.")


def _md_table(header, body) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])


def _sources(bench: str) -> list[str]:
    name, subset = bench.split("/")
    return sorted({p.source for p in published_for(name, subset)})


def markdown(results_dir: Path, table: dict, status: dict) -> str:
    out = [f"# Judge report: {results_dir.name}", "",
           "Percentages unless noted (log loss, correlations as they are); 95% bootstrap CIs in brackets. "
           "Rows marked † are published numbers of known judges, NOT measured here. "
           "prefer_first / prefer_second: share of examples whose verdict followed the position in both orders.", ""]
    failed = {k: v for k, v in status.items() if v != "ok"}
    if failed:
        out += ["**Failed cells**", ""] + [f"- `{k}`: {v}" for k, v in failed.items()] + [""]
    for bench, rows in sorted(table.items()):
        protocol = protocols.get(rows[0]["result"]["protocol"])
        out += [f"## {bench}", "", f"Protocol `{protocol.name}`: {protocol.description}.", "",
                _md_table(*leaderboard(bench, rows)), ""]
        cal = calibration_table(rows)
        out += [CALIBRATION_NOTE, "", _md_table(*cal), ""] if cal else []
        out += [f"† {s}" for s in _sources(bench)] + [""]
    return "\n".join(out)


# ---- HTML -------------------------------------------------------------------------------------------
CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
td:first-child,th:first-child{text-align:left}tr.pub{color:#777;font-style:italic}th{background:#f3f3f3}
details{margin:.4em 0}.cells{display:flex;flex-wrap:wrap;gap:1.5em}.note{color:#555}"""


def _html_table(header, body) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join(f"<tr{' class=pub' if r[0].startswith('†') else ''}>" + "".join(f"<td>{html.escape(c)}</td>" for c in r)
                   + "</tr>" for r in body)
    return f"<table><tr>{head}</tr>{rows}</table>"


def reliability_svg(bins: list[dict], size: int = 220) -> str:
    """Reliability diagram: bar per confidence bin at its accuracy, the diagonal is perfect calibration."""
    pad, inner = 30, size - 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img">',
             f'<rect x="{pad}" y="10" width="{inner}" height="{inner}" fill="none" stroke="#999"/>',
             f'<line x1="{pad}" y1="{10 + inner}" x2="{pad + inner}" y2="10" stroke="#bbb" stroke-dasharray="4"/>']
    width = inner / len(bins)
    for b in bins:
        if b["count"]:
            h = inner * b["accuracy"]
            parts.append(f'<rect x="{pad + b["bin"] * width + 1:.1f}" y="{10 + inner - h:.1f}" width="{width - 2:.1f}" '
                         f'height="{h:.1f}" fill="#4a7ab5"><title>bin {b["bin"]}: n={b["count"]}, '
                         f'confidence {b["confidence"]:.3f}, accuracy {b["accuracy"]:.3f}</title></rect>')
    parts.append(f'<text x="{pad}" y="{size - 4}" font-size="10">confidence 0 → 1 (y: accuracy)</text></svg>')
    return "".join(parts)


def bars_svg(rows: list[tuple[str, float, tuple | None]], width: int = 520) -> str:
    """Horizontal bars of a headline metric (0-100) with CI whiskers."""
    bar_h, left = 18, 200
    height = bar_h * len(rows) + 10
    scale = (width - left - 10) / 100
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, (label, value, ci) in enumerate(rows):
        y = 5 + i * bar_h
        parts.append(f'<text x="{left - 6}" y="{y + 13}" font-size="11" text-anchor="end">{html.escape(label[:32])}</text>')
        if value is not None and not math.isnan(value):
            parts.append(f'<rect x="{left}" y="{y + 2}" width="{value * scale:.1f}" height="{bar_h - 5}" fill="#8fb3de"/>')
            if ci:
                parts.append(f'<line x1="{left + ci[0] * scale:.1f}" x2="{left + ci[1] * scale:.1f}" y1="{y + 9}" '
                             f'y2="{y + 9}" stroke="#223" stroke-width="1.5"/>')
    return "".join(parts) + "</svg>"


def _confusion_html(conf: dict) -> str:
    cols = list(next(iter(conf.values())))
    head = "<tr><th>gold \\ verdict</th>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"
    return "<table>" + head + "".join(f"<tr><td>{g}</td>" + "".join(f"<td>{row[c]}</td>" for c in cols) + "</tr>"
                                      for g, row in conf.items()) + "</table>"


def _bench_html(bench: str, rows: list[dict]) -> str:
    protocol = protocols.get(rows[0]["result"]["protocol"])
    key = protocol.headline[0]
    header, body = leaderboard(bench, rows)
    scale = 1 if key in ("log_loss", "pearson", "spearman", "kendall") else 100
    bars = [(r["judge"], scale * r["result"][key] if r["result"].get(key) is not None else math.nan,
             tuple(scale * x for x in r["result"]["ci95"][key]) if key in r["result"].get("ci95", {}) else None)
            for r in sorted(rows, key=lambda r: _sort_key(r, protocol.headline), reverse=True)]
    bars += [(f"† {p.judge}", p.metrics[key], None) for p in published_for(*bench.split("/")) if key in p.metrics]
    parts = [f"<h2>{html.escape(bench)}</h2><p class=note>Protocol <b>{protocol.name}</b>: {html.escape(protocol.description)}.</p>",
             _html_table(header, body)]
    if scale == 100:
        parts.append(f"<p class=note>{html.escape(key)} (%), 95% CI whiskers</p>" + bars_svg(bars))
    parts += [f"<p class=note>† {html.escape(s)}</p>" for s in _sources(bench)]
    cal = calibration_table(rows)
    parts += [f"<p class=note>{html.escape(CALIBRATION_NOTE)}</p>", _html_table(*cal)] if cal else []
    details = []
    for r in rows:
        if r["swapavg"]:
            continue
        inner = []
        if "confusion_ab" in r["result"]:
            inner.append("<div><b>confusion (original order)</b>" + _confusion_html(r["result"]["confusion_ab"]) + "</div>")
        cal = r["cell"].get("calibration")
        if cal:
            inner.append(f"<div><b>reliability</b> (ECE {_raw(cal['ece'])}, log loss {_raw(cal['log_loss'])})<br>"
                         + reliability_svg(cal["reliability"]) + "</div>")
        details.append(f"<details><summary>{html.escape(r['judge'])} / {html.escape(r['template'])}</summary>"
                       f"<div class=cells>{''.join(inner)}</div></details>")
    return "".join(parts + details)


def html_page(results_dir: Path, table: dict, status: dict) -> str:
    failed = {k: v for k, v in status.items() if v != "ok"}
    fail_html = ("<h3>Failed cells</h3><ul>" + "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>"
                                                       for k, v in failed.items()) + "</ul>") if failed else ""
    body = "".join(_bench_html(b, rows) for b, rows in sorted(table.items()))
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Judge report: {html.escape(results_dir.name)}</title>"
            f"<style>{CSS}</style></head><body><h1>Judge report: {html.escape(results_dir.name)}</h1>"
            "<p class=note>Percentages unless noted; 95% bootstrap CIs in brackets. Rows in grey italics marked † are "
            "published numbers, not measured here.</p>" + fail_html + body + "</body></html>")


def write_report(results_dir: str | Path) -> dict[str, Path]:
    results_dir = Path(results_dir)
    status_path = results_dir / "status.json"
    status = json.loads(status_path.read_text()) if status_path.exists() else {}
    table = collect(results_dir)
    paths = {"md": results_dir / "report.md", "html": results_dir / "report.html"}
    paths["md"].write_text(markdown(results_dir, table, status))
    paths["html"].write_text(html_page(results_dir, table, status))
    return paths
