"""`judge annotate`: one judge over an unlabelled dataset of any size, streamed to Parquet shards; resumable.

    judge annotate configs/annotate/ultrafeedback-cpu.yaml
    judge annotate my.yaml judge.concurrency=4 output=s3://bucket/annotated/run1

The input is cut into shards (shards.py); Ray Data hands the shards to an actor pool holding the judge's
engine; each actor reads its shard where it runs, judges it, and writes <output>/shard-NNNNNN.parquet
(every input column, `input_row`, then verdict, p_tie, p1, p2, raw, error; with both orders verdict_ab,
verdict_ba, raw_ba, consistent; pointwise: score) under a temporary name, then moves it into place:
a shard file is whole or absent. The driver sees only one small summary per shard. Killed at any
moment and run again with the same config, it judges the shards without a file and nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, model_validator

from judge_core import prompts
from judge_core.data import FileDataset
from judge_core.data._io import BadRecordError, make_located
from judge_core.pipeline import expand
from judge_core.verdicts import both_orders

from .. import console
from ..batch.stages import EngineActor, engine_stage
from ..cluster import release_groups
from ..config import read_config
from ..locations import is_uri, results_location
from ..ray_lifecycle import ensure_ray
from ..report.best import resolve_best_of
from ..spec import JudgeSpec, carry_templates, preflight, template_files
from ..store import locked
from . import shards as S

DONE = "shard-{:06d}.parquet"
ADDED = pa.schema(
    [
        ("input_row", pa.int64()),
        ("verdict", pa.int8()),
        ("p_tie", pa.float64()),
        ("p1", pa.float64()),
        ("p2", pa.float64()),
        ("score", pa.float64()),
        ("raw", pa.string()),
        ("error", pa.string()),
        ("verdict_ab", pa.int8()),
        ("verdict_ba", pa.int8()),
        ("raw_ba", pa.string()),
        ("consistent", pa.bool_()),
    ]
)


class AnnotateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="a Parquet or JSON-lines file, a directory of them, or a storage URI")
    format: Literal["parquet", "jsonl"] | None = Field(
        None, description="default: from the suffix (a directory: parquet)"
    )
    kind: Literal["pairwise", "pointwise"] = "pairwise"
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="question, answer1, answer2 (pointwise: "
        "answer), reference -> your columns (default: the same names)",
    )
    id: str | None = Field(None, description="your id column, checked present in every row")

    def mapping(self) -> FileDataset:
        """The rows' mapping onto examples: the one a sweep uses for your files (judge_core.data.files)."""
        return FileDataset(
            name="input", path=self.path, kind=self.kind, columns=self.columns | ({"id": self.id} if self.id else {})
        )


class AnnotateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: AnnotateInput
    judge: JudgeSpec = Field(description="any judge spec, or {best_of: results/<sweep>, probabilities, adapters}")
    template: str | None = Field("label", description="for prompted judges (a best_of judge brings its own)")
    orders: Literal["both", "ab"] = "both"
    output: str = Field(description="a directory of Parquet shards, or a storage URI")
    shard_rows: int = Field(1000, ge=1, description="rows per shard: the unit of resuming and of work per actor call")
    ray_init: dict = Field(default_factory=dict, description="ray.init() arguments when no Ray is running")
    picked: dict | None = Field(None, description="set by judge: {best_of: ...}: which judge was picked and why")
    template_files: dict[str, dict] = Field(
        default_factory=dict, description="set at load: the content of its file template"
    )

    @model_validator(mode="before")
    @classmethod
    def _best_of(cls, data):
        return carry_templates(resolve_best_of(data), ("template",))

    @model_validator(mode="after")
    def _check(self) -> AnnotateConfig:
        # where the driver stands: an actor's working directory is not the driver's
        self.output = _absolute(results_location(self.output))  # a relative one in a packaged Ray job is refused
        self.input.path = _absolute(self.input.path)
        if self.judge.prompted:
            if self.template is None:
                raise ValueError(f"judge {self.judge.name} reads a prompt: give a template")
            if prompts.get(self.template).pointwise != (self.input.kind == "pointwise"):
                raise ValueError(f"template {self.template} does not fit {self.input.kind} input")
        self.template_files = template_files([self.template])
        return self

    def fingerprint(self, shards: list[S.Shard]) -> str:
        """What the output depends on: the judge, template, orders, mapping and the input's cut."""
        what = {
            "judge": self.judge.judging_config(),
            "template": self.template if self.judge.prompted else None,
            "orders": self.orders,
            "input": self.input.model_dump(),
            "shards": [s.to_row() for s in shards],
        } | (
            prompts.hashed(self.template, self.judge.parse, self.judge.mode == "generate")
            if self.judge.prompted and self.template
            else {}
        )
        return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def _absolute(where: str) -> str:
    return where if is_uri(where) else str(Path(where).absolute())


