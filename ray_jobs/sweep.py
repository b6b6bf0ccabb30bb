"""Many cells from one YAML: judges x templates x benchmarks; resumable; ends with the report.

    judge sweep configs/sweeps/quickstart-cpu.yaml                 # local Ray (ray.init())
    judge sweep configs/sweeps/quickstart-cpu.yaml limit=20 name=try
    ray job submit --working-dir . -- judge sweep configs/sweeps/gpu-open-judges.yaml   # a cluster

Results: <output_dir>/<name>/<judge>/<template or ->/<benchmark>-<subset>/{config.json, parts/,
metrics.json}. Each judge's cells share one Ray Data pipeline, so its model loads once. A re-run skips finished cells whose config hash matches and resumes a cell that
stopped halfway; a cell that fails is reported and the others still run.
"""
from __future__ import annotations

import json
import time
import traceback
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from judge_core import prompts
from judge_core.data import source

from .engines.base import JudgeSpec
from .ensemble import member_cells, run_ensemble_cells
from .judge import Cell, orders_for, run_cells


class SweepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.+-]+$")
    output_dir: str = "results"
    judges: list[JudgeSpec]
    templates: list[str] = Field(default_factory=lambda: ["label"], description="for prompted judges; a "
                                 "pointwise template (mtbench-single) judges the pointwise benchmarks, the others the pairwise")
    benchmarks: list[str] = Field(description="'name' (every subset) or 'name/subset'")
    orders: Literal["both", "ab", "protocol"] = "both"
    limit: int | None = Field(None, ge=1, description="first N examples of each subset (quick runs)")
    bootstrap: int = Field(1000, ge=0)
    part_rows: int = Field(64, ge=1, description="judgments per Parquet part (the resume granularity)")
    root: str | None = Field(None, description="data root (default: $JUDGE_DATA_DIR, ./data, ../shared/data)")
    ray_init: dict = Field(default_factory=dict, description="ray.init() arguments when no Ray is running")

    @model_validator(mode="after")
    def _check(self) -> "SweepConfig":
        names = [j.name for j in self.judges]
        if len(names) != len(set(names)):
            raise ValueError(f"judge names must be unique: {names}")
        every = self.templates + [t for j in self.judges for t in j.templates or []]
        for t in every:
            prompts.get(t)
        for b in self.benchmarks:
            name, _, subset = b.partition("/")
            src = source(name)
            if subset and subset not in src.subsets:
                raise ValueError(f"{name} has no subset {subset!r}; subsets: {', '.join(src.subsets)}")
            if _pointwise(name) and not any(prompts.get(t).pointwise for t in every):
                raise ValueError(f"{name} is pointwise: add a pointwise template (mtbench-single) to templates")
        for j in self.judges:
            if j.engine == "ensemble":
                member_cells(j, {x.name: x for x in self.judges}, self.templates)
        return self

    def targets(self) -> list[tuple[str, str]]:
        out = []
        for b in self.benchmarks:
            name, _, subset = b.partition("/")
            out += [(name, subset)] if subset else [(name, s) for s in source(name).subsets]
        return out

    def cells(self) -> list[Cell]:
        """Every (judge, template, benchmark subset) whose template fits the benchmark: pointwise
        templates judge pointwise benchmarks; classifier and baseline judges judge pairs only."""
        cells = []
        for judge in self.judges:
            templates = (judge.templates or self.templates) if judge.prompted else [None]
            for template in templates:
                point = template is not None and prompts.get(template).pointwise
                for bench, subset in self.targets():
                    if point == _pointwise(bench):
                        cells.append(Cell(judge, template, bench, subset, orders_for(bench, self.orders),
                                          self.limit, self.root))
        return cells

    @property
    def results_dir(self) -> Path:
        return Path(self.output_dir) / self.name


def _record(results: dict, out: Path, log) -> dict:
    """{cell: "ok" | "failed: ..."}; a failed cell's traceback goes to its error.txt."""
    status = {}
    for key, result in results.items():
        if isinstance(result, Exception):  # one failing cell must not stop the others
            status[key] = f"failed: {type(result).__name__}: {result}"[:1000]
            (out / key).mkdir(parents=True, exist_ok=True)
            (out / key / "error.txt").write_text("".join(traceback.format_exception(result)))
            log(f"[failed] {key}: {result}")
        else:
            status[key] = "ok"
    return status


def _pointwise(benchmark: str) -> bool:
    return source(benchmark).protocol == "pointwise"


def _set(data: dict, dotted: str, value) -> None:
    *path, last = dotted.split(".")
    for key in path:
        data = data.setdefault(key, {}) if not key.isdigit() else data[int(key)]
    if isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """`key=value` overrides (values parsed as YAML; `judges.0.batch_size=8` reaches into lists)."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not key=value")
        _set(data, key, yaml.safe_load(value))
    return data


def read_config(path: str | Path, overrides: list[str] = ()) -> dict:
    """A YAML config with `key=value` overrides."""
    return apply_overrides(yaml.safe_load(Path(path).read_text()), overrides)


def load_sweep(path: str | Path, overrides: list[str] = ()) -> SweepConfig:
    return SweepConfig.model_validate(read_config(path, overrides))


def ensure_ray(cfg: SweepConfig) -> None:
    """Join the Ray of `ray job submit` (RAY_ADDRESS) or a running one; else start a local one."""
    import ray

    if not ray.is_initialized():
        ray.init(**cfg.ray_init)


def run_sweep(cfg: SweepConfig, log=print) -> dict:
    """Run every cell (finished ones are skipped), one Ray Data pipeline per judge, then write the
    report. Returns {cell: status}."""
    ensure_ray(cfg)
    out = cfg.results_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(cfg.model_dump(), indent=1))
    status, by_judge = {}, {}
    for cell in cfg.cells():
        by_judge.setdefault(cell.judge.name, []).append(cell)
    judges = {j.name: j for j in cfg.judges}
    # ensembles read their members' results, so they come after every judge that runs a model
    order = sorted(by_judge, key=lambda name: judges[name].engine == "ensemble")
    for i, name in enumerate(order, 1):
        cells = by_judge[name]
        log(f"== judge {i}/{len(by_judge)}: {name}, {len(cells)} cells")
        start = time.perf_counter()
        if judges[name].engine == "ensemble":
            results = run_ensemble_cells(cells, out, judges, cfg.templates, cfg.bootstrap, log)
        else:
            results = run_cells(cells, out, part_rows=cfg.part_rows, bootstrap=cfg.bootstrap, log=log)
        status |= _record(results, out, log)
        log(f"   {time.perf_counter() - start:.1f} s")
    (out / "status.json").write_text(json.dumps(status, indent=1))
    from .report import write_report

    paths = write_report(out)
    log(f"report: {paths['md']} and {paths['html']}")
    return status
