"""Benchmark and training sources: `load(name)` returns validated examples in the project convention.

    from judge_core.data import load
    examples, report = load("llmbar", subset="neighbor")

Files are looked up under the data root ($JUDGE_DATA_DIR, else ./data, else ../shared/data), then
in the download cache ($JUDGE_CACHE_DIR, default ~/.cache/judgeray); with fetch=True a missing file
is downloaded from its pinned public URL and checked against its sha256.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..schema import Text
from . import arena, autoj, critiquellm, judgelm, llmbar, pandalm, train  # noqa: F401  (registers)
from ._io import (
    BadRecordError,
    DataRoot,
    LoadReport,
    ModifiedDataError,
    OnBadRecord,
    cache_dir,
    data_root,
    fetch,
    verify_pinned,
)
from .files import FileDataset, register
from .registry import SOURCES, Source, Subset

__all__ = [
    "SOURCES",
    "BadRecordError",
    "FileDataset",
    "LoadReport",
    "ModifiedDataError",
    "Source",
    "data_root",
    "decontaminate",
    "load",
    "load_all",
    "locate",
    "normalise_text",
    "register",
    "source",
    "targets",
]


def source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(sorted(SOURCES))}") from None


def targets(names: list[str]) -> list[tuple[str, str]]:
    """(source, subset) pairs: "llmbar/natural" names one subset, "llmbar" every subset of it."""
    out = []
    for name in names:
        bench, _, subset = name.partition("/")
        out += [(bench, subset)] if subset else [(bench, s) for s in source(bench).subsets]
    return out


def locate(name: str, subset: str, root: DataRoot = None, fetch_missing: bool = False) -> Path:
    """Path of one subset's file: data root, then cache, then (fetch_missing) a verified download."""
    spec = _subset(source(name), subset)
    for base in (data_root(root), cache_dir()):
        if (base / spec.path).is_file():
            return base / spec.path
    if fetch_missing and spec.remote is not None:
        return fetch(spec.remote, cache_dir() / spec.path)
    fetch_hint = (
        f"; `judge data show {name} --fetch` downloads its public copy ({spec.remote.url})" if spec.remote else ""
    )
    raise FileNotFoundError(
        f"{name}/{subset}: {spec.path} not found under {data_root(root)} (cwd {Path.cwd()}). "
        "Set JUDGE_DATA_DIR or the config's root: to the data root; in a Ray job, pass it in the "
        'runtime_env: --runtime-env-json \'{"env_vars": {"JUDGE_DATA_DIR": "/abs/path/data"}}\'' + fetch_hint
    )


def _subset(src: Source, subset: str) -> Subset:
    if subset not in src.subsets:
        raise KeyError(f"{src.name} has no subset {subset!r}; subsets: {', '.join(src.subsets)}")
    return src.subsets[subset]


def load(
    name: str,
    subset: str | None = None,
    root: DataRoot = None,
    on_bad_record: OnBadRecord = "error",
    fetch: bool = False,
    accept_modified: bool = False,
) -> tuple[list, LoadReport]:
    """Examples of one source (all its subsets when `subset` is None) and what was skipped or filtered.

    on_bad_record="error" raises BadRecordError naming file, line, example and field at the first bad row;
    "skip" leaves bad rows out and lists each one in report.skipped. A file with a pinned sha256 that
    differs raises ModifiedDataError unless accept_modified (then listed in report.modified).
    """
    src = source(name)
    report = LoadReport()
    examples = []
    for sub in [subset] if subset else list(src.subsets):
        if src.kind == "file":  # your own data (data/files.py) knows where it is
            # a Reader takes a Path; this kind's (files.register) takes none and ignores it
            examples += src.read(None, src, sub, on_bad_record, report)  # type: ignore[arg-type]
            continue
        path = locate(name, sub, root, fetch_missing=fetch)
        verify_pinned(path, src.subsets[sub].remote, accept_modified, report)
        examples += src.read(path, src, sub, on_bad_record, report)
    return examples, report


def load_all(kind: str | None = None, root: DataRoot = None) -> dict[str, list]:
    """Every source of `kind` whose files are present, by name (missing ones are left out)."""
    out = {}
    for name, src in SOURCES.items():
        if kind and src.kind != kind:
            continue
        try:
            out[name] = load(name, root=root)[0]
        except FileNotFoundError:
            continue
    return out


def normalise_text(text: Text) -> str:
    """Lower case, whitespace collapsed: the matching rule of the data README's overlap analysis."""
    joined = text if isinstance(text, str) else "\n".join(text)
    return re.sub(r"\s+", " ", joined).strip().lower()


def decontaminate(examples: list, root: DataRoot = None, report: LoadReport | None = None) -> list:
    """Drop training examples whose question equals (normalised) a benchmark question.

    Counted in `report.filtered` under "question in benchmark <name>".
    """
    seen: dict[str, str] = {}
    for name, items in load_all("benchmark", root).items():
        for ex in items:
            seen.setdefault(normalise_text(ex.question), name)
    kept = []
    for ex in examples:
        hit = seen.get(normalise_text(ex.question))
        if hit is None:
            kept.append(ex)
        elif report is not None:
            report.filter_out(f"question in benchmark {hit}")
    return kept
