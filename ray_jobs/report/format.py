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
table{border-collapse:collapse;margin:.6em 0;display:block;max-width:100%;overflow-x:auto}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
td:first-child,th:first-child{text-align:left}tr.pub,tr.ref{color:#777;font-style:italic}th{background:#f3f3f3}
table.sortable th{cursor:pointer}
table.sortable td:first-child{white-space:nowrap}table.sortable th:hover{background:#e4e4e4}
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


def html_table(header: list[str], body: list[list[str]], sortable: bool = False) -> str:
    """Rows whose first cell starts with † (published numbers) or · (a reference: chance) are greyed;
    a sortable table sorts by a column when its header is clicked (SORT_SCRIPT), greyed rows last."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join(f"<tr{_row_class(r[0])}>" + "".join(f"<td>{_cell(c)}</td>" for c in r) + "</tr>" for r in body)
    title = " title='click a column header to sort by it'" if sortable else ""
    opening = f"<table{' class=sortable' if sortable else ''}{title}>"
    return f"{opening}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _row_class(first: str) -> str:
    return " class=pub" if first.startswith("†") else " class=ref" if first.startswith("·") else ""


# the one script of a report: sorts a .sortable table by the clicked column (numbers by the first number
# in the cell, "-" last; the judge column by name), reference and published rows stay below
SORT_SCRIPT = """document.querySelectorAll('table.sortable').forEach(function(t){
t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
var desc=th.dataset.dir!=='desc';th.dataset.dir=desc?'desc':'asc';var body=t.tBodies[0];
var rows=Array.prototype.slice.call(body.rows);function key(r){var m=r.cells[i].textContent.match(/-?\\d+(\\.\\d+)?/);
return i===0?r.cells[0].textContent:(m?parseFloat(m[0]):null);}
rows.sort(function(a,b){var ra=a.className?1:0,rb=b.className?1:0;if(ra!==rb)return ra-rb;
var x=key(a),y=key(b);if(x===null||y===null)return (x===null)-(y===null);
var c=typeof x==='string'?x.localeCompare(y):x-y;return desc?-c:c;});
rows.forEach(function(r){body.appendChild(r);});});});});"""


def _cell(text: str) -> str:
    """A table cell as HTML: **bold** (a column's best, as in the Markdown) becomes <b>."""
    if len(text) > 4 and text.startswith("**") and text.endswith("**"):
        return f"<b>{html.escape(text[2:-2])}</b>"
    return html.escape(text)


def page(title: str, body: str) -> str:
    """One self-contained HTML page: inline CSS, no external files; one inline script when a table is
    sortable (the page reads the same without it)."""
    script = f"<script>{SORT_SCRIPT}</script>" if "class=sortable" in body else ""
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body>{body}{script}</body></html>"
    )


def reliability_svg(bins: list[dict], size: int = 240) -> str:
    """Reliability diagram: a bar per confidence bin at its accuracy, its count above it; the dashed
    diagonal is perfect calibration; ticks at 0, 0.5 and 1 on both axes."""
    pad, top, inner = 34, 14, size - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" data-plot="reliability">',
        f'<rect x="{pad}" y="{top}" width="{inner}" height="{inner}" fill="none" stroke="#999"/>',
        f'<line x1="{pad}" y1="{top + inner}" x2="{pad + inner}" y2="{top}" stroke="#bbb" stroke-dasharray="4"/>',
    ]
    for t in (0, 0.5, 1):
        x, y = pad + t * inner, top + inner - t * inner
        parts += [
            f'<line x1="{x:.1f}" y1="{top + inner}" x2="{x:.1f}" y2="{top + inner + 4}" stroke="#666"/>',
            f'<text x="{x:.1f}" y="{top + inner + 14}" font-size="9" text-anchor="middle">{t:g}</text>',
            f'<line x1="{pad - 4}" y1="{y:.1f}" x2="{pad}" y2="{y:.1f}" stroke="#666"/>',
            f'<text x="{pad - 6}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{t:g}</text>',
        ]
    width = inner / len(bins)
    for b in bins:
        if b["count"]:
            h, x = inner * b["accuracy"], pad + b["bin"] * width
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{top + inner - h:.1f}" width="{width - 2:.1f}" height="{h:.1f}" '
                f'fill="#4a7ab5"><title>bin {b["bin"]}: n={b["count"]}, confidence {b["confidence"]:.3f}, '
                f"accuracy {b['accuracy']:.3f}</title></rect>"
            )
            parts.append(
                f'<text x="{x + width / 2:.1f}" y="{top + inner - h - 2:.1f}" font-size="8" '
                f'text-anchor="middle" fill="#333">{b["count"]}</text>'
            )
    parts.append(
        f'<text x="{pad + inner / 2:.0f}" y="{size - 18}" font-size="10" text-anchor="middle">confidence '
        f"(bar: accuracy, number: examples)</text></svg>"
    )
    return "".join(parts)


