"""Where judgments live: the results layout, a cell's config hash, Parquet parts, the judgment schema.

    results/<run>/<judge>/<template or ->/<benchmark>-<subset>/
        config.json          {"hash": ..., judge, template, benchmark, subset, orders, limit, schema, ...}
        parts/part-NNNNN.parquet   one row per judgment (JUDGMENTS), written whole or not at all
        metrics.json         written last: a finished cell

This module is also the one place where an absent number meets Parquet: a missing probability is
written as null and read back as None (parts written before this module existed hold NaN there,
which reads back as None too).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from judge_core import prompts
from judge_core.schema import Judgment

from .spec import EnsembleSpec, JudgeSpec

SCHEMA_VERSION = 1  # part of every cell's hash: bump when stored judgments change meaning

JUDGMENTS = pa.schema(
    [
        ("uid", pa.string()),
        ("judge", pa.string()),
        ("template", pa.string()),
        ("order", pa.string()),
        ("raw", pa.string()),
        ("verdict", pa.int8()),
        ("p_tie", pa.float64()),
        ("p1", pa.float64()),
        ("p2", pa.float64()),
        ("scores", pa.list_(pa.float64())),
        ("tokens_in", pa.int64()),
        ("tokens_out", pa.int64()),
        ("seconds", pa.float64()),
        ("truncated", pa.bool_()),
        ("error", pa.string()),
    ]
)
TAGGED = pa.schema([("cell", pa.string())] + list(JUDGMENTS))  # a judgment and the cell it belongs to
PROBS = ("p_tie", "p1", "p2")


# ---- addresses ----------------------------------------------------------------------------------------
def leaf(benchmark: str, subset: str) -> str:
    return f"{benchmark}-{subset}"


def cell_key(judge: str, template: str | None, benchmark: str, subset: str) -> str:
    """judge/template/benchmark-subset, the cell's path under a run's results directory."""
    return f"{judge}/{template or '-'}/{leaf(benchmark, subset)}"


@dataclass
class Cell:
    """One (judge, template, benchmark subset): the unit that is judged, stored, resumed and scored."""

    judge: JudgeSpec | EnsembleSpec  # an ensemble cell reads its members' stored judgments
    template: str | None
    benchmark: str
    subset: str
    orders: tuple[str, ...] = ("ab", "ba")
    limit: int | None = None  # first N examples (quick runs); part of the hash
    root: str | None = None
    examples: list | None = None  # given examples (judge compare) instead of loading the benchmark
    on_bad_record: str = "error"  # loading: a bad record fails the cell, or is skipped and reported
    accept_modified: bool = False  # a benchmark file that differs from its pinned sha256 is judged, and marked
    loaded: list | None = field(default=None, repr=False)  # the examples judged, once loaded (their digest is hashed)
    available: int | None = field(default=None, repr=False)  # the subset's examples before `limit` (report banner)

    @property
    def key(self) -> str:
        return cell_key(self.judge.name, self.template, self.benchmark, self.subset)

    def config(self) -> dict:
        """What the stored judgments depend on; its hash decides whether they can be reused. The
        examples' content is part of it: judgments of a file that was cut, edited or fixed since are
        never reused for it."""
        data = self.examples if self.examples is not None else self.loaded
        artifacts = local_artifacts(self.judge)
        return (
            {
                "judge": self.judge.judging_config(),
                "template": self.template,
                "benchmark": self.benchmark,
                "subset": self.subset,
                "orders": list(self.orders),
                "limit": self.limit,
                "schema": SCHEMA_VERSION,
            }
            | ({"examples": examples_digest(data)} if data is not None else {})
            | (prompts.hashed(self.template, self.judge.parse, self.judge.mode == "generate") if self.template else {})
            | ({"artifacts": artifacts} if artifacts else {})
        )

    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.config(), sort_keys=True).encode()).hexdigest()[:16]


def examples_digest(examples: list) -> str:
    """The content of the examples a cell judges (every field, in order)."""
    return hashlib.sha256("\n".join(ex.model_dump_json() for ex in examples).encode()).hexdigest()[:16]


def fingerprint(path: Path) -> str:
    """Names, sizes and modification times of a local file or of the files under a directory: an
    adapter retrained at the same path gets a new fingerprint. Cheap for multi-GB model
    directories, whose files are not read."""
    files = [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.is_file())
    stamp = "\n".join(
        f"{f.relative_to(path) if f != path else f.name} {f.stat().st_size} {f.stat().st_mtime_ns}" for f in files
    )
    return hashlib.sha256(stamp.encode()).hexdigest()[:16]


def local_artifacts(judge: JudgeSpec | EnsembleSpec) -> dict:
    """Fingerprints of the judge's model and adapter where they are local paths, so stored judgments
    of an older model are never taken for a retrained one's (hub ids are not checked; the feature
    baseline's joblib is a deterministic function of the shared data and is not either)."""
    paths = {"model": judge.model, "adapter": judge.adapter}
    return {k: fingerprint(Path(v)) for k, v in paths.items() if v and Path(v).exists()}


