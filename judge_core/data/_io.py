"""File access for loaders: data root, readers that know their line numbers, bad-record policy, fetch.

Every record a loader reads comes with where it is (`At`: the 1-based line where it starts, as an
editor numbers lines, and its 0-based index among the file's records, which is the example's
`index`), so an error can name file, line, example and field.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import sys
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from ..verdicts import Verdict

OnBadRecord = Literal["error", "skip"]
DataRoot = str | os.PathLike | None  # None: $JUDGE_DATA_DIR, else ./data, else ../shared/data


class At(NamedTuple):
    """Where a record is: the 1-based line where it starts (the row, for Parquet and datasets: `unit`),
    and its 0-based index among the records."""

    line: int
    # shadows tuple.index(value), which nothing calls on an At; mypy cannot tell a field from an override
    index: int  # type: ignore[assignment]
    unit: str = "line"


class BadRecordError(ValueError):
    """A record that cannot be used; the message names the file, the 1-based line where the record
    starts, the example's index where there is one, and the field."""

    def __init__(
        self,
        path: Path | str,
        line: int | None,
        field_name: str | None,
        reason: str,
        index: int | None = None,
        unit: str = "line",
    ):
        self.path, self.line, self.index, self.field, self.reason = str(path), line, index, field_name, reason
        where = str(path) + (f", {unit} {line}" if line else "") + (f" (example {index})" if index is not None else "")
        super().__init__(f"{where}{f', field {field_name!r}' if field_name else ''}: {reason}")

    @classmethod
    def at(cls, path: Path | str, at: At, field_name: str | None, reason: str) -> BadRecordError:
        return cls(path, at.line, field_name, reason, at.index, at.unit)


@dataclass
class LoadReport:
    """What a load kept, skipped (bad rows, under --on-bad-record skip) and filtered (documented filters)."""

    skipped: list[BadRecordError] = field(default_factory=list)
    filtered: dict[str, int] = field(default_factory=dict)
    modified: dict[str, str] = field(default_factory=dict)  # file -> its sha256, where it differs from the pinned one

    def filter_out(self, reason: str) -> None:
        self.filtered[reason] = self.filtered.get(reason, 0) + 1


def data_root(root: DataRoot = None) -> Path:
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


def cache_dir() -> Path:
    """Where downloads go: pinned benchmark files, copies of your files from storage URIs."""
    return Path(os.environ.get("JUDGE_CACHE_DIR", Path.home() / ".cache" / "judgeray"))


def _read_text(path: Path) -> str:
    """The file as text; bytes that are not UTF-8 become lone surrogates (surrogateescape), so a
    record holding them is found and named (not_utf8) instead of failing the whole file."""
    return path.read_bytes().decode("utf-8", errors="surrogateescape")


_ESCAPED = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a byte that is not UTF-8


def not_utf8(value: object) -> str | None:
    """Why a decoded record is not UTF-8 (its first bad byte), or None."""
    if isinstance(value, str):
        m = _ESCAPED.search(value)
        return f"not valid UTF-8 (byte 0x{ord(m.group(0)) - 0xDC00:02x})" if m else None
    if isinstance(value, dict):
        value = list(value.keys()) + list(value.values())
    if isinstance(value, list):
        return next((why for v in value if (why := not_utf8(v))), None)
    return None


def read_json_list(path: Path) -> Iterator[tuple[At, Any]]:
    """Records of a JSON array, each with the line where it starts; the index is the array position."""
    text = _read_text(path)
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as e:
        raise BadRecordError(path, e.lineno, None, f"not valid JSON ({e.msg})") from e
    if not isinstance(rows, list):
        raise BadRecordError(path, None, None, "expected a JSON array of records")
    yield from ((At(line, i), r) for i, (line, r) in enumerate(zip(_element_lines(text), rows)))


_BETWEEN = re.compile(r"[\s,]*")


def _element_lines(text: str) -> Iterator[int]:
    """The line where each element of a (valid) top-level JSON array starts."""
    decoder, pos, line, counted = json.JSONDecoder(), text.index("[") + 1, 1, 0
    while True:
        between = _BETWEEN.match(text, pos)
        assert between is not None  # [\s,]* matches anywhere, if only the empty string
        pos = between.end()
        if pos >= len(text) or text[pos] == "]":
            return
        line, counted = line + text.count("\n", counted, pos), pos
        yield line
        pos = decoder.raw_decode(text, pos)[1]


