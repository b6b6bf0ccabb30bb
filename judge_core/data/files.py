"""Your own data, wherever a benchmark name goes: a file mapped onto the project's examples.

    mine = FileDataset(name="mine", path="data/prefs.parquet", label=1,
                       columns={"question": "prompt", "answer1": "chosen", "answer2": "rejected"})
    register(mine)                     # now load("mine"), a sweep's cells and the report know it
    examples, report = load("mine")

Formats: .jsonl, .json (an array, or JSON lines under a .json name), .csv, .parquet; a local path or a
storage URI (s3://, gs://, file://: copied once to the download cache), or `hf:` a directory written by
datasets' save_to_disk (or a hub name where the hub is reachable). A value may be text, a list of turns,
or a list of chat messages ({role, content}: the user turns make the question, the assistant turns the
answer, so TRL's implicit-prompt preference rows need no question column). The label is a constant
(chosen is always better: 1), or a column mapped through `map`; without one the data is judged, not scored.
A bad row is named by file and 1-based line (row, for Parquet and datasets) like every benchmark's.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, overload

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..schema import PairExample, PointExample, Text, presented
from ..verdicts import Verdict
from ._io import At, FieldError, LoadReport, OnBadRecord, cache_dir, collect, read_csv, read_json_list, read_jsonl
from .registry import SOURCES, Source, Subset

FORMATS = ("jsonl", "json", "csv", "parquet")
FIELDS = {
    "pairwise": ("question", "answer1", "answer2", "reference", "id", "rubric"),
    "pointwise": ("question", "answer", "reference", "score", "id", "rubric"),
}
# what a column is usually called in preference and judging sets, for `judge data inspect FILE`
USUAL_NAMES = {
    "question": ("question", "prompt", "instruction", "query", "input"),
    "answer1": ("answer1", "chosen", "response1", "response_a", "answer_a", "output_1"),
    "answer2": ("answer2", "rejected", "response2", "response_b", "answer_b", "output_2"),
    "answer": ("answer", "response", "output", "completion"),
    "reference": ("reference", "reference_answer"),
    "score": ("score", "rating"),
    "id": ("id",),
    "rubric": ("rubric",),
}
SUBSET = "all"  # a file is one subset: its cells are <name>-all
Mapped = Literal["question", "answer1", "answer2", "answer", "score"]  # the fields that always have a column


class LabelColumn(BaseModel):
    """The label read from a column, mapped to the convention (1 = answer1 better, 2 = answer2, 0 = tie)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    map: dict[str | int | float | bool, Literal[0, 1, 2]] | None = Field(
        default=None, description="the column's values -> 1, 2 or 0 (tie); default: the column holds 0, 1, 2 already"
    )

    def of(self, record: dict) -> Verdict:
        value = record.get(self.column)
        if value is None:
            raise FieldError(self.column, "missing or empty label")
        mapping: dict[Any, Verdict] = self.map if self.map is not None else {0: 0, 1: 1, 2: 2}
        for key in (value, str(value)):  # YAML keys are text where the column holds numbers
            if not isinstance(key, bool) and key in mapping:
                return mapping[key]
        raise FieldError(self.column, f"unmapped label value {value!r}; the map has {sorted(map(str, mapping))}")


