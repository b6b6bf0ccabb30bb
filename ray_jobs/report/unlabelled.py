"""Data without labels in a sweep report: what each judge said, and how far the judges agree.

Nothing can be scored without a gold label, so a subset of your own unlabelled pairs gets, per judge,
the share of each verdict, consistency and position preference (batch/metrics.unlabelled), and between
every two judges Cohen's kappa over the examples both judged (each judge's verdict per example: both
orders combined, a tie where they disagree).
"""

from __future__ import annotations

import html
from itertools import combinations
from pathlib import Path

from judge_core.metrics import cohen_kappa
from judge_core.verdicts import combine_orders

from ..store import finished_cells, read_parts
from .format import fmt, html_table, md_table, pct

NOTE = (
    "No labels: nothing is scored. Verdict shares over every judged order; consistency and prefer first / "
    "second as in the leaderboards; kappa: Cohen's kappa between two judges' verdicts per example (both "
    "orders combined, a tie where they disagree), over the examples both judged."
)


def collect(results_dir: Path) -> dict[str, list[dict]]:
    """{benchmark-subset leaf: [{judge, template, cell metrics}]} of the finished unlabelled cells."""
    out: dict[str, list[dict]] = {}
    for m in finished_cells(results_dir):
        if "unlabelled" in m:
            judge, template, leaf = m["cell"].split("/")
            out.setdefault(leaf, []).append({"judge": judge, "template": template, "cell": m})
    return out


def _verdicts(cell_dir: Path) -> dict[str, int | None]:
    """{uid: the judge's verdict on it}, both orders combined where both ran."""
    table = read_parts(cell_dir)
    by: dict[str, dict] = {}
    for uid, order, verdict in zip(*(table[c].to_pylist() for c in ("uid", "order", "verdict"))) if table else ():
        by.setdefault(uid, {}).setdefault(order, verdict)
    return {u: combine_orders(o["ab"], o["ba"]) if "ba" in o else o.get("ab") for u, o in by.items()}


def kappas(results_dir: Path, rows: list[dict]) -> list[tuple[str, str, int, float]]:
    """(judge a, judge b, examples both judged, Cohen's kappa) for every two rows of one subset."""
    said = {_label(r): _verdicts(Path(results_dir) / r["cell"]["cell"]) for r in rows}
    out = []
    for a, b in combinations(said, 2):
        common = sorted(set(said[a]) & set(said[b]))
        if common:
            out.append((a, b, len(common), cohen_kappa([said[a][u] for u in common], [said[b][u] for u in common])))
    return out


def _label(row: dict) -> str:
    return row["judge"] + ("" if row["template"] == "-" else f" / {row['template']}")


def tables(results_dir: Path, rows: list[dict]) -> list[tuple[list[str], list[list[str]]]]:
    """The per-judge table and the kappa table (when two judges or more judged the subset)."""

    def share(u: dict, key: str) -> str:
        return pct(u["verdicts"].get(key))

    body = [
        [
            _label(r),
            str(u["n"]),
            share(u, "1"),
            share(u, "2"),
            share(u, "tie"),
            share(u, "fail"),
            pct(u.get("consistency")),
            pct(u.get("prefer_first")),
            pct(u.get("prefer_second")),
        ]
        for r in rows
        for u in [r["cell"]["unlabelled"]]
    ]
    out = [
        (
            [
                "judge",
                "n",
                "says 1",
                "says 2",
                "says tie",
                "parse fail",
                "consistency",
                "prefer first",
                "prefer second",
            ],
            body,
        )
    ]
    pairs = kappas(results_dir, rows)
    if pairs:
        out.append(
            (
                ["judge", "judge", "both judged", "kappa"],
                [[a, b, str(n), fmt("cohen_kappa", k)] for a, b, n, k in pairs],
            )
        )
    return out


def sections(results_dir: Path) -> list[tuple[str, list]]:
    """(subset leaf, its tables) of every unlabelled subset: built once (the kappas read every cell's
    parts), then drawn in Markdown and in HTML."""
    return [(leaf, tables(results_dir, rows)) for leaf, rows in sorted(collect(results_dir).items())]


def markdown(built: list[tuple[str, list]]) -> list[str]:
    out = []
    for leaf, leaf_tables in built:
        out += [f"## {leaf} (unlabelled)", "", NOTE, ""]
        for header, body in leaf_tables:
            out += [md_table(header, body), ""]
    return out


def html_part(built: list[tuple[str, list]]) -> str:
    return "".join(
        f"<h2>{html.escape(leaf)} (unlabelled)</h2><p class=note>{html.escape(NOTE)}</p>"
        + "".join(html_table(h, b) for h, b in leaf_tables)
        for leaf, leaf_tables in built
    )