def load_annotate(path, overrides=()) -> AnnotateConfig:

    return AnnotateConfig.model_validate(read_config(path, overrides))


# ---- on a worker: one shard in, one Parquet file out ------------------------------------------------
class ShardAnnotator:
    """An engine actor that judges whole shards: read, judge, write; returns one summary per shard."""

    def __init__(self, spec: dict, job: dict, templates: dict | None = None):
        self.judge = EngineActor(spec, templates)
        self.batch_size = spec["batch_size"]
        self.cfg = AnnotateConfig.model_validate(job | {"judge": spec})
        self.mapping = self.cfg.input.mapping()

    def __call__(self, batch: pa.Table) -> pa.Table:
        out = []
        for row in batch.to_pylist():
            start = time.perf_counter()
            shard = S.Shard(**row)
            table, errors = self.annotate(shard)
            write_shard(self.cfg.output, shard.index, table)
            out.append(
                {"shard": shard.index, "rows": table.num_rows, "errors": errors, "seconds": time.perf_counter() - start}
            )
        return pa.Table.from_pylist(out)

    def annotate(self, shard: S.Shard) -> tuple[pa.Table, int]:
        records = S.read(shard)
        examples, bad = {}, {}
        for at, record in records:
            try:
                examples[at.index] = make_located(shard.file, at, record, self.mapping.example)
            except BadRecordError as e:  # the row stays in the output, with why
                bad[at.index] = str(e)
        judged = self._judge(list(examples.values()))
        added = pa.Table.from_pylist(
            [_added(at, judged.get(at.index), bad.get(at.index), self.cfg.orders) for at, _ in records], schema=ADDED
        )
        inputs = S.input_table([r if isinstance(r, dict) else {} for _, r in records], shard)
        for name in added.column_names:
            inputs = inputs.append_column(added.field(name), added[name])
        return inputs, len(records) - added["error"].null_count

    def _judge(self, examples: list) -> dict[int, dict]:
        """{index: {order: judgment row}} for the examples, in engine batches of the judge's batch_size."""
        orders = ("ab", "ba") if self.cfg.orders == "both" else ("ab",)
        template = self.cfg.template if self.cfg.judge.prompted else None
        rows = [
            {"cell": "annotate", "template": template or "", "allow_tie": True} | r for r in expand(examples, orders)
        ]
        out: dict[int, dict] = {}
        for i in range(0, len(rows), self.batch_size):
            for j in self.judge(pa.Table.from_pylist(rows[i : i + self.batch_size])).to_pylist():
                out.setdefault(int(j["uid"].rsplit("/", 1)[1]), {})[j["order"]] = j
        return out


def _added(at, judged: dict | None, bad: str | None, orders: str) -> dict:
    """What the judge said about one input row (or why it could not be judged): the ADDED columns."""
    row = {"input_row": at.index}
    if judged is None:
        return row | {"error": bad or "not judged"}
    ab, ba = judged.get("ab"), judged.get("ba")
    probs = {o: (j["p_tie"], j["p1"], j["p2"]) if j["p1"] is not None else None for o, j in judged.items()}
    verdict, mean = (
        (ab["verdict"], probs["ab"])
        if ba is None
        else both_orders(ab["verdict"], ba["verdict"], probs["ab"], probs["ba"])
    )
    errors = [j["error"] for j in (ab, ba) if j and j["error"]]
    row |= {
        "verdict": verdict,
        "p_tie": mean[0] if mean else None,
        "p1": mean[1] if mean else None,
        "p2": mean[2] if mean else None,
        "score": ab["scores"][0] if ab["scores"] else None,
        "raw": ab["raw"],
        "error": "; ".join(errors) or None,
    }
    if orders == "both" and ba is not None:
        row |= {
            "verdict_ab": ab["verdict"],
            "verdict_ba": ba["verdict"],
            "raw_ba": ba["raw"],
            "consistent": ab["verdict"] is not None and ab["verdict"] == ba["verdict"],
        }
    return row


