"""Judge one cell, (judge, template, benchmark subset), on Ray Data; resumable; Parquet parts.

    judge judge --engine hf --model ./tiny --mode label --template label --benchmark llmbar/natural

Flow: examples -> rows per presented order (judge_core.pipeline.expand) -> map_batches on an actor
pool holding the engine -> parse into Judgments (judge_core, a task stage) -> the driver appends each
arriving batch to its cell's `parts/part-NNNNN.parquet` (written to a temporary name, then renamed, so a killed
run leaves only whole parts). A re-run reads the parts, judges only the (uid, order) rows missing,
and scores the cell once every row is there: metrics.json marks a finished cell. The cells of one
judge (templates x benchmarks) go through one pipeline, rows tagged with their cell, so the engine
starts once per judge, not once per cell (run_cells).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from judge_core import protocols
from judge_core.calibration import swap_averaged
from judge_core.data import LoadReport, load, source
from judge_core.pipeline import expand, judgment_from_row, judgment_row, to_judgment
from judge_core.scoring import score_judgments

from .engines.base import JudgeSpec, build_engine, preflight

SCHEMA_VERSION = 1  # part of every cell's hash: bump when stored judgments change meaning

ENGINE_OUT = pa.schema([("cell", pa.string()), ("template", pa.string()), ("allow_tie", pa.bool_()), ("uid", pa.string()), ("order", pa.string()), ("example", pa.string()),
                        ("raw", pa.string()), ("verdict", pa.int8()), ("p_tie", pa.float64()), ("p1", pa.float64()),
                        ("p2", pa.float64()), ("score", pa.float64()), ("tokens_in", pa.int64()),
                        ("tokens_out", pa.int64()), ("seconds", pa.float64()), ("truncated", pa.bool_()),
                        ("error", pa.string())])
JUDGMENTS = pa.schema([("uid", pa.string()), ("judge", pa.string()), ("template", pa.string()),
                       ("order", pa.string()), ("raw", pa.string()), ("verdict", pa.int8()),
                       ("p_tie", pa.float64()), ("p1", pa.float64()), ("p2", pa.float64()),
                       ("scores", pa.list_(pa.float64())), ("tokens_in", pa.int64()), ("tokens_out", pa.int64()),
                       ("seconds", pa.float64()), ("truncated", pa.bool_()), ("error", pa.string())])
TAGGED = pa.schema([("cell", pa.string())] + list(JUDGMENTS))  # a judgment and the cell it belongs to


@dataclass
class Cell:
    judge: JudgeSpec
    template: str | None
    benchmark: str
    subset: str
    orders: tuple[str, ...] = ("ab", "ba")
    limit: int | None = None  # first N examples (quick runs); part of the hash
    root: str | None = None
    extra: dict = field(default_factory=dict)
    examples: list | None = None  # given examples (judge compare) instead of loading the benchmark

    @property
    def key(self) -> str:
        return f"{self.judge.name}/{self.template or '-'}/{self.benchmark}-{self.subset}"

    def config(self) -> dict:
        given = None
        if self.examples is not None:  # the examples themselves are the data: hash their content
            given = hashlib.sha256("\n".join(ex.model_dump_json() for ex in self.examples).encode()).hexdigest()[:16]
        artifacts = local_artifacts(self.judge)
        return {"judge": self.judge.model_dump(), "template": self.template, "benchmark": self.benchmark,
                "subset": self.subset, "orders": list(self.orders), "limit": self.limit, "schema": SCHEMA_VERSION} | \
            ({"examples": given} if given else {}) | ({"artifacts": artifacts} if artifacts else {})

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.config(), sort_keys=True).encode()).hexdigest()[:16]


def fingerprint(path: Path) -> str:
    """Names, sizes and modification times of a local file or of the files under a directory: an
    adapter retrained at the same path gets a new fingerprint. Cheap for multi-GB model
    directories, whose files are not read."""
    files = [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.is_file())
    stamp = "\n".join(f"{f.relative_to(path) if f != path else f.name} {f.stat().st_size} {f.stat().st_mtime_ns}"
                      for f in files)
    return hashlib.sha256(stamp.encode()).hexdigest()[:16]


def local_artifacts(judge: JudgeSpec) -> dict:
    """Fingerprints of the judge's model and adapter where they are local paths, so stored judgments
    of an older model are never taken for a retrained one's (hub ids are not checked; the feature
    baseline's joblib is a deterministic function of the shared data and is not either)."""
    paths = {"model": judge.model, "adapter": judge.adapter}
    return {k: fingerprint(Path(v)) for k, v in paths.items() if v and Path(v).exists()}


