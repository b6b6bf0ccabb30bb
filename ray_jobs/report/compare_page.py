"""The compare report (judge compare): Markdown and one self-contained HTML page from compare.json.

Pairwise: win / tie / loss against the baseline (FastChat's rule: both orders must agree, else a
tie; conflicts and errors counted), adjusted win rate with a 95% bootstrap CI, per turn, and AlpacaEval's
length-controlled win rate over all turns; Bradley-Terry ratings (baseline = 1000) with CIs next to
Arena-Hard's style-controlled ratings, and which models the numbers cannot tell apart. Pointwise: mean
1-10 score per model and turn, and each candidate's score as a percentage of the baseline's, with a paired bootstrap CI.
"""

from __future__ import annotations

import html
from pathlib import Path

from .format import bars_svg, ci, html_table, md_table, num, page


def _pairwise(summary: dict) -> tuple[str, list[str], list[list[str]]]:
    header = [
        "pair",
        "turns",
        "n",
        "win",
        "tie",
        "loss",
        "conflicts",
        "errors",
        "win rate %",
        "loss rate %",
        "adjusted win rate % [95% CI]",
        "length-controlled % [95% CI]",
    ]
    body = [
        [
            pair,
            turn,
            *[str(r[k]) for k in ("n", "win", "tie", "loss", "conflicts", "errors")],
            num(100 * r["win_rate"]),
            num(100 * r["loss_rate"]),
            num(100 * r["win_rate_adjusted"]) + ci(r["ci95"].get("win_rate_adjusted"), 100),
            _lc(r.get("length_controlled")),
        ]
        for pair, by_turn in summary["pairwise"].items()
        for turn, r in by_turn.items()
    ]
    return "Pairwise against the baseline (both orders)", header, body


def _lc(r: dict | None) -> str:
    """The length-controlled win rate (all turns only), or why there is none."""
    if r is None:
        return ""
    if r.get("lc_win_rate") is None or r["lc_win_rate"] != r["lc_win_rate"]:  # NaN: the GLM could not be fitted
        return "- (lengths or outcomes do not vary)"
    return num(100 * r["lc_win_rate"]) + ci(r["ci95"].get("lc_win_rate"), 100)


def _bradley_terry(summary: dict) -> tuple[str, list[str], list[list[str]]]:
    styled = summary.get("style_controlled", {})
    tied = (summary.get("separability") or {}).get("tied_for_first") or []
    body = [
        [
            m + (" ☆" if m in tied and len(tied) > 1 else " ★" if m in tied else ""),
            num(r["rating"], 1) + ci(r["ci95"], 1, 1),
            num(styled[m]["rating"], 1) + ci(styled[m]["ci95"], 1, 1) if m in styled else "-",
        ]
        for m, r in sorted(summary["bradley_terry"].items(), key=lambda kv: -kv[1]["rating"])
    ]
    return (
        "Bradley-Terry rating (baseline = 1000, Elo scale)",
        ["model", "rating [95% CI]", "style-controlled [95% CI]"],
        body,
    )


def ranking_line(summary: dict) -> str:
    """Which models the ratings can tell apart (judge_core.separability), as a sentence."""
    sep = summary.get("separability")
    if not sep or sep.get("tied_for_first") is None:
        return ""
    tied, apart = sep["tied_for_first"], sep["separability"]
    share = (
        f" Separability: {100 * apart:.0f}% of model pairs have CIs that do not overlap." if apart is not None else ""
    )
    if len(tied) > 1:
        return (
            f"No single best model: {', '.join(tied)} are tied for first ☆ (the leader does not beat them in "
            f"95% of paired resamples).{share}"
        )
    return f"Best model: {tied[0]} ★ (ahead of every other in at least 95% of paired resamples).{share}"


def _pointwise(summary: dict) -> tuple[str, list[str], list[list[str]]]:
    turns = sorted({t for r in summary["pointwise"].values() for t in r["turns"]})
    header = ["model", "mean score [95% CI]", *[f"turn {t}" for t in turns], "n", "failures"]
    body = [
        [m, num(r["mean"]) + ci(r["ci95"]), *[num(r["turns"].get(t)) for t in turns], str(r["n"]), str(r["failures"])]
        for m, r in sorted(summary["pointwise"].items(), key=lambda kv: -(kv[1]["mean"] or 0))
    ]
    return "Pointwise scores (1-10)", header, body


def _score_ratio(summary: dict) -> tuple[str, list[str], list[list[str]]]:
    body = [
        [
            m,
            num(r["ratio"]) + ci(r["ci95"]),
            num(r["candidate_mean"]),
            num(r["baseline_mean"]),
            str(r["n"]),
            str(r["dropped"]),
        ]
        for m, r in summary["score_ratio"].items()
    ]
    return (
        f"Score as % of the baseline's ({summary['baseline']})",
        ["model", "% of baseline [95% CI]", "mean", "baseline mean", "n (paired)", "dropped"],
        body,
    )


def tables(summary: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, body) for every table the summary has numbers for."""
    bt = summary.get("bradley_terry", {})
    present = {
        _pairwise: "pairwise" in summary,
        _bradley_terry: bool(bt) and "skipped" not in bt,
        _pointwise: "pointwise" in summary,
        _score_ratio: bool(summary.get("score_ratio")),
    }
    return [table(summary) for table, shown in present.items() if shown]


def _problems(summary: dict) -> list[str]:
    return [
        f"{m}: {len(p)} question(s) left out of judging: "
        + "; ".join(f"{q} ({why})" for q, why in list(p.items())[:10])
        + (" ..." if len(p) > 10 else "")
        for m, p in summary.get("problems", {}).items()
        if p
    ]


def write_compare_report(results_dir: Path, summary: dict) -> dict[str, Path]:
    title = f"Compare: {results_dir.name} (judge {summary['judge']}, baseline {summary['baseline']})"
    md = [f"# {title}", "", f"{summary['questions']} questions, turns {summary['turns']}.", ""]
    md += [f"- {p}" for p in _problems(summary)] + [""]
    body = [
        f"<h1>{html.escape(title)}</h1><p class=note>{summary['questions']} questions, turns {summary['turns']}.</p>"
    ]
    body += [f"<p class=note>{html.escape(p)}</p>" for p in _problems(summary)]
    for name, header, rows in tables(summary):
        note = ranking_line(summary) if name.startswith("Bradley-Terry") else ""
        md += [f"## {name}", "", md_table(header, rows), ""] + ([note, ""] if note else [])
        body += [f"<h2>{html.escape(name)}</h2>", html_table(header, rows)]
        body += [f"<p>{html.escape(note)}</p>"] if note else []
    if "pairwise" in summary:
        bars = [
            (
                pair,
                100 * t["all"]["win_rate_adjusted"],
                tuple(100 * x for x in t["all"]["ci95"]["win_rate_adjusted"])
                if "win_rate_adjusted" in t["all"]["ci95"]
                else None,
            )
            for pair, t in summary["pairwise"].items()
        ]
        body.append("<p class=note>adjusted win rate (%), 95% CI whiskers</p>" + bars_svg(bars))
    paths = {"md": results_dir / "report.md", "html": results_dir / "report.html"}
    paths["md"].write_text("\n".join(md))
    paths["html"].write_text(page(title, "".join(body)))
    return paths