def write_shard(output: str, index: int, table: pa.Table) -> None:
    """Write a shard under a temporary name, then move it into place: a shard file is whole or absent."""

    fs, root = S.filesystem(output)
    fs.create_dir(root, recursive=True)
    tmp = f"{root}/.tmp-{uuid.uuid4().hex}-{DONE.format(index)}"
    pq.write_table(table, tmp, filesystem=fs)
    fs.move(tmp, f"{root}/{DONE.format(index)}")


# ---- on the driver ---------------------------------------------------------------------------------
def finished(output: str) -> set[int]:
    """The shards that have their output file; half-written temporary files of a killed run are removed."""

    fs, root = S.filesystem(output)
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        return set()
    done = set()
    for f in fs.get_file_info(pafs.FileSelector(root)):
        name = f.base_name
        if name.startswith(".tmp-"):
            fs.delete_file(f.path)
        elif name.startswith("shard-") and name.endswith(".parquet"):
            done.add(int(name[6:-8]))
    return done


def _manifest(cfg: AnnotateConfig, shards: list[S.Shard]) -> dict:
    """Check (or write, on the first run) <output>/_annotate.json: an output holds one annotation only."""
    fs, root = S.filesystem(cfg.output)
    path, mine = f"{root}/_annotate.json", cfg.fingerprint(shards)  # "_": readers of the shards skip it
    try:
        with fs.open_input_stream(path) as f:
            old = json.loads(f.read())
    except (FileNotFoundError, OSError):
        old = None
    if old is not None and old["fingerprint"] != mine:
        raise ValueError(
            f"{cfg.output} holds an annotation of another judge, template, orders or input "
            f"(fingerprint {old['fingerprint']}, this config {mine}); write to another output, or delete it"
        )
    manifest = {
        "fingerprint": mine,
        "input": cfg.input.model_dump(),
        "judge": cfg.judge.model_dump(),
        "template": cfg.template,
        "orders": cfg.orders,
        "picked": cfg.picked,
        "shards": len(shards),
        "rows": sum(s.rows for s in shards),
    }
    fs.create_dir(root, recursive=True)
    with fs.open_output_stream(path) as f:
        f.write(json.dumps(manifest, indent=1).encode())
    return manifest


def run_annotate(cfg: AnnotateConfig, log=print) -> dict:
    """Judge every shard without an output file; returns {rows, shards, judged_now, errors_now, seconds}.
    A local output is locked while it is written (a second run on it is refused, naming the first)."""

    with locked(Path(cfg.output), log) if not is_uri(cfg.output) else contextlib.nullcontext():
        return _run(cfg, log)


def _run(cfg: AnnotateConfig, log) -> dict:
    import ray.data  # heavy: kept out of `judge --help`

    preflight(cfg.judge)
    shards, columns = S.plan(cfg.input.path, cfg.input.format, cfg.shard_rows)
    clash = sorted(set(columns) & set(ADDED.names))
    if clash:
        raise ValueError(f"{cfg.input.path}: columns {clash} clash with the columns annotate adds; rename them")
    manifest = _manifest(cfg, shards)
    done = finished(cfg.output)
    todo = [s for s in shards if s.index not in done]
    total, before = manifest["rows"], sum(s.rows for s in shards if s.index in done)
    log(f"[annotate] {cfg.input.path}: {total} rows in {len(shards)} shards; {len(done)} done, {len(todo)} to judge")
    errors, start, now = 0, time.perf_counter(), 0
    if todo:
        ensure_ray(cfg.ray_init)
        console.quiet_ray_data()
        job = cfg.model_dump(exclude={"judge", "picked", "ray_init"})
        stage = engine_stage(cfg.judge, job=job, templates=prompts.file_templates()) | {"batch_size": 1}
        ds = ray.data.from_items([s.to_row() for s in todo], override_num_blocks=len(todo)).map_batches(
            ShardAnnotator, **stage
        )
        with console.progress(total, "rows", "annotate") as bar:
            bar.set(before)
            try:
                for summary in ds.iter_rows():
                    now, errors = now + summary["rows"], errors + summary["errors"]
                    bar.set(before + now, f"{now / (time.perf_counter() - start):.1f} rows/s")
            finally:
                release_groups(cfg.judge.name)
    result = {
        "rows": total,
        "shards": len(shards),
        "judged_now": now,
        "errors_now": errors,
        "seconds": time.perf_counter() - start,
    }
    log(f"[annotate] {cfg.output}: {total} rows in {len(shards)} shards ({now} judged now, {errors} with an error)")
    return result