def orders_for(benchmark: str, orders: str) -> tuple[str, ...]:
    """"both", "ab", or "protocol" (the orders the benchmark's paper judged); one answer has one order."""
    if orders == "protocol" or source(benchmark).protocol == "pointwise":
        return protocols.get(source(benchmark).protocol).orders
    return {"both": ("ab", "ba"), "ab": ("ab",)}[orders]


# ---- Ray Data stages -------------------------------------------------------------------------------
class EngineActor:
    """Holds one engine for the life of the actor (model loaded once) and judges batches of rows of
    any cell of its judge: each row names its template, so one actor pool serves a judge's whole grid."""

    def __init__(self, spec: dict):
        self.engine = build_engine(spec)

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        return pa.Table.from_pylist([_engine_row(r, o) for r, o in zip(rows, judge_rows(self.engine, rows))],
                                    schema=ENGINE_OUT)


def judge_rows(engine, rows: list[dict]) -> list[dict]:
    """Engine outputs for rows that each name their template ('' = none): one engine call per template.
    Batch judging and the serving app both go through here, so both prompt the same way."""
    outs: list = [None] * len(rows)
    for template in dict.fromkeys(r["template"] for r in rows):
        idx = [i for i, r in enumerate(rows) if r["template"] == template]
        for i, out in zip(idx, engine.judge([rows[i] for i in idx], template or None)):
            outs[i] = out
    return outs


def _engine_row(row: dict, out: dict) -> dict:
    probs = out.get("probs") or (math.nan,) * 3
    return {"cell": row["cell"], "template": row["template"], "allow_tie": row["allow_tie"], "uid": row["uid"],
            "order": row["order"], "example": row["example"], "raw": out.get("raw"), "verdict": out.get("verdict"),
            "p_tie": probs[0], "p1": probs[1], "p2": probs[2], "score": out.get("score"),
            "tokens_in": out.get("tokens_in"), "tokens_out": out.get("tokens_out"), "seconds": out.get("seconds"),
            "truncated": bool(out.get("truncated", False)), "error": out.get("error")}


def parse_batch(batch: pa.Table, judge: str) -> pa.Table:
    """Engine rows -> Judgment rows tagged with their cell (judge_core parses; a row that breaks
    parsing fails alone)."""
    out = []
    for r in batch.to_pylist():
        template = r["template"] or None
        probs = (r["p_tie"], r["p1"], r["p2"])
        engine_out = r | {"probs": None if any(p is None or math.isnan(p) for p in probs) else probs}
        try:
            j = to_judgment(r, engine_out, template, judge, r["allow_tie"])
        except Exception as exc:  # noqa: BLE001
            j = to_judgment(r, {"error": f"parse: {type(exc).__name__}: {exc}"[:500]}, template, judge)
        out.append({"cell": r["cell"]} | judgment_row(j) | {"truncated": r["truncated"]})
    return pa.Table.from_pylist(out, schema=TAGGED)


def engine_stage(spec: JudgeSpec) -> dict:
    """The keyword arguments of the engine's map_batches call (tested without starting Ray)."""
    import ray.data

    return {"fn_constructor_kwargs": {"spec": spec.model_dump()},
            "compute": ray.data.ActorPoolStrategy(size=spec.concurrency), "num_gpus": spec.num_gpus,
            "num_cpus": spec.num_cpus, "batch_size": spec.batch_size, "batch_format": "pyarrow"}


def build_dataset(rows: list[dict], spec: JudgeSpec):
    """Rows of any of the judge's cells ({cell, template, allow_tie, uid, order, example}) -> tagged Judgments."""
    import ray.data

    blocks = max(1, min(len(rows), math.ceil(len(rows) / spec.batch_size)))  # not one block per row
    ds = ray.data.from_items(rows, override_num_blocks=blocks)
    ds = ds.map_batches(EngineActor, **engine_stage(spec))
    return ds.map_batches(parse_batch, batch_format="pyarrow", num_cpus=0.25, fn_kwargs={"judge": spec.name})


# ---- parts on disk ---------------------------------------------------------------------------------
def read_parts(cell_dir: Path) -> pa.Table | None:
    parts = sorted((cell_dir / "parts").glob("part-*.parquet"))
    return pa.concat_tables([pq.read_table(p) for p in parts]) if parts else None


