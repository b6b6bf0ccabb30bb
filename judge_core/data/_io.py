"""File access for loaders: data root, readers that know their line numbers, bad-record policy, fetch.

Every record a loader reads comes with its location, so an error can name file, row and field.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

OnBadRecord = Literal["error", "skip"]


class BadRecordError(ValueError):
    """A source row that cannot become an example; the message names file, row and field."""

    def __init__(self, path: Path | str, row: int, field_name: str | None, reason: str):
        self.path, self.row, self.field, self.reason = str(path), row, field_name, reason
        where = f"{path}, row {row}" + (f", field {field_name!r}" if field_name else "")
        super().__init__(f"{where}: {reason}")


@dataclass
class LoadReport:
    """What a load kept, skipped (bad rows, under --on-bad-record skip) and filtered (documented filters)."""

    skipped: list[BadRecordError] = field(default_factory=list)
    filtered: dict[str, int] = field(default_factory=dict)

    def filter_out(self, reason: str) -> None:
        self.filtered[reason] = self.filtered.get(reason, 0) + 1


def data_root(root: str | os.PathLike | None = None) -> Path:
    """`root`, else $JUDGE_DATA_DIR, else ./data, else ../shared/data (first that exists)."""
    if root is not None:
        return Path(root)
    env = os.environ.get("JUDGE_DATA_DIR")
    if env:
        return Path(env)
    for candidate in (Path("data"), Path("..") / "shared" / "data"):
        if candidate.is_dir():
            return candidate
    return Path("data")


def read_json_list(path: Path) -> Iterator[tuple[int, Any]]:
    """Rows of a JSON array, numbered from 0 (the row number is the array position)."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise BadRecordError(path, 0, None, f"not valid JSON (line {e.lineno}: {e.msg})") from e
    if not isinstance(rows, list):
        raise BadRecordError(path, 0, None, "expected a JSON array of records")
    yield from enumerate(rows)


def read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Rows of a JSON-lines file, numbered from 0 by line; a malformed line is a BadRecordError.

    Blank lines are skipped and do not count as rows, as in the sources' own readers.
    """
    with path.open(encoding="utf-8") as f:
        row = 0
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield row, json.loads(line)
            except json.JSONDecodeError as e:
                yield row, BadRecordError(path, row, None, f"line {lineno} is not valid JSON ({e.msg})")
            row += 1


def read_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV with a header; quoted multi-line fields and very large fields allowed."""
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as f:
        yield from enumerate(csv.DictReader(f))


def collect(rows: Iterator[tuple[int, Any]], path: Path, make: Callable[[int, Any], Any],
            on_bad_record: OnBadRecord, report: LoadReport) -> list:
    """Turn numbered rows into examples with `make(row, record)`; bad rows raise or are counted.

    `make` may return None for a row removed by a documented filter (it must call report.filter_out).
    """
    out = []
    for row, record in rows:
        try:
            if isinstance(record, BadRecordError):
                raise record
            example = make(row, record)
        except BadRecordError as e:
            if on_bad_record == "error":
                raise
            report.skipped.append(e)
            continue
        except (KeyError, TypeError, ValueError) as e:
            err = BadRecordError(path, row, _field_of(e), _reason_of(e))
            if on_bad_record == "error":
                raise err from e
            report.skipped.append(err)
            continue
        if example is not None:
            out.append(example)
    return out


def _field_of(e: Exception) -> str | None:
    if isinstance(e, FieldError):
        return e.field_name
    if isinstance(e, KeyError):
        return str(e.args[0]) if e.args else None
    errors = getattr(e, "errors", None)  # pydantic ValidationError
    if callable(errors):
        locs = [".".join(str(p) for p in err.get("loc", ())) for err in errors()]
        return ", ".join(l for l in locs if l) or None
    return None


def _reason_of(e: Exception) -> str:
    if isinstance(e, KeyError):
        return "missing field"
    errors = getattr(e, "errors", None)
    if callable(errors):
        return "; ".join(err.get("msg", "") for err in errors())
    return str(e)


def need(record: dict, key: str, kind: type | tuple[type, ...] = str) -> Any:
    """record[key] checked for type; raises KeyError/ValueError that collect() turns into a BadRecordError."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise FieldError(key, f"expected {getattr(kind, '__name__', kind)}, got {value!r:.60}")
    return value


class FieldError(ValueError):
    def __init__(self, field_name: str, reason: str):
        super().__init__(reason)
        self.field_name = field_name


def label_from(record: dict, key: str, mapping: dict) -> int:
    """Map a source label through `mapping`; an unknown value names the field."""
    value = record[key]
    if isinstance(value, bool) or value not in mapping:
        raise FieldError(key, f"unknown label value {value!r}; expected one of {sorted(mapping, key=str)}")
    return mapping[value]


# ---- fetching a public copy -------------------------------------------------------------------

@dataclass(frozen=True)
class Remote:
    """A pinned public copy of a source file: exact URL (commit or revision in it) and sha256."""

    url: str
    sha256: str | None = None


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(remote: Remote, dest: Path, allow_unpinned: bool = False) -> Path:
    """Download `remote` to `dest` (atomic), verify its sha256, and return `dest`.

    A file already at `dest` with the right checksum is reused. A remote without a checksum is
    refused unless `allow_unpinned` (or $JUDGE_ALLOW_UNPINNED=1): its sha256 is then printed so
    it can be pinned.
    """
    allow_unpinned = allow_unpinned or os.environ.get("JUDGE_ALLOW_UNPINNED") == "1"
    if remote.sha256 is None and not allow_unpinned:
        raise ValueError(f"{remote.url} has no pinned sha256; set JUDGE_ALLOW_UNPINNED=1 to fetch it anyway")
    if dest.exists() and remote.sha256 and sha256_of(dest) == remote.sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    with urllib.request.urlopen(remote.url, timeout=60) as response, tmp.open("wb") as out:
        while block := response.read(1 << 20):
            out.write(block)
    digest = sha256_of(tmp)
    if remote.sha256 and digest != remote.sha256:
        tmp.unlink()
        raise ValueError(f"checksum mismatch for {remote.url}: expected {remote.sha256}, got {digest}")
    if remote.sha256 is None:
        print(f"fetched unpinned {remote.url}: sha256 {digest}", file=sys.stderr)
    tmp.replace(dest)
    return dest