# ---- a cell on disk -----------------------------------------------------------------------------------
def prepare_dir(cell: Cell, cell_dir: Path) -> str:
    """'done' (finished with this config), 'resume' or 'new'. A cell judged under another config is
    moved aside to <cell>.old-<hash>, never deleted."""
    config_path = cell_dir / "config.json"
    if config_path.exists():
        old = json.loads(config_path.read_text())
        if old.get("hash") == cell.config_hash():
            return "done" if (cell_dir / "metrics.json").exists() else "resume"
        os.replace(cell_dir, cell_dir.with_name(f"{cell_dir.name}.old-{old.get('hash')}"))
    cell_dir.mkdir(parents=True, exist_ok=True)
    write_json(config_path, {"hash": cell.config_hash()} | cell.config())
    return "new"


def read_parts(cell_dir: Path, log=print) -> pa.Table | None:
    """Every stored judgment of a cell. A part that cannot be read (truncated, empty, not Parquet,
    another schema) is moved aside to parts/unreadable/ and its rows count as not judged: they are
    judged again, never lost and never a reason to fail the cell."""
    tables = []
    for path in sorted((cell_dir / "parts").glob("part-*.parquet")):
        try:
            tables.append(pq.read_table(path).cast(JUDGMENTS))
        except (OSError, ValueError, pa.ArrowException) as exc:
            aside = path.parent / "unreadable" / path.name
            aside.parent.mkdir(exist_ok=True)
            os.replace(path, aside)
            log(f"[moved aside] {path}: unreadable ({type(exc).__name__}: {str(exc)[:120]}); its rows are judged again")
    return pa.concat_tables(tables) if tables else None


def write_part(cell_dir: Path, table: pa.Table) -> None:
    """The next part, written to a temporary name and renamed: a killed run leaves only whole parts."""
    parts = cell_dir / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    n = 1 + max((int(p.stem.split("-")[1]) for p in parts.glob("part-*.parquet")), default=-1)
    tmp = parts / f".part-{n:05d}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, parts / f"part-{n:05d}.parquet")


def read_judgments(cell_dir: Path) -> list[Judgment]:
    table = read_parts(cell_dir)
    return [] if table is None else [judgment_from_row(r) for r in table.to_pylist()]


def write_judgments(cell_dir: Path, judgments: list[Judgment]) -> None:
    write_part(
        cell_dir, pa.Table.from_pylist([judgment_row(j) | {"truncated": False} for j in judgments], schema=JUDGMENTS)
    )


def write_json(path: Path, data: dict) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


class ResultsLocked(RuntimeError):
    """Another live process is writing this results folder."""