def write_part(cell_dir: Path, table: pa.Table) -> None:
    parts = cell_dir / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    n = len(list(parts.glob("part-*.parquet")))
    tmp = parts / f".part-{n:05d}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, parts / f"part-{n:05d}.parquet")


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=_json_default))
    os.replace(tmp, path)


def _json_default(x):
    if isinstance(x, float) and math.isnan(x):
        return None
    raise TypeError(type(x))


def _prepare_dir(cell: Cell, cell_dir: Path) -> str:
    """'done' (finished with this config), 'resume' or 'new'. A cell judged under another config is
    moved aside, never deleted."""
    config_path = cell_dir / "config.json"
    if config_path.exists():
        old = json.loads(config_path.read_text())
        if old.get("hash") == cell.config_hash():
            return "done" if (cell_dir / "metrics.json").exists() else "resume"
        os.replace(cell_dir, cell_dir.with_name(f"{cell_dir.name}.old-{old.get('hash')}"))
    cell_dir.mkdir(parents=True, exist_ok=True)
    write_json(config_path, {"hash": cell.config_hash()} | cell.config())
    return "new"


# ---- cells -----------------------------------------------------------------------------------------
@dataclass
class Pending:
    """A cell with rows still to judge in this run."""
    cell: Cell
    dir: Path
    examples: list
    rows: list[dict]
    todo: list[dict]
    report: object


def run_cell(cell: Cell, out_dir: str | Path, part_rows: int = 64, bootstrap: int = 1000, log=print) -> dict:
    """Judge every missing row of one cell, then score it. Returns metrics.json's content."""
    result = run_cells([cell], out_dir, part_rows, bootstrap, log)[cell.key]
    if isinstance(result, Exception):
        raise result
    return result


def run_cells(cells: list[Cell], out_dir: str | Path, part_rows: int = 64, bootstrap: int = 1000,
              log=print) -> dict:
    """Cells of ONE judge through ONE Ray Data pipeline (one actor pool: the model loads once for the
    judge's whole grid). Returns {cell key: metrics, or the exception that failed that cell}; a cell
    that cannot be loaded fails alone, an engine that cannot start fails every cell with rows to judge."""
    if len({c.judge.name for c in cells}) > 1:
        raise ValueError("run_cells takes the cells of one judge")
    results, pending = {}, []
    for cell in cells:
        try:
            state = _plan_cell(cell, out_dir, log)
        except Exception as exc:  # noqa: BLE001 - one cell's bad data must not stop the others
            results[cell.key] = exc
            continue
        if isinstance(state, dict):
            results[cell.key] = state
        else:
            pending.append(state)
    todo = [r for p in pending for r in p.todo]
    start = time.perf_counter()
    if todo:
        by_key = {p.cell.key: p for p in pending}
        try:
            for batch in build_dataset(todo, cells[0].judge).iter_batches(batch_size=part_rows, batch_format="pyarrow"):
                for key in dict.fromkeys(batch["cell"].to_pylist()):
                    rows = batch.filter(pc.equal(batch["cell"], key)).drop_columns(["cell"])
                    write_part(by_key[key].dir, rows)
        except Exception as exc:  # noqa: BLE001 - what was written stays; a re-run resumes from it
            return results | {p.cell.key: exc for p in pending}
    seconds = time.perf_counter() - start
    for p in pending:
        try:
            results[p.cell.key] = _finish(p, bootstrap, seconds, len(todo))
        except Exception as exc:  # noqa: BLE001
            results[p.cell.key] = exc
    return results


def _plan_cell(cell: Cell, out_dir, log) -> Pending | dict:
    """metrics.json's content for a finished cell, else what is left to judge."""
    preflight(cell.judge)
    cell_dir = Path(out_dir) / cell.key
    state = _prepare_dir(cell, cell_dir)
    if state == "done":
        log(f"[skip] {cell.key}: finished with the same config")
        return json.loads((cell_dir / "metrics.json").read_text())
    if cell.examples is not None:
        examples, report = cell.examples, LoadReport()
    else:
        examples, report = load(cell.benchmark, cell.subset, root=cell.root, on_bad_record="skip")
    examples = examples[:cell.limit] if cell.limit else examples
    rows = expand(examples, cell.orders)
    have = read_parts(cell_dir)
    done = set(zip(have["uid"].to_pylist(), have["order"].to_pylist())) if have is not None else set()
    tag = {"cell": cell.key, "template": cell.template or "", "allow_tie": allow_tie(examples)}
    todo = [tag | r for r in rows if (r["uid"], r["order"]) not in done]
    log(f"[{state}] {cell.key}: {len(rows)} rows, {len(done)} already judged, {len(todo)} to judge")
    return Pending(cell, cell_dir, examples, rows, todo, report)


