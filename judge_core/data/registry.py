"""The list of sources users can name, and where each one's files live."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ._io import LoadReport, OnBadRecord, Remote, collect

Reader = Callable[[Path, "Source", str, OnBadRecord, LoadReport], list]


@dataclass(frozen=True)
class Subset:
    path: str  # relative to the data root
    remote: Remote | None = None


@dataclass(frozen=True)
class Source:
    """One benchmark or training source: its subsets (files), its reader and its paper's protocol."""

    name: str
    kind: str  # "benchmark", "train", or "file" (your own data: data/files.py)
    subsets: dict[str, Subset]
    read: Reader
    protocol: str | None = None
    description: str = ""
    filters: tuple[str, ...] = field(default=())  # documented filters the reader applies


SOURCES: dict[str, Source] = {}


def register(source: Source) -> Source:
    if source.name in SOURCES:
        raise ValueError(f"source {source.name!r} registered twice")
    SOURCES[source.name] = source
    return source


def github(repo: str, commit: str, path: str, sha256: str | None) -> Remote:
    """A file pinned at a commit of a public GitHub repository."""
    return Remote(f"https://raw.githubusercontent.com/{repo}/{commit}/{path}", sha256)


def pinned_file(subset: str, local: str, repo: str, commit: str, remote: str, sha256: str | None) -> dict[str, Subset]:
    """{subset: its file under the data root, pinned at a commit of a public GitHub repository}."""
    return {subset: Subset(local, github(repo, commit, remote, sha256))}


def rows_reader(read_rows: Callable, make: Callable) -> Reader:
    """A Reader from a row iterator (read_json_list, read_jsonl, read_csv) and
    `make(row, record, source, subset) -> example`."""

    def read(path: Path, source: Source, subset: str, on_bad_record: OnBadRecord, report: LoadReport) -> list:
        return collect(read_rows(path), path, lambda row, r: make(row, r, source, subset), on_bad_record, report)

    return read
