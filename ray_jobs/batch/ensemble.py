"""A sweep's ensembles step: weighted means of other judges' stored, swap-averaged probabilities.

    ensembles:
      - {name: ens, members: [minilm, qwen7b/label], weights: [1, 2]}

No model runs: each ensemble cell reads its members' finished cells of the same benchmark subset
(results/<sweep>/<member>/<template or ->/<benchmark-subset>/parts), so run_sweep scores ensembles
after every other judge. An ensemble cell is recomputed on every sweep (it costs a read), so it always
reflects the members' current results.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from judge_core.calibration import ensemble
from judge_core.data import load
from judge_core.pipeline import expand
from judge_core.verdicts import ties_allowed

from ..spec import EnsembleSpec, JudgeSpec
from ..store import Cell, leaf, read_judgments, write_json, write_judgments
from .cells import finish_cell


def member_cells(spec: EnsembleSpec, judges: dict[str, JudgeSpec], templates: list[str]) -> dict[str, str]:
    """{member: "judge/template-or--"} for an ensemble; a prompted member with several templates must
    name one ("qwen/label")."""
    return {member: _member_key(spec, member, judges, templates) for member in spec.members}


def _member_key(spec: EnsembleSpec, member: str, judges: dict[str, JudgeSpec], templates: list[str]) -> str:
    name, _, template = member.partition("/")
    if name not in judges:
        raise ValueError(f"ensemble {spec.name}: member {name!r} is not a judge of this sweep")
    judge = judges[name]
    if not judge.probabilistic:
        raise ValueError(
            f"ensemble {spec.name}: member {name} gives no probabilities to average "
            "(use label mode, a classifier, or the features baseline)"
        )
    if judge.prompted and not template:
        own = judge.templates or templates
        if len(own) != 1:
            raise ValueError(f"ensemble {spec.name}: member {name} has templates {own}; name one as {name}/<template>")
        template = own[0]
    return f"{name}/{template or '-'}"


def ensemble_cell(cell: Cell, out_dir: Path, members: dict[str, str], bootstrap: int) -> dict:
    """Score one ensemble cell from its members' finished cells; metrics.json's content."""
    stored, hashes = {}, {}
    for member, key in members.items():
        d = out_dir / key / leaf(cell.benchmark, cell.subset)
        if not (d / "metrics.json").exists():
            raise FileNotFoundError(
                f"ensemble {cell.judge.name}: member {member} has no finished cell "
                f"{key}/{leaf(cell.benchmark, cell.subset)}"
            )
        hashes[member] = json.loads((d / "metrics.json").read_text())["hash"]
        stored[member] = read_judgments(d)
    examples, _ = load(
        cell.benchmark,
        cell.subset,
        root=cell.root,
        on_bad_record=cell.on_bad_record,
        accept_modified=cell.accept_modified,
    )
    examples = examples[: cell.limit] if cell.limit else examples
    cell.loaded = examples
    weights = dict(zip(members, cell.judge.weights or [1.0] * len(members)))
    judgments = ensemble(stored, weights, cell.judge.name, ties_allowed(examples))
    cell_dir = out_dir / cell.key
    shutil.rmtree(cell_dir, ignore_errors=True)  # recomputed from the members every time
    cell_dir.mkdir(parents=True)
    write_json(cell_dir / "config.json", {"hash": cell.config_hash(), "members": hashes} | cell.config())
    write_judgments(cell_dir, judgments)
    metrics = finish_cell(cell, cell_dir, examples, expand(examples, cell.orders), bootstrap) | {"members": hashes}
    write_json(cell_dir / "metrics.json", metrics)
    return metrics


def run_ensemble_cells(
    cells: list[Cell], out_dir: Path, judges: dict[str, JudgeSpec], templates: list[str], bootstrap: int, log=print
) -> dict:
    """{cell key: metrics or the exception that failed that cell} (one failing cell leaves the others)."""
    results = {}
    for cell in cells:
        try:
            results[cell.key] = ensemble_cell(cell, out_dir, member_cells(cell.judge, judges, templates), bootstrap)
            log(f"[ensemble] {cell.key}")
        except Exception as exc:  # noqa: BLE001
            results[cell.key] = exc
    return results
