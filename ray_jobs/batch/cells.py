"""Judge cells, (judge, template, benchmark subset), on Ray Data: plan, run, finish; resumable.

    judge judge --engine hf --model ./tiny --mode label --template label --benchmark llmbar/natural

Plan: load the examples, expand them into one row per presented order (judge_core.pipeline.expand)
and keep the (uid, order) rows the cell's stored parts lack. Run: the rows of all of one judge's cells
go through ONE pipeline (stages.build_dataset), so its engine starts once per judge, and the driver
appends each arriving batch to its cell's parts (store.write_part). Finish: once every row is stored,
score the cell (metrics.cell_metrics) and write metrics.json, which marks a finished cell.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc

from judge_core import protocols
from judge_core.data import LoadReport, load, source
from judge_core.pipeline import expand
from judge_core.verdicts import ties_allowed

from .. import console
from ..cluster import release_groups
from ..spec import preflight
from ..store import Cell, judgment_from_row, prepare_dir, read_parts, write_json, write_part
from .cell_metrics import cell_metrics
from .stages import build_dataset


def orders_for(benchmark: str, orders: str) -> tuple[str, ...]:
    """ "both", "ab", or "protocol" (the orders the benchmark's paper judged); one answer has one order."""
    if orders == "protocol" or source(benchmark).protocol == "pointwise":
        return protocols.get(source(benchmark).protocol).orders
    return {"both": ("ab", "ba"), "ab": ("ab",)}[orders]


@dataclass
class Pending:
    """A cell with rows still to judge in this run."""

    cell: Cell
    dir: Path
    examples: list
    rows: list[dict]
    todo: list[dict]
    report: LoadReport


@dataclass
class Finished:
    """A cell finished with the same config and data in an earlier run."""

    cell: Cell
    dir: Path
    examples: list
    rows: list[dict]
    metrics: dict


def run_cell(cell: Cell, out_dir: str | Path, part_rows: int = 64, bootstrap: int = 1000, log=print) -> dict:
    """Judge every missing row of one cell, then score it. Returns metrics.json's content."""
    result = run_cells([cell], out_dir, part_rows, bootstrap, log)[cell.key]
    if isinstance(result, Exception):
        raise result
    return result


def run_cells(cells: list[Cell], out_dir: str | Path, part_rows: int = 64, bootstrap: int = 1000, log=print) -> dict:
    """Cells of ONE judge through ONE Ray Data pipeline (one actor pool: the model loads once for the
    judge's whole grid). Returns {cell key: metrics, or the exception that failed that cell}; a cell
    that cannot be loaded fails alone, an engine that cannot start fails every cell with rows to judge."""
    if len({c.judge.name for c in cells}) > 1:
        raise ValueError("run_cells takes the cells of one judge")
    planned = {cell.key: attempt(_plan_cell, cell, out_dir, log) for cell in cells}
    pending = [p for p in planned.values() if isinstance(p, Pending)]
    results = {k: attempt(_with_draws, v, bootstrap, log) for k, v in planned.items() if not isinstance(v, Pending)}
    todo = [r for p in pending for r in p.todo]
    start = time.perf_counter()
    failure = attempt(_store_judgments, todo, cells[0].judge, {p.cell.key: p.dir for p in pending}, part_rows)
    if isinstance(failure, Exception):  # what was written stays; a re-run resumes from it
        return results | {p.cell.key: failure for p in pending}
    seconds = time.perf_counter() - start
    return results | {p.cell.key: attempt(_finish, p, bootstrap, seconds, len(todo)) for p in pending}


def _with_draws(done: Finished | Exception, bootstrap: int, log) -> dict | Exception:
    """A finished cell's metrics; scored again from its stored judgments (nothing is judged) when they
    were scored before the bootstrap draws were kept, which the report's paired comparisons need."""
    if isinstance(done, Exception):
        return done
    metrics = done.metrics
    if not bootstrap or "result" not in metrics or "draws" in metrics["result"]:
        return metrics
    log(f"[rescore] {done.cell.key}: scored again from its stored judgments, for the paired bootstrap draws")
    metrics |= finish_cell(done.cell, done.dir, done.examples, done.rows, bootstrap)
    write_json(done.dir / "metrics.json", metrics)
    return metrics


def attempt(step, *args):
    """step(*args), or the exception it raised: one cell's failure must not stop the others."""
    try:
        return step(*args)
    except Exception as exc:  # noqa: BLE001
        return exc


def _store_judgments(todo: list[dict], judge, dirs: dict[str, Path], part_rows: int) -> None:
    """Judge the rows and append each arriving batch to its cells' parts."""
    if not todo:
        return
    done, start = 0, time.perf_counter()
    console.note(f"{judge.name}: starting its engine for {len(todo)} rows", key=judge.name)
    try:
        for batch in build_dataset(todo, judge).iter_batches(batch_size=part_rows, batch_format="pyarrow"):
            for key in dict.fromkeys(batch["cell"].to_pylist()):
                write_part(dirs[key], batch.filter(pc.equal(batch["cell"], key)).drop_columns(["cell"]))
            done += batch.num_rows
            console.note(
                f"{judge.name}: {done}/{len(todo)} rows, {done / (time.perf_counter() - start):.1f} rows/s",
                key=judge.name,
            )
    finally:
        console.note(None, key=judge.name)
        release_groups(judge.name)


def _plan_cell(cell: Cell, out_dir, log) -> Pending | Finished:
    """metrics.json's content for a finished cell, else what is left to judge."""
    preflight(cell.judge)
    cell_dir = Path(out_dir) / cell.key
    if cell.examples is not None:
        examples, report = cell.examples, LoadReport()
    else:
        examples, report = load(
            cell.benchmark,
            cell.subset,
            root=cell.root,
            on_bad_record=cell.on_bad_record,
            accept_modified=cell.accept_modified,
        )
    cell.available = len(examples)
    examples = examples[: cell.limit] if cell.limit else examples
    cell.loaded = examples  # before the hash: stored judgments of other data are never reused
    state = prepare_dir(cell, cell_dir)
    if state == "done":
        log(f"[skip] {cell.key}: finished with the same config and data")
        metrics = json.loads((cell_dir / "metrics.json").read_text())
        return Finished(cell, cell_dir, examples, expand(examples, cell.orders), metrics)
    rows = expand(examples, cell.orders)
    have = read_parts(cell_dir, log)
    done = set(zip(have["uid"].to_pylist(), have["order"].to_pylist())) if have is not None else set()
    tag = {"cell": cell.key, "template": cell.template or "", "allow_tie": ties_allowed(examples)}
    todo = [tag | r for r in rows if (r["uid"], r["order"]) not in done]
    log(f"[{state}] {cell.key}: {len(rows)} rows, {len(done)} already judged, {len(todo)} to judge")
    return Pending(cell, cell_dir, examples, rows, todo, report)


def _finish(p: Pending, bootstrap: int, seconds: float, rows_this_run: int) -> dict:
    metrics = finish_cell(p.cell, p.dir, p.examples, p.rows, bootstrap)
    metrics |= {
        "skipped_bad_rows": len(p.report.skipped),
        "skipped_reasons": [str(e) for e in p.report.skipped[:20]],
        "filtered": p.report.filtered,
        "data_modified": p.report.modified,
        "judge_seconds_this_run": seconds,
        "judge_rows_this_run": rows_this_run,
        "rows_this_run": len(p.todo),
    }
    write_json(p.dir / "metrics.json", metrics)
    return metrics


def finish_cell(cell: Cell, cell_dir: Path, examples: list, rows: list[dict], bootstrap: int) -> dict:
    """The cell's metrics, once every one of its rows is stored (never a partial score). A row stored
    twice (two writers before results folders were locked) counts once, its first judgment."""
    table = read_parts(cell_dir)
    wanted = {(r["uid"], r["order"]) for r in rows}
    first: dict[tuple, dict] = {}
    for r in table.to_pylist() if table is not None else []:
        if (r["uid"], r["order"]) in wanted:
            first.setdefault((r["uid"], r["order"]), r)
    if len(first) != len(wanted):
        raise RuntimeError(f"{cell_dir}: {len(wanted) - len(first)} of the cell's {len(wanted)} rows are not stored")
    judgments = [judgment_from_row(r) for r in first.values()]
    truncated = sum(bool(r["truncated"]) for r in first.values())
    dropped = (table.num_rows if table is not None else 0) - len(first)
    return cell_metrics(cell, judgments, truncated, examples, bootstrap) | (
        {"stored_twice_or_stray": dropped} if dropped else {}
    )