def read_jsonl(path: Path) -> Iterator[tuple[At, Any]]:
    """Records of a JSON-lines file with their line; a malformed line yields a BadRecordError.

    Blank lines are skipped and do not count as records, as in the sources' own readers.
    """
    with path.open(encoding="utf-8", errors="surrogateescape") as f:
        index = 0
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield At(lineno, index), json.loads(line)
            except (json.JSONDecodeError, RecursionError) as e:
                yield (
                    At(lineno, index),
                    BadRecordError(path, lineno, None, f"not valid JSON ({getattr(e, 'msg', e)})", index),
                )
            index += 1


def read_csv(path: Path) -> Iterator[tuple[At, dict[str, str]]]:
    """Records of a CSV with a header, each with the line where it starts (a quoted field may span
    lines); very large fields allowed."""
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as f:
        reader = csv.DictReader(f)
        reader.fieldnames  # noqa: B018 - reads the header line
        before = reader.line_num
        for index, record in enumerate(reader):
            yield At(before + 1, index), record
            before = reader.line_num


def collect(
    rows: Iterator[tuple[At, Any]],
    path: Path | str,
    make: Callable[[int, Any], Any],
    on_bad_record: OnBadRecord,
    report: LoadReport,
) -> list:
    """Turn located records into examples with `make(index, record)`; bad records raise or are counted.

    `make` may return None for a record removed by a documented filter (it must call report.filter_out).
    A file without a single record is an error whatever the policy: it is a broken file, not bad rows.
    """
    out, seen = [], 0
    for at, record in rows:
        seen += 1
        try:
            example = make_located(path, at, record, make)
        except BadRecordError as e:
            if on_bad_record == "error":
                raise
            report.skipped.append(e)
            continue
        if example is not None:
            out.append(example)
    if not seen:
        raise BadRecordError(path, None, None, "the file holds no records (empty)")
    return out


def make_located(path: Path | str, at: At, record: Any, make: Callable[[int, Any], Any]) -> Any:
    """make(index, record), with any error it raises named by file, line, example and field."""
    if isinstance(record, BadRecordError):
        raise record
    if why := not_utf8(record):
        raise BadRecordError.at(path, at, None, why)
    try:
        return make(at.index, record)
    except BadRecordError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise BadRecordError.at(path, at, _field_of(e), _reason_of(e)) from e


def _field_of(e: Exception) -> str | None:
    if isinstance(e, FieldError):
        return e.field_name
    if isinstance(e, KeyError):
        return str(e.args[0]) if e.args else None
    errors = getattr(e, "errors", None)  # pydantic ValidationError
    if callable(errors):
        locs = [".".join(str(p) for p in err.get("loc", ())) for err in errors()]
        return ", ".join(loc for loc in locs if loc) or None
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
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise FieldError(key, f"expected {getattr(kind, '__name__', kind)}, got {value!r:.60}")
    return value


class FieldError(ValueError):
    def __init__(self, field_name: str, reason: str):
        super().__init__(reason)
        self.field_name = field_name


def label_from(record: dict, key: str, mapping: Mapping[Any, Verdict]) -> Verdict:
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


class ModifiedDataError(ValueError):
    """A local file whose content differs from the sha256 pinned for its public source."""


_DIGESTS: dict[tuple, str] = {}  # (path, size, mtime_ns) -> sha256: each file is read once per process


def verify_pinned(path: Path, remote: Remote | None, accept_modified: bool, report: LoadReport) -> None:
    """Check a local file against its pinned sha256. A mismatch is an error naming the file and both
    digests, unless accepted (accept_modified, or $JUDGE_ACCEPT_MODIFIED_DATA=1): then it is
    recorded in report.modified, and the sweep report marks every cell judged on it."""
    if remote is None or remote.sha256 is None:
        return
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    digest = _DIGESTS.get(key) or _DIGESTS.setdefault(key, sha256_of(path))
    if digest == remote.sha256:
        return
    if accept_modified or os.environ.get("JUDGE_ACCEPT_MODIFIED_DATA") == "1":
        report.modified[str(path)] = digest
        return
    raise ModifiedDataError(
        f"{path} differs from its pinned source: sha256 {digest}, pinned {remote.sha256} ({remote.url}). "
        "Restore the file (delete it and load with fetch, or copy it again), or accept the modified data "
        "(sweep: accept_modified_data=true; judge score: --accept-modified-data; any verb: "
        "JUDGE_ACCEPT_MODIFIED_DATA=1): the report then marks the cells judged on it"
    )


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