def allow_tie(examples: list) -> bool:
    """Label-mode verdicts may be ties when the gold has ties, or when there is no gold (comparisons)."""
    labels = [getattr(ex, "label", None) for ex in examples]
    return 0 in labels or all(v is None for v in labels)


def _finish(p: Pending, bootstrap: int, seconds: float, rows_this_run: int) -> dict:
    metrics = finish_cell(p.cell, p.dir, p.examples, p.rows, bootstrap)
    metrics |= {"skipped_bad_rows": len(p.report.skipped), "skipped_reasons": [str(e) for e in p.report.skipped[:20]],
                "filtered": p.report.filtered, "judge_seconds_this_run": seconds,
                "judge_rows_this_run": rows_this_run, "rows_this_run": len(p.todo)}
    write_json(p.dir / "metrics.json", metrics)
    return metrics


def finish_cell(cell: Cell, cell_dir: Path, examples: list, rows: list[dict], bootstrap: int) -> dict:
    table = read_parts(cell_dir)
    keys = list(zip(table["uid"].to_pylist(), table["order"].to_pylist()))
    if len(keys) != len(set(keys)) or set(keys) != {(r["uid"], r["order"]) for r in rows}:
        raise RuntimeError(f"{cell_dir}: stored judgments do not match the cell's rows "
                           f"({len(keys)} stored, {len(set(keys))} distinct, {len(rows)} expected)")
    judgments = [judgment_from_row(r) for r in table.to_pylist()]
    metrics = {"cell": cell.key, "hash": cell.config_hash(), "rows": len(rows), "engine": cell.judge.engine,
               "mode": cell.judge.mode, "orders": list(cell.orders),
               "errors": sum(j.error is not None and j.raw is None for j in judgments),
               "truncated": sum(bool(t) for t in table["truncated"].to_pylist()),
               "tokens_in": sum(j.tokens_in or 0 for j in judgments),
               "tokens_out": sum(j.tokens_out or 0 for j in judgments),
               "probabilistic": all(j.probs is not None for j in judgments)}
    labelled = [ex for ex in examples if getattr(ex, "label", getattr(ex, "score", None)) is not None]
    if labelled:
        metrics["result"] = score_judgments(cell.benchmark, cell.subset, judgments, bootstrap=bootstrap,
                                            examples=labelled)
        if metrics["probabilistic"]:
            metrics["calibration"] = calibration(judgments, labelled)
            metrics["calibrated"] = calibrated(judgments, labelled)
        if metrics["probabilistic"] and set(cell.orders) == {"ab", "ba"} and cell.judge.engine != "ensemble":
            metrics["result_swapavg"] = score_judgments(cell.benchmark, cell.subset, swap_averaged(judgments, allow_tie(labelled)),
                                                        bootstrap=bootstrap, examples=labelled)
    return metrics


def calibration(judgments: list, examples: list) -> dict:
    """Log loss, Brier, ECE and the reliability table over every judged order (original frame)."""
    from judge_core import metrics as M

    gold = {ex.uid: ex.label for ex in examples}
    pairs = [(gold[j.uid], j.probs) for j in judgments if j.uid in gold and j.probs is not None]
    g, p = [x for x, _ in pairs], [y for _, y in pairs]
    return {"n": len(g), "log_loss": M.log_loss(g, p), "brier": M.brier(g, p), "ece": M.ece(g, p),
            "reliability": M.reliability(g, p)}


def calibrated(judgments: list, examples: list) -> dict:
    """Temperature + tie multiplier fitted on half the examples (uid hash), judged on the other half,
    over the swap-averaged probabilities (one triple per example)."""
    from judge_core.calibration import calibrate_split

    gold = {ex.uid: ex.label for ex in examples}
    probs = {j.uid: j.probs for j in swap_averaged(judgments, allow_tie(examples)) if j.probs is not None}
    return calibrate_split(gold, probs)
