"""How numbers and tables look in every report and on the console: one table of metric formats.

    fmt("accuracy", 0.5)            # "50.00"   fractions print as percentages
    fmt("log_loss", 1.0986123)      # "1.0986"  RAW metrics print as they are
    with_ci(result, "accuracy")     # "50.00 [40.00, 60.00]"
    md_table(header, body); html_table(header, body); page(title, body_html)

`judge score`, `judge finetune-eval`, the sweep report and the compare report all format through
here, so a metric reads the same everywhere.
"""
from __future__ import annotations

import html
import math

# metrics that are not fractions: printed as they are (4 decimals), never as a percentage
RAW = frozenset({"log_loss", "brier", "ece", "cohen_kappa", "pearson", "spearman", "kendall"})

CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.6em 0;display:block;max-width:100%;overflow-x:auto}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
td:first-child,th:first-child{text-align:left}tr.pub{color:#777;font-style:italic}th{background:#f3f3f3}
details{margin:.4em 0}.cells{display:flex;flex-wrap:wrap;gap:1.5em}.note{color:#555}
.banner{background:#fff4d6;border-left:4px solid #e0a400;padding:.5em .8em}"""


def missing(value) -> bool:
    """No number: None, or NaN (an undefined metric, e.g. accuracy of nothing)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def num(value, digits: int = 2) -> str:
    return "-" if missing(value) else f"{value:.{digits}f}"


def pct(value) -> str:
    return "-" if missing(value) else f"{100 * value:.2f}"


def fmt(key: str, value) -> str:
    """A metric as the reports print it: RAW ones with 4 decimals, fractions as percentages."""
    return num(value, 4) if key in RAW else pct(value)


def ci(bounds, scale: float = 1.0, digits: int = 2) -> str:
    """ " [low, high]" of a CI (scaled), or "" when there is none."""
    return f" [{num(scale * bounds[0], digits)}, {num(scale * bounds[1], digits)}]" if bounds else ""


def with_ci(result: dict, key: str) -> str:
    """A protocol result's metric with its bootstrap CI, formatted as fmt() does."""
    bounds = result.get("ci95", {}).get(key)
    return fmt(key, result.get(key)) + (f" [{fmt(key, bounds[0])}, {fmt(key, bounds[1])}]" if bounds else "")


def md_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])


def html_table(header: list[str], body: list[list[str]]) -> str:
    """Rows whose first cell starts with † (published numbers) are greyed."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join(f"<tr{' class=pub' if r[0].startswith('†') else ''}>" + "".join(f"<td>{_cell(c)}</td>" for c in r)
                   + "</tr>" for r in body)
    return f"<table><tr>{head}</tr>{rows}</table>"


def _cell(text: str) -> str:
    """A table cell as HTML: **bold** (a column's best, as in the Markdown) becomes <b>."""
    if len(text) > 4 and text.startswith("**") and text.endswith("**"):
        return f"<b>{html.escape(text[2:-2])}</b>"
    return html.escape(text)


def page(title: str, body: str) -> str:
    """One self-contained HTML page: inline CSS, no scripts, no external files."""
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>")


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
    for i, (label, value, bounds) in enumerate(rows):
        y = 5 + i * bar_h
        parts.append(f'<text x="{left - 6}" y="{y + 13}" font-size="11" text-anchor="end">{html.escape(label[:32])}</text>')
        if not missing(value):
            parts.append(f'<rect x="{left}" y="{y + 2}" width="{value * scale:.1f}" height="{bar_h - 5}" fill="#8fb3de"/>')
            if bounds:
                parts.append(f'<line x1="{left + bounds[0] * scale:.1f}" x2="{left + bounds[1] * scale:.1f}" y1="{y + 9}" '
                             f'y2="{y + 9}" stroke="#223" stroke-width="1.5"/>')
    return "".join(parts) + "</svg>"
