"""What the terminal shows of results: a sweep's cells in one line, a scored benchmark, label counts.
The verbs print these; every number is formatted by report/format.py."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from judge_core import protocols

from ..console import log_note
from ..store import CellStatus, data_notes, status_groups
from .format import fmt, pct


def print_cells(status: dict[str, CellStatus], results_dir=None, seconds: float | None = None) -> int:
    """Print "N of M cells ok" (which were left out, which lost rows or judged modified data, which
    failed); the exit status: 1 when any failed. A bad record fails its cell unless on_bad_record is
    skip, so a run that lost rows exits 0 only when skipping was asked for (and says so here)."""
    ok, left, failed = status_groups(status)
    judges = sorted({k.split("/")[0] for k in left})
    notes = data_notes(status)
    for key, note in notes.items():
        print(f"  [data] {key}: {note}")
    for key, why in failed.items():  # why, in one line; the traceback is in the cell's error.txt
        print(f"  [failed] {key}: {why.splitlines()[0][:400] if why else '?'}")
    print(
        f"{len(ok)} of {len(status)} cells ok"
        + (f"; {len(left)} left out (model missing: {', '.join(judges)})" if left else "")
        + (f"; {len(notes)} with data notes (report.md)" if notes else "")
        + (f"; failed: {', '.join(failed)}" if failed else "")
        + (f"; {seconds:.0f} s" if seconds is not None else "")
        + (f"; report: {Path(results_dir) / 'report.html'}" if results_dir else "")
        + log_note()
    )
    return 1 if failed else 0


def print_result(r: dict) -> None:
    """A benchmark scored under its protocol (judge score): headline metrics with CIs, chance, groups."""
    print("(percentages; kappa, correlations, log loss, Brier and ECE as they are)")
    print(
        f"{r['benchmark']}/{r['subset']} under protocol {r['protocol']}: n={r['n']} of {r['n_total']}, "
        f"parse failures={r['parse_failures']} (counted as {r['on_parse_failure']})"
    )
    for path, digest in r.get("data_modified", {}).items():
        print(f"  MODIFIED DATA: {path} (sha256 {digest}) differs from its pinned source")
    ci = r.get("ci95", {})
    for key, value in r.items():
        if isinstance(value, float) or (value is None and key in protocols.get(r["protocol"]).headline):
            low_high = f"   95% CI {fmt(key, ci[key][0])} .. {fmt(key, ci[key][1])}" if key in ci else ""
            print(f"  {key:18} {fmt(key, value):>8}{low_high}")
    if r.get("chance"):
        print("  chance (random verdicts): " + ", ".join(f"{k} {fmt(k, v)}" for k, v in r["chance"].items()))
    if "groups" in r:
        print(f"  {'group':24} {'agreement':>10} {'consistency':>12} {'single':>8}")
        for g, m in r["groups"].items():
            print(f"  {g:24} {pct(m['agreement']):>10} {pct(m['consistency']):>12} {pct(m['single_accuracy']):>8}")


def headline_line(key: str, r: dict) -> str:
    """One scored cell on one line: its key and headline metrics (judge finetune-eval)."""
    return f"{key:42} " + "  ".join(f"{k} {fmt(k, r.get(k))}" for k in protocols.get(r["protocol"]).headline)


def strict_json(value):
    """`value` with every NaN or infinity as None: strict JSON parsers reject NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def label_counts(examples) -> str:
    """ "1:120 2:118 tie:12" (pairs) or "scores 1:3 7:10" (points)."""
    if examples and hasattr(examples[0], "label"):
        counts = Counter(e.label for e in examples)
        names = {1: "1", 2: "2", 0: "tie", None: "unlabelled"}
        return " ".join(f"{names[k]}:{counts[k]}" for k in (1, 2, 0, None) if counts[k])
    counts = Counter(e.score for e in examples)
    return "scores " + " ".join(
        f"{k:g}:{v}" for k, v in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
    )