@contextlib.contextmanager
def locked(results_dir: Path, log=print):
    """Hold <results_dir>/.lock while writing the folder: a second sweep or compare on it is refused
    with a message naming the holder (host, pid, command, since when). The lock is an flock(2) on the
    file, which the kernel releases when its process dies, even by SIGKILL: a lock left by a dead
    process is taken over (and said so), never a reason to delete anything by hand."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / ".lock"
    f = open(path, "a+")  # noqa: SIM115 - the flock lives as long as this file object
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "a process that has not written its name yet"
        f.close()
        raise ResultsLocked(
            f"{results_dir} is being written by {holder} (lock {path}); wait for it to finish "
            "or stop it, or write to another output_dir or name"
        ) from None
    f.seek(0)
    before = f.read().strip()
    if before:
        log(f"[lock] {results_dir}: took over the lock of {before}, which is no longer running")
    f.seek(0)
    f.truncate()
    f.write(
        f"pid {os.getpid()} on {socket.gethostname()} ({' '.join(sys.argv)[:200]}) since "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n"
    )
    f.flush()
    try:
        yield
    finally:
        f.seek(0)
        f.truncate()  # an empty lock file: released cleanly
        f.close()  # closing releases the flock


_WRITTEN = {"ok": "ok", "left_out": "left out", "failed": "failed"}  # a state as str() and old files write it


class CellStatus(BaseModel):
    """A cell's outcome, as status.json stores it: ok (with what its data lost or changed, if anything),
    left out (its judge's model is missing: not run, and not a failure) or failed (why, in one line; the
    traceback is in the cell's error.txt)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: Literal["ok", "left_out", "failed"]
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def __str__(self) -> str:
        prefix = _WRITTEN[self.state]
        return f"{prefix}: {self.reason}" if self.reason else prefix

    @classmethod
    def read(cls, value) -> CellStatus:
        """A status.json entry; one written before statuses were typed is a string ("ok", "ok: note",
        "left out: why", "failed: why") and is read the same."""
        if isinstance(value, dict):
            return cls.model_validate(value)
        for state, prefix in _WRITTEN.items():
            if value == prefix or value.startswith(prefix + ": "):
                return cls(state=state, reason=value[len(prefix) + 2 :])
        return cls(state="failed", reason=value)


def write_status(path: Path, status: dict[str, CellStatus]) -> None:
    write_json(path, {key: s.model_dump() for key, s in status.items()})


def read_status(path: Path) -> dict[str, CellStatus]:
    """status.json of a run ({} when it has none)."""
    return {k: CellStatus.read(v) for k, v in json.loads(path.read_text()).items()} if path.exists() else {}


def data_note(metrics: dict) -> str:
    """What a finished cell's data lost or changed (bad records skipped, modified files), or ""."""
    notes = []
    if metrics.get("skipped_bad_rows"):
        first = (metrics.get("skipped_reasons") or [""])[0]
        notes.append(f"skipped {metrics['skipped_bad_rows']} bad records (on_bad_record: skip; first: {first})")
    for path, digest in (metrics.get("data_modified") or {}).items():
        notes.append(f"judged modified data {path} (sha256 {digest[:16]}..., not its pinned sha256)")
    return "; ".join(notes)


def status_groups(status: dict[str, CellStatus]) -> tuple[list, dict, dict]:
    """The cells as (ok keys, {left out: why}, {failed: why})."""
    ok = [k for k, s in status.items() if s.state == "ok"]
    left = {k: s.reason for k, s in status.items() if s.state == "left_out"}
    failed = {k: s.reason for k, s in status.items() if s.state == "failed"}
    return ok, left, failed


def data_notes(status: dict[str, CellStatus]) -> dict:
    """{cell: note} of the finished cells whose data lost rows or was modified."""
    return {k: s.reason for k, s in status.items() if s.state == "ok" and s.reason}


def finished_cells(results_dir: Path) -> Iterator[dict]:
    """metrics.json of every finished cell of a run, in path order (not the cells moved aside as
    <cell>.old-<hash> when their config or data changed)."""
    for path in sorted(Path(results_dir).glob("*/*/*/metrics.json")):
        if ".old-" not in path.parent.name:
            yield json.loads(path.read_text())


# ---- one judgment as a flat row -----------------------------------------------------------------------
def judgment_row(j: Judgment) -> dict:
    """A flat row for Parquet: probabilities as three columns (null when absent)."""
    row = j.model_dump(exclude={"probs", "scores"})
    return row | dict(zip(PROBS, j.probs or (None,) * 3)) | {"scores": list(j.scores) if j.scores else None}


def judgment_from_row(row: dict) -> Judgment:
    probs = tuple(row[k] for k in PROBS)
    fields = {k: v for k, v in row.items() if k in Judgment.model_fields and k not in ("probs", "scores")}
    scores = row.get("scores")
    return Judgment(
        **fields,
        probs=None if any(_absent(p) for p in probs) else probs,
        scores=tuple(scores) if scores is not None and len(scores) else None,
    )


def _absent(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))  # NaN: parts written before 2026-12
