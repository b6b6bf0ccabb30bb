"""The compare report (judge compare): Markdown and one self-contained HTML page from compare.json.

Pairwise: win / tie / loss against the baseline (FastChat's rule: both orders must agree, else a
tie; conflicts and errors counted), adjusted win rate with a 95% bootstrap CI, per turn; Bradley-Terry
ratings (baseline = 1000) with CIs. Pointwise: mean 1-10 score per model and turn, and each
candidate's score as a percentage of the baseline's, with a paired bootstrap CI.
"""
from __future__ import annotations

import html
import math
from pathlib import Path

from .report import CSS, _html_table, _md_table, bars_svg


def _num(v, digits=2) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _ci(ci, scale=1.0, digits=2) -> str:
    return f" [{_num(scale * ci[0], digits)}, {_num(scale * ci[1], digits)}]" if ci else ""


def tables(summary: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, body) for every table of the report."""
    out = []
    if "pairwise" in summary:
        header = ["pair", "turns", "n", "win", "tie", "loss", "conflicts", "errors", "win rate %", "loss rate %",
                  "adjusted win rate % [95% CI]"]
        body = []
        for pair, by_turn in summary["pairwise"].items():
            for turn, r in by_turn.items():
                body.append([pair, turn, str(r["n"]), str(r["win"]), str(r["tie"]), str(r["loss"]), str(r["conflicts"]),
                             str(r["errors"]), _num(100 * r["win_rate"]), _num(100 * r["loss_rate"]),
                             _num(100 * r["win_rate_adjusted"]) + _ci(r["ci95"].get("win_rate_adjusted"), 100)])
        out.append(("Pairwise against the baseline (both orders)", header, body))
    bt = summary.get("bradley_terry", {})
    if bt and "skipped" not in bt:
        body = [[m, _num(r["rating"], 1) + _ci(r["ci95"], 1, 1)] for m, r in sorted(bt.items(), key=lambda kv: -kv[1]["rating"])]
        out.append(("Bradley-Terry rating (baseline = 1000, Elo scale)", ["model", "rating [95% CI]"], body))
    if "pointwise" in summary:
        turns = sorted({t for r in summary["pointwise"].values() for t in r["turns"]})
        header = ["model", "mean score [95% CI]", *[f"turn {t}" for t in turns], "n", "failures"]
        body = [[m, _num(r["mean"]) + _ci(r["ci95"]), *[_num(r["turns"].get(t)) for t in turns], str(r["n"]),
                 str(r["failures"])] for m, r in sorted(summary["pointwise"].items(), key=lambda kv: -(kv[1]["mean"] or 0))]
        out.append(("Pointwise scores (1-10)", header, body))
    if summary.get("score_ratio"):
        body = [[m, _num(r["ratio"]) + _ci(r["ci95"]), _num(r["candidate_mean"]), _num(r["baseline_mean"]), str(r["n"]),
                 str(r["dropped"])] for m, r in summary["score_ratio"].items()]
        out.append((f"Score as % of the baseline's ({summary['baseline']})",
                    ["model", "% of baseline [95% CI]", "mean", "baseline mean", "n (paired)", "dropped"], body))
    return out


def _problems(summary: dict) -> list[str]:
    return [f"{m}: {len(p)} question(s) left out of judging: " + "; ".join(f"{q} ({why})" for q, why in list(p.items())[:10])
            + (" ..." if len(p) > 10 else "") for m, p in summary.get("problems", {}).items() if p]


def write_compare_report(results_dir: Path, summary: dict) -> dict[str, Path]:
    title = f"Compare: {results_dir.name} (judge {summary['judge']}, baseline {summary['baseline']})"
    md = [f"# {title}", "", f"{summary['questions']} questions, turns {summary['turns']}.", ""]
    md += [f"- {p}" for p in _problems(summary)] + [""]
    page = [f"<h1>{html.escape(title)}</h1><p class=note>{summary['questions']} questions, turns {summary['turns']}.</p>"]
    page += [f"<p class=note>{html.escape(p)}</p>" for p in _problems(summary)]
    for name, header, body in tables(summary):
        md += [f"## {name}", "", _md_table(header, body), ""]
        page += [f"<h2>{html.escape(name)}</h2>", _html_table(header, body)]
    if "pairwise" in summary:
        bars = [(pair, 100 * t["all"]["win_rate_adjusted"], tuple(100 * x for x in t["all"]["ci95"]["win_rate_adjusted"])
                 if "win_rate_adjusted" in t["all"]["ci95"] else None) for pair, t in summary["pairwise"].items()]
        page.append("<p class=note>adjusted win rate (%), 95% CI whiskers</p>" + bars_svg(bars))
    paths = {"md": results_dir / "report.md", "html": results_dir / "report.html"}
    paths["md"].write_text("\n".join(md))
    paths["html"].write_text(f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
                             f"<style>{CSS}</style></head><body>{''.join(page)}</body></html>")
    return paths