class FileDataset(BaseModel):
    """A dataset from a file: what a sweep's `benchmarks:` entry, `judge judge --benchmark` and
    `judge data inspect` accept besides a registered benchmark's name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.+]+$", description="its name in results and the report (no '-' or '/')")
    path: str | None = Field(default=None, description="a local file or a storage URI (s3://, gs://, file://)")
    hf: str | None = Field(default=None, description="a directory written by datasets' save_to_disk, or a hub name")
    split: str | None = Field(default=None, description="hf: the split (needed when it holds several)")
    format: Literal["jsonl", "json", "csv", "parquet"] | None = Field(
        default=None, description="default: from the suffix"
    )
    kind: Literal["pairwise", "pointwise"] = "pairwise"
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="field -> your column: question, answer1, "
        "answer2 (pointwise: answer, score), reference, id; default: the usual names",
    )
    label: Literal[0, 1, 2] | LabelColumn | None = Field(
        default=None, description="a constant, {column, map}, or none (judged, not scored)"
    )
    scale: tuple[float, float] = Field(default=(1.0, 10.0), description="pointwise: the scores' range")
    shuffle_positions: bool = Field(
        default=False,
        description="swap the answers of about half the pairs (seeded by the row, "
        "label swapped with them): chosen/rejected data then has both labels, so macro "
        "F1 means something and a judge that favours a position cannot hide",
    )

    @model_validator(mode="after")
    def _check(self) -> FileDataset:
        if (self.path is None) == (self.hf is None):
            raise ValueError(f"dataset {self.name}: give one of path or hf")
        unknown = set(self.columns) - set(FIELDS[self.kind])
        if unknown:
            raise ValueError(
                f"dataset {self.name}: columns has {sorted(unknown)}; a {self.kind} dataset maps "
                f"{', '.join(FIELDS[self.kind])}"
            )
        if self.kind == "pointwise" and self.label is not None:
            raise ValueError(f"dataset {self.name}: a pointwise dataset is scored by its score column, not a label")
        return self

    @property
    def where(self) -> str:
        return self.path if self.path is not None else f"hf:{self.hf}" + (f" split {self.split}" if self.split else "")

    @property
    def file_format(self) -> str:
        if self.format:
            return self.format
        assert self.path is not None  # records() reads an hf dataset without asking its format
        suffix = Path(self.path.split("?")[0]).suffix.lstrip(".").lower()
        if suffix not in FORMATS:
            raise ValueError(
                f"dataset {self.name}: cannot tell the format of {self.path}; set format: one of {FORMATS}"
            )
        return suffix

    @overload
    def column(self, field: Mapped) -> str: ...
    @overload
    def column(self, field: str) -> str | None: ...
    def column(self, field: str) -> str | None:
        """Your column for one of our fields: the mapped one, else the field's own name."""
        return self.columns.get(
            field, field if field in ("question", "answer1", "answer2", "answer", "score") else None
        )

    # ---- reading ----------------------------------------------------------------------------------
    def records(self) -> tuple[str, Iterator[tuple[At, Any]]]:
        """(what to call it in errors, its records with where each one is)."""
        if self.hf is not None:
            return f"hf:{self.hf}", _hf_records(self.hf, self.split)
        assert self.path is not None  # _check: one of path or hf
        path = local_copy(self.path)
        fmt = self.file_format
        if fmt == "json" and not _starts_with(path, "["):
            fmt = "jsonl"  # JSON lines under a .json name (LLMEval2's file is)
        read = {"jsonl": read_jsonl, "json": read_json_list, "csv": read_csv, "parquet": read_parquet}[fmt]
        return str(self.path), read(path)

    def read(self, on_bad_record: OnBadRecord = "error", report: LoadReport | None = None) -> list:
        where, rows = self.records()
        return collect(rows, where, self.example, on_bad_record, report if report is not None else LoadReport())

    def example(self, index: int, record: Any) -> PairExample | PointExample:
        """One record as an example; a missing column, an empty value or an unmapped label raises a
        FieldError naming the column (collect() adds the file and line)."""
        if not isinstance(record, dict):
            raise ValueError(f"expected a record of columns, got {type(record).__name__}")
        common: dict[str, Any] = {"benchmark": self.name, "subset": SUBSET, "index": index, "meta": self._meta(record)}
        if (ref := self.column("reference")) and record.get(ref) is not None:
            common["reference"] = _text(record[ref], ref, "assistant")
        if self.kind == "pointwise":
            answer = self._value(record, "answer")
            score = record.get(self.column("score")) if self.column("score") in record else None
            return PointExample(
                **common,
                question=self._question(record, answer),
                answer=_text(answer, self.column("answer"), "assistant"),
                score=None if score is None else float(score),
                scale=self.scale,
            )
        a1, a2 = self._value(record, "answer1"), self._value(record, "answer2")
        label = self.label.of(record) if isinstance(self.label, LabelColumn) else self.label
        pair = PairExample(
            **common,
            question=self._question(record, a1),
            answer1=_text(a1, self.column("answer1"), "assistant"),
            answer2=_text(a2, self.column("answer2"), "assistant"),
            label=label,
        )
        return presented(pair, "ba" if self.shuffle_positions and random.Random(index).random() < 0.5 else "ab")

    def _value(self, record: dict, field: Mapped) -> Any:
        column = self.column(field)
        if column not in record:
            raise FieldError(column, f"missing column (the {field}); the record has {sorted(record)[:12]}")
        if record[column] is None:
            raise FieldError(column, f"empty value (null) for the {field}")
        return record[column]

    def _question(self, record: dict, answer: Any) -> Text:
        """The question column, or the user turns of an answer given as chat messages."""
        if self.column("question") in record or not _is_chat(answer):
            return _text(self._value(record, "question"), self.column("question"), "user")
        return _text(answer, self.column("answer1" if self.kind == "pairwise" else "answer"), "user")

    def _meta(self, record: dict) -> dict:
        """The id and the rubric (a file template's {rubric} for this row), where the columns are mapped."""
        meta = {}
        for field in ("id", "rubric"):
            column = self.columns.get(field)
            if column is None:
                continue
            if record.get(column) is None or (isinstance(record[column], str) and not record[column].strip()):
                raise FieldError(column, f"missing or empty {field}")
            meta[field] = record[column]
        return meta


def _is_chat(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) and "role" in m for m in value)


