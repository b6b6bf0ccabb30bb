"""`judge sweep CONFIG [key=value ...]` and `judge judge --engine ... --model ... --benchmark ...` (one cell
from flags): both run a sweep and end with one line on its cells."""

from __future__ import annotations

import re
import time
from pathlib import Path

import yaml

from judge_core import prompts
from judge_core.data.files import dataset_arg

from ..config import MODIFIED_HELP, ROOT_HELP, add_config_verb, apply_overrides
from ..locations import run_location
from ..report.text import print_cells
from ..spec import JudgeSpec, engines
from .sweep import SweepConfig, load_sweep, run_sweep


def add_parser(sub) -> None:
    add_config_verb(
        sub,
        "sweep",
        sweep_verb,
        "judges x templates x benchmarks on Ray Data; resumable; writes the report",
        "configs/sweeps/<name>.yaml",
        "e.g. limit=20 judges.0.batch_size=8",
        "ray_jobs.batch.sweep:SweepConfig",
    )
    add_judge(sub)


def swept(cfg: SweepConfig) -> int:
    """Run a sweep config and print its summary line; the exit status."""
    start = time.perf_counter()
    status = run_sweep(cfg)
    return print_cells(status, run_location(cfg.output_dir, cfg.name), time.perf_counter() - start)


def sweep_verb(args) -> int:
    return swept(load_sweep(args.config, args.overrides))


def judge_verb(args) -> int:
    options = apply_overrides({}, args.option)
    name = args.name or re.sub(r"[^A-Za-z0-9_.+-]", "_", args.model.rstrip("/").split("/")[-1])
    spec = JudgeSpec(
        name=name,
        engine=args.engine,
        model=args.model,
        adapter=args.adapter,
        mode=args.mode,
        options=options,
        concurrency=args.concurrency,
        num_gpus=args.num_gpus,
        batch_size=args.batch_size,
    )
    out = args.out.rstrip("/")
    cfg = SweepConfig(
        name=out.split("/")[-1],
        output_dir=str(Path(out).parent),
        judges=[spec],
        templates=[args.template],
        benchmarks=[dataset_arg(args.benchmark)],
        orders=args.orders,
        limit=args.limit,
        root=args.root,
        on_bad_record=args.on_bad_record,
        accept_modified_data=args.accept_modified_data,
    )
    return swept(cfg)


def add_judge(sub) -> None:
    jj = sub.add_parser("judge", help="one cell (judge, template, benchmark) from the command line")
    jj.add_argument(
        "--engine",
        required=True,
        choices=engines(),
        help="what runs the judge (docs/engines.md)",
    )
    jj.add_argument("--model", required=True, help="path or HF id; baseline: longer | relevance | features")
    jj.add_argument("--adapter", help="a PEFT adapter directory on top of the model")
    jj.add_argument(
        "--mode",
        choices=("generate", "label"),
        default="generate",
        help="generate a verdict text, or read the label tokens' probabilities in one forward pass",
    )
    jj.add_argument("--template", default="label", choices=sorted(prompts.TEMPLATES), help="prompt template")
    jj.add_argument(
        "--benchmark",
        required=True,
        help="name or name/subset, a data file (columns guessed), or a "
        "dataset mapping '{name: mine, path: ..., columns: ..., label: 1}'",
    )
    jj.add_argument(
        "--orders",
        choices=("both", "ab", "protocol"),
        default="both",
        help="answer orders to judge (protocol: the ones the benchmark's paper judged)",
    )
    jj.add_argument("--limit", type=int, help="the first N examples only")
    jj.add_argument(
        "--on-bad-record",
        choices=("error", "skip"),
        default="error",
        help="a bad benchmark record fails the cell (naming file and line), or is skipped and reported",
    )
    jj.add_argument("--accept-modified-data", action="store_true", help=MODIFIED_HELP)
    jj.add_argument("--option", action="append", default=[], help="engine option key=value (repeatable)")
    jj.add_argument(
        "--concurrency",
        type=yaml.safe_load,
        default=None,
        help="engine actors: N, [min,max] or auto (default: auto with --num-gpus, else 1)",
    )
    jj.add_argument("--num-gpus", type=float, default=0, help="GPUs per engine actor")
    jj.add_argument("--batch-size", type=int, default=16, help="rows per engine call")
    jj.add_argument("--name", help="judge name in results (default: from the model)")
    jj.add_argument("--out", default="results/judge", help="results directory")
    jj.add_argument("--root", help=ROOT_HELP)
    jj.set_defaults(func=judge_verb)
