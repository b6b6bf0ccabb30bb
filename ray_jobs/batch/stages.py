"""The Ray Data stage of batch judging: rows -> an actor pool holding the engine, which also parses -> judgments.

    ds = build_dataset(rows, spec)   # rows {cell, template, allow_tie, uid, order, example} of one judge
    for batch in ds.iter_batches(batch_format="pyarrow"): ...   # TAGGED judgments (store.py)

The engine stage is an actor pool (`concurrency`: fixed, [min, max] or auto, sized by cluster.pool_bounds;
`num_gpus`/`num_cpus`/`resources` each, `batch_size` rows per call): the model loads once per actor.
Each row names its cell and template, so one pool serves a judge's whole grid. Parsing is pure
judge_core (`to_judgment`) and runs in the same actor: a separate CPU task could wait forever behind
other judges' actors holding every CPU of the cluster.
"""

from __future__ import annotations

import functools
import math

import pyarrow as pa

from judge_core import prompts
from judge_core.pipeline import to_judgment

from .. import console
from ..cluster import Nodes, pool_bounds, strict_pack
from ..engines.base import build_engine
from ..spec import JudgeSpec
from ..store import TAGGED, judgment_row

ENGINE_OUT = pa.schema(
    [
        ("cell", pa.string()),
        ("template", pa.string()),
        ("allow_tie", pa.bool_()),
        ("uid", pa.string()),
        ("order", pa.string()),
        ("example", pa.string()),
        ("raw", pa.string()),
        ("verdict", pa.int8()),
        ("probs", pa.list_(pa.float64())),
        ("score", pa.float64()),
        ("tokens_in", pa.int64()),
        ("tokens_out", pa.int64()),
        ("seconds", pa.float64()),
        ("truncated", pa.bool_()),
        ("error", pa.string()),
    ]
)
_KEPT = ("raw", "verdict", "probs", "score", "tokens_in", "tokens_out", "seconds", "error")  # of an engine output


class EngineActor:
    """Holds one engine for the life of the actor (model loaded once) and judges batches of rows of
    any cell of its judge into tagged judgments."""

    def __init__(self, spec: dict, templates: dict | None = None):
        prompts.register_all(templates or {})  # the file templates the driver loaded (judge_core.prompts.files)
        self.engine, self.judge, self.parse = build_engine(spec), spec["name"], spec.get("parse")

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        out = pa.Table.from_pylist(
            [_engine_row(r, o) for r, o in zip(rows, judge_rows(self.engine, rows))], schema=ENGINE_OUT
        )
        return parse_batch(out, self.judge, self.parse)


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
    probs = out.get("probs")
    return (
        {k: row[k] for k in ("cell", "template", "allow_tie", "uid", "order", "example")}
        | {k: out.get(k) for k in _KEPT}
        | {"probs": None if probs is None else list(probs), "truncated": bool(out.get("truncated", False))}
    )


def parse_batch(batch: pa.Table, judge: str, parse: str | None = None) -> pa.Table:
    """Engine rows -> Judgment rows tagged with their cell (judge_core parses by the judge's `parse`
    rule; a row that breaks parsing fails alone)."""
    out = []
    for r in batch.to_pylist():
        template = r["template"] or None
        try:
            j = to_judgment(r, r, template, judge, r["allow_tie"], parse)
        except Exception as exc:  # noqa: BLE001
            j = to_judgment(r, {"error": f"parse: {type(exc).__name__}: {exc}"[:500]}, template, judge)
        out.append({"cell": r["cell"]} | judgment_row(j) | {"truncated": r["truncated"]})
    return pa.Table.from_pylist(out, schema=TAGGED)


def engine_stage(spec: JudgeSpec, nodes: Nodes | None = None, **constructor) -> dict:
    """The keyword arguments of a map_batches call on an actor pool holding the spec's engine (tested
    without starting Ray or any engine); `nodes`: the cluster that sizes an auto pool (default: the
    running Ray's); `constructor`: more arguments for the actor class. A tensor-parallel engine's actor
    asks for no GPU itself: each actor gets a STRICT_PACK placement group of its bundles (cluster.strict_pack),
    as ray.data.llm does."""

    import ray.data  # heavy: kept out of `judge --help`

    low, high = pool_bounds(spec, nodes)
    shipped = spec.model_copy(update={"concurrency": high if low == high else (low, high)}).model_dump()  # for threads
    resources = {"num_gpus": spec.num_gpus, "num_cpus": spec.num_cpus} | (
        {"resources": spec.resources} if spec.resources else {}
    )
    if spec.tensor_parallel > 1:
        resources = {
            "num_gpus": 0,
            "num_cpus": spec.num_cpus,
            "ray_remote_args_fn": functools.partial(strict_pack, spec.name, spec.actor_bundles),
        }
    compute = (
        ray.data.ActorPoolStrategy(size=low) if low == high else ray.data.ActorPoolStrategy(min_size=low, max_size=high)
    )
    return {
        "fn_constructor_kwargs": {"spec": shipped} | constructor,
        "compute": compute,
        "batch_size": spec.batch_size,
        "batch_format": "pyarrow",
    } | resources


def rows_dataset(rows: list[dict], batch_size: int):
    """A Ray Dataset of plain rows, in about one block per batch (not one block per row)."""
    import ray.data  # heavy: kept out of `judge --help`

    return ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), math.ceil(len(rows) / batch_size))))


def build_dataset(rows: list[dict], spec: JudgeSpec, nodes: Nodes | None = None):
    """Rows of any of the judge's cells -> tagged Judgments (store.TAGGED)."""
    console.quiet_ray_data()
    stage = engine_stage(spec, nodes, templates=prompts.file_templates())  # the actors load the driver's file templates
    return rows_dataset(rows, spec.batch_size).map_batches(EngineActor, **stage)
