"""The input of `judge annotate` cut into shards, each read where it is judged.

    shards, columns = plan("data/unlabelled.parquet", "parquet", shard_rows=1000)
    records = read(shards[3])          # [(At, record)] of that shard only, on whichever worker runs it

A shard is a fixed run of rows of one file: rows [start, stop) of a Parquet file, or bytes [start, stop)
of a JSON-lines file (cut at line ends). The plan is a function of the input alone, so a re-run cuts
the same shards and judges only those without an output file. The driver holds the plan (one small
record per shard), never the rows: it reads Parquet footers, and scans JSON lines once for offsets.
Local paths and storage URIs (s3://, gs://, file://) are read through pyarrow's filesystems.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from judge_core.data._io import At, BadRecordError, not_utf8

FORMATS = ("parquet", "jsonl")


@dataclass(frozen=True)
class Shard:
    index: int
    file: str  # a local path or a URI
    format: str
    start: int  # Parquet: first row in the file; JSON lines: first byte
    stop: int  # Parquet: row after the last; JSON lines: byte after the last line
    line: int  # the 1-based line (row, for Parquet) of its first record in the file
    first: int  # the 0-based index of its first record in the whole input
    rows: int

    def to_row(self) -> dict:
        return asdict(self)


def filesystem(where: str):
    """(pyarrow filesystem, path in it) for a local path or a storage URI."""

    if "://" in where:
        return pafs.FileSystem.from_uri(where)
    return pafs.LocalFileSystem(), str(Path(where).resolve())


def files_of(where: str, fmt: str | None) -> tuple[list[str], str]:
    """(the input's files in name order, their format): a file, or every file of a directory with the suffix."""

    fs, path = filesystem(where)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(f"annotate input {where}: not found (cwd {Path.cwd()})")
    fmt = fmt or Path(path).suffix.lstrip(".").lower() if info.type == pafs.FileType.File else fmt or "parquet"
    if fmt not in FORMATS:
        raise ValueError(
            f"annotate input {where}: {fmt or 'no suffix'} cannot be cut into shards; give Parquet or "
            f"JSON lines (format: {' or '.join(FORMATS)}), e.g. convert a CSV with pandas once"
        )
    if info.type == pafs.FileType.File:
        return [where], fmt
    found = fs.get_file_info(pafs.FileSelector(path, recursive=True))
    names = sorted(f.path for f in found if f.type == pafs.FileType.File and f.path.endswith("." + fmt))
    if not names:
        raise FileNotFoundError(f"annotate input {where}: no .{fmt} files in it")
    prefix = where[: where.index("://") + 3] if "://" in where else ""
    return [prefix + n if prefix and not n.startswith(prefix) else n for n in names], fmt


def plan(where: str, fmt: str | None, shard_rows: int) -> tuple[list[Shard], list[str]]:
    """(every shard of the input in order, the column names of its first record)."""
    files, fmt = files_of(where, fmt)
    shards: list[Shard] = []
    columns: list[str] = []
    for file in files:
        cut = _parquet_cuts(file, shard_rows) if fmt == "parquet" else _jsonl_cuts(file, shard_rows)
        for start, stop, line, rows, names in cut:
            shards.append(
                Shard(
                    len(shards), file, fmt, start, stop, line, shards[-1].first + shards[-1].rows if shards else 0, rows
                )
            )
            columns = columns or names
    return shards, columns


def _parquet_cuts(file: str, shard_rows: int):

    fs, path = filesystem(file)
    meta = pq.ParquetFile(fs.open_input_file(path)).metadata
    names = meta.schema.to_arrow_schema().names
    for start in range(0, meta.num_rows, shard_rows):
        stop = min(meta.num_rows, start + shard_rows)
        yield start, stop, start + 1, stop - start, names


def _jsonl_cuts(file: str, shard_rows: int):
    """(first byte, end byte, first line, records, column names) every shard_rows non-blank lines."""
    fs, path = filesystem(file)
    names: list[str] = []
    start = offset = rows = 0
    first_line = line = 1
    with io.BufferedReader(fs.open_input_stream(path), 1 << 20) as f:  # pyarrow's streams have no readline
        while raw := f.readline():
            if raw.strip():
                if rows == 0:
                    start, first_line = offset, line
                if not names:
                    names = _keys(raw)
                rows += 1
            offset, line = offset + len(raw), line + 1
            if rows == shard_rows:
                yield start, offset, first_line, rows, names
                rows = 0
    if rows:
        yield start, offset, first_line, rows, names


def _keys(raw: bytes) -> list[str]:
    try:
        record = json.loads(raw)
    except ValueError:
        return []
    return list(record) if isinstance(record, dict) else []


def read(shard: Shard) -> list[tuple[At, object]]:
    """The shard's records with where each one is (a line that is not JSON comes as its BadRecordError)."""
    fs, path = filesystem(shard.file)
    if shard.format == "parquet":
        return _parquet_records(fs, path, shard)
    with fs.open_input_file(path) as f:
        f.seek(shard.start)
        lines = f.read(shard.stop - shard.start).split(b"\n")
    out, index = [], shard.first
    for n, raw in enumerate(lines):
        if not raw.strip():
            continue
        at = At(shard.line + n, index)
        text = raw.decode("utf-8", errors="surrogateescape")
        try:
            record = json.loads(text)
            if why := not_utf8(record):
                raise ValueError(why)
        except (ValueError, RecursionError) as e:
            record = BadRecordError.at(shard.file, at, None, str(e) if "UTF-8" in str(e) else f"not valid JSON ({e})")
        out.append((at, record))
        index += 1
    return out


def _parquet_records(fs, path: str, shard: Shard) -> list[tuple[At, object]]:
    """Rows [start, stop) of a Parquet file, reading only the row groups that hold them."""

    pf = pq.ParquetFile(fs.open_input_file(path))
    groups, first = [], 0
    for g in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(g).num_rows
        if first < shard.stop and first + n > shard.start:
            groups.append((g, first))
        first += n
    offset = groups[0][1] if groups else shard.start
    table = pf.read_row_groups([g for g, _ in groups]) if groups else pa.table({})
    rows = table.slice(shard.start - offset, shard.rows).to_pylist()
    return [(At(shard.start + 1 + i, shard.first + i, "row"), r) for i, r in enumerate(rows)]


def input_table(records: list[dict], shard: Shard):
    """The shard's input columns as a table: a Parquet file's own schema (so every shard file has the
    same one), else each column's type inferred (a line that was not JSON has nulls)."""

    if shard.format == "parquet":
        fs, path = filesystem(shard.file)
        return pa.Table.from_pylist(records, schema=pq.read_schema(fs.open_input_file(path)))
    keys = list(dict.fromkeys(k for r in records for k in r))
    return (
        pa.table({k: [r.get(k) for r in records] for k in keys})
        if keys
        else pa.table({"_": [None] * len(records)}).drop_columns(["_"])
    )
