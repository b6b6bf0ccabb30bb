"""`judge finetune CONFIG [key=value ...]` (Ray Train) and `judge finetune-eval ADAPTER BENCHMARK ...`."""

from __future__ import annotations

from pathlib import Path

from ..config import ROOT_HELP, add_config_verb
from ..report.text import headline_line
from .eval import evaluate


def add_parser(sub) -> None:
    add_config_verb(
        sub,
        "finetune",
        run,
        "fine-tune a judge with Ray Train (LoRA/QLoRA/full/prefix, ZeRO)",
        "configs/finetune/<name>.yaml",
        "e.g. lr=1e-4 lora.rank=16",
        "ray_jobs.finetune.config:FinetuneConfig",
    )
    fe = sub.add_parser("finetune-eval", help="judge benchmarks with a trained classifier adapter and score them")
    fe.add_argument("adapter", help="directory written by judge finetune")
    fe.add_argument("benchmarks", nargs="+", help="benchmark or benchmark/subset")
    fe.add_argument("--out", help="predictions + metrics directory (default: <adapter>/../eval)")
    fe.add_argument("--root", help=ROOT_HELP)
    fe.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for 95%% CIs (0 = none)")
    fe.set_defaults(func=run_eval)


def run(args) -> int:
    from .recipe import main  # imports Ray Train, torch and peft only for this verb

    return main(args.config, args.overrides)


def run_eval(args) -> int:
    out = args.out or Path(args.adapter).parent / "eval"
    results = evaluate(args.adapter, args.benchmarks, out, root=args.root, bootstrap=args.bootstrap)
    for key, r in results.items():
        print(headline_line(key, r))
    print(f"predictions and metrics.json in {out}")
    return 0