def bars_svg(
    rows: list[tuple[str, float, tuple | None]],
    width: int = 560,
    reference: float | None = 50.0,
    reference_label: str = "a coin",
) -> str:
    """Horizontal bars of a headline metric (0-100) with value labels and CI whiskers (a published
    number has no interval: its bar says so), an axis with ticks, and a dashed reference line (chance
    under the benchmark's protocol, when known)."""
    bar_h, left, right = 18, 200, 70
    height = bar_h * len(rows) + 34
    scale = (width - left - right) / 100
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" data-plot="bars">']
    axis_y = 5 + bar_h * len(rows)
    for t in (0, 25, 50, 75, 100):
        x = left + t * scale
        parts += [
            f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 4}" stroke="#666"/>',
            f'<text x="{x:.1f}" y="{axis_y + 15}" font-size="9" text-anchor="middle">{t}</text>',
        ]
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + 100 * scale:.1f}" y2="{axis_y}" stroke="#666"/>')
    for i, (label, value, bounds) in enumerate(rows):
        y = 5 + i * bar_h
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" font-size="11" text-anchor="end">{html.escape(label[:32])}</text>'
        )
        if missing(value):
            continue
        published = label.startswith("†")
        parts.append(
            f'<rect x="{left}" y="{y + 2}" width="{value * scale:.1f}" height="{bar_h - 5}" '
            f'fill="{"#ccc" if published else "#8fb3de"}"/>'
        )
        end = max(value, bounds[1]) if bounds else value
        note = " (no CI published)" if published else ""
        parts.append(f'<text x="{left + end * scale + 4:.1f}" y="{y + 13}" font-size="9">{value:.1f}{note}</text>')
        if bounds:
            lo, hi = left + bounds[0] * scale, left + bounds[1] * scale
            parts += [
                f'<line x1="{lo:.1f}" x2="{hi:.1f}" y1="{y + 9}" y2="{y + 9}" stroke="#223" stroke-width="1.5"/>',
                f'<line x1="{lo:.1f}" x2="{lo:.1f}" y1="{y + 5}" y2="{y + 13}" stroke="#223"/>',
                f'<line x1="{hi:.1f}" x2="{hi:.1f}" y1="{y + 5}" y2="{y + 13}" stroke="#223"/>',
            ]
    if reference is not None:
        x = left + reference * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="2" x2="{x:.1f}" y2="{axis_y}" stroke="#c33" stroke-dasharray="4">'
            f"<title>{reference:.1f}: {html.escape(reference_label)}</title></line>"
        )
    parts.append(
        f'<text x="{left + 100 * scale:.0f}" y="{height - 2}" font-size="9" text-anchor="end">'
        f"dashed: {reference:.1f} ({html.escape(reference_label)})</text>"
        if reference is not None
        else ""
    )
    return "".join(parts) + "</svg>"


def bias_svg(rows: list[tuple[str, float | None, float | None]], width: int = 560) -> str:
    """Position bias per judge: of its examples, the share that followed the first-shown answer in both
    orders (orange), the second-shown (purple), and the rest (grey: the verdict followed the content)."""
    bar_h, left = 18, 200
    scale = (width - left - 10) / 100
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{bar_h * len(rows) + 22}" '
        'role="img" data-plot="bias">'
    ]
    for i, (label, first, second) in enumerate(rows):
        y = 5 + i * bar_h
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" font-size="11" text-anchor="end">{html.escape(label[:32])}</text>'
        )
        if missing(first) or missing(second):
            continue
        x = left
        for share, colour, name in (
            (first, "#e08a2c", "prefer first"),
            (second, "#8a5cc7", "prefer second"),
            (1 - first - second, "#ddd", "follows content"),
        ):
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 2}" width="{100 * share * scale:.1f}" height="{bar_h - 5}" '
                f'fill="{colour}"><title>{name}: {100 * share:.1f}%</title></rect>'
            )
            x += 100 * share * scale
    y = 5 + bar_h * len(rows) + 12
    parts.append(
        f'<text x="{left}" y="{y}" font-size="9">orange: prefer first · purple: prefer second · grey: the rest '
        "(share of examples, both orders)</text>"
    )
    return "".join(parts) + "</svg>"


def cost_svg(points: list[tuple[str, float, float]], width: int = 560, height: int = 260) -> str:
    """Cost against quality: seconds per judged presentation (x, log scale) against mean rank (y, 1 = best at
    the top), one labelled point per judge."""
    pad, top = 46, 12
    w, h = width - pad - 120, height - top - 40
    xs = [math.log10(max(s, 1e-4)) for _, s, _ in points]
    ranks = [r for _, _, r in points]
    x_lo, x_hi = math.floor(min(xs)), math.ceil(max(xs)) + (math.ceil(max(xs)) == math.floor(min(xs)))
    r_hi = max(max(ranks), 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" data-plot="cost">',
        f'<rect x="{pad}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999"/>',
    ]
    for e in range(x_lo, x_hi + 1):
        x = pad + (e - x_lo) / (x_hi - x_lo) * w
        parts.append(f'<text x="{x:.1f}" y="{top + h + 14}" font-size="9" text-anchor="middle">{10.0**e:g}</text>')
    for r in sorted({1, round((1 + r_hi) / 2, 1), r_hi}):
        y = top + (r - 1) / (r_hi - 1) * h
        parts.append(f'<text x="{pad - 6}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{r:g}</text>')
    for (label, _, rank), lx in zip(points, xs):
        x, y = pad + (lx - x_lo) / (x_hi - x_lo) * w, top + (rank - 1) / (r_hi - 1) * h
        parts += [
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#4a7ab5"><title>{html.escape(label)}</title></circle>',
            f'<text x="{x + 6:.1f}" y="{y + 3:.1f}" font-size="9">{html.escape(label[:24])}</text>',
        ]
    parts.append(
        f'<text x="{pad + w / 2:.0f}" y="{height - 8}" font-size="10" text-anchor="middle">seconds per '
        "presentation (log) · y: mean rank, 1 = best, at the top</text>"
    )
    return "".join(parts) + "</svg>"