def _text(value: Any, column: str, role: str) -> Text:
    """Text, a list of turns, or chat messages (the `role` turns) -> one text, or a list of turns."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as e:
            raise FieldError(column, f"not valid UTF-8 (byte 0x{value[e.start]:02x})") from None
    if _is_chat(value):
        value = [m.get("content") for m in value if m["role"] == role]
        if not value:
            raise FieldError(column, f"chat messages without a {role} turn")
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        turns = value
    elif isinstance(value, str):
        turns = [value]
    else:
        raise FieldError(column, f"expected text, turns or chat messages, got {type(value).__name__} {value!r:.60}")
    if not any(t.strip() for t in turns):
        raise FieldError(column, "empty text")
    return turns[0] if len(turns) == 1 else turns


def _starts_with(path: Path, char: str) -> bool:
    with path.open("rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] == char.encode()


def read_parquet(path: Path) -> Iterator[tuple[At, dict]]:
    """Records of a Parquet file in row order, each with its 1-based row number."""
    import pyarrow.parquet as pq  # heavy: out of judge_core's import (`judge score` stays light)

    index = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            yield At(index + 1, index, "row"), record
            index += 1


def _hf_records(name: str, split: str | None) -> Iterator[tuple[At, dict]]:
    """Records of a datasets dataset (save_to_disk directory, else a hub name) with 1-based row numbers."""
    import datasets  # heavy: out of judge_core's import (`judge score` stays light)

    ds = datasets.load_from_disk(name) if Path(name).is_dir() else datasets.load_dataset(name, split=split)
    if isinstance(ds, datasets.DatasetDict):
        if split is None:
            raise ValueError(f"hf:{name} holds splits {list(ds)}; choose one with split:")
        ds = ds[split]
    for index, record in enumerate(ds):
        yield At(index + 1, index, "row"), record


def local_copy(where: str) -> Path:
    """A local path for a local file or a storage URI (copied once to the download cache, named by the
    URI and the object's size and modification time, so an object written again is copied again)."""
    if "://" not in where or where.startswith("file://"):
        path = Path(where.removeprefix("file://"))
        if not path.is_file():
            raise FileNotFoundError(f"{where}: no such file (cwd {Path.cwd()})")
        return path
    import pyarrow.fs as pafs  # heavy: out of judge_core's import (`judge score` stays light)

    fs, inner = pafs.FileSystem.from_uri(where)
    info = fs.get_file_info(inner)
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(f"{where}: no such object")
    stamp = hashlib.sha256(f"{where} {info.size} {info.mtime_ns}".encode()).hexdigest()[:16]
    dest = cache_dir() / "files" / stamp / Path(inner).name
    if not dest.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        with fs.open_input_stream(inner) as src, tmp.open("wb") as out:
            while block := src.read(1 << 20):
                out.write(block)
        tmp.replace(dest)
    return dest


def guess_columns(names: list[str], kind: str = "pairwise") -> dict[str, str]:
    """Our fields -> the first of their usual column names present (for a file given without a mapping)."""
    out = {}
    for field in FIELDS[kind]:
        hit = next((n for n in USUAL_NAMES.get(field, ()) if n in names), None)
        if hit is not None and hit != field:
            out[field] = hit
    return out


# ---- a file among the sources ------------------------------------------------------------------
def register(dataset: FileDataset) -> Source:
    """Make the dataset a source named dataset.name (one subset, "all"), so every verb that takes a
    benchmark takes it. A registered benchmark's name is refused; registering a name again replaces
    the earlier file (a sweep validated twice, tests)."""
    old = SOURCES.get(dataset.name)
    if old is not None and old.kind != "file":
        raise ValueError(f"dataset {dataset.name}: that is a registered benchmark's name; choose another")

    def read(_path: Path | None, _source: Source, _subset: str, on_bad_record: OnBadRecord, report: LoadReport) -> list:
        return dataset.read(on_bad_record, report)

    source = Source(
        dataset.name,
        "file",
        {SUBSET: Subset(dataset.where)},
        read,
        protocol="pointwise" if dataset.kind == "pointwise" else "pairwise",
        description=f"your data: {dataset.where} ({json.dumps(dataset.model_dump(exclude_defaults=True))})",
    )
    SOURCES[dataset.name] = source
    return source


def with_guessed_columns(dataset: FileDataset) -> FileDataset:
    """The dataset with its unmapped fields mapped to their usual column names (read from the first
    record); chosen/rejected answers without a label get label 1 (chosen is better), as they mean."""
    _, rows = dataset.records()
    first = next((r for _, r in rows if isinstance(r, dict)), {})
    guessed = guess_columns(list(first), dataset.kind) | dataset.columns
    chosen = guessed.get("answer1") == "chosen" and guessed.get("answer2") == "rejected"
    label = 1 if chosen and dataset.label is None and dataset.kind == "pairwise" else dataset.label
    return dataset.model_copy(update={"columns": guessed, "label": label})


def dataset_arg(text: str) -> str | FileDataset:
    """What a command line's --benchmark or `judge data inspect` names: a registered benchmark
    ("name", "name/subset"), a dataset mapping inline ('{name: mine, path: ...}'), a YAML file holding
    one, or a data file (named by its stem, columns guessed from their usual names)."""

    if text.lstrip().startswith("{"):
        return FileDataset.model_validate(yaml.safe_load(text))
    path = Path(text)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return FileDataset.model_validate(yaml.safe_load(path.read_text()))
    if path.suffix.lstrip(".") in FORMATS or "://" in text:
        name = re.sub(r"[^A-Za-z0-9_.+]", "_", path.stem)
        return with_guessed_columns(FileDataset(name=name, path=text))
    return text
