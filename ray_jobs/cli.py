"""The `judge` command.

    judge data list
    judge data show llmbar --subset neighbor
    judge score --benchmark autoj --predictions preds.jsonl --template autoj --json

Only judge_core is imported here at module level: `judge data` and `judge score` never start
Ray or import torch.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections import Counter
from pathlib import Path

from judge_core import data as D
from judge_core import prompts, protocols, scoring


def _pct(value) -> str:
    return "-" if scoring.is_missing(value) else f"{100 * value:.2f}"


def _label_counts(examples) -> str:
    if examples and hasattr(examples[0], "label"):
        counts = Counter(e.label for e in examples)
        names = {1: "1", 2: "2", 0: "tie", None: "unlabelled"}
        return " ".join(f"{names[k]}:{counts[k]}" for k in (1, 2, 0, None) if counts[k])
    counts = Counter(e.score for e in examples)
    return "scores " + " ".join(f"{k:g}:{v}" for k, v in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)))


def cmd_data_list(args) -> int:
    print(f"data root: {D.data_root(args.root)}")
    print(f"{'source':24} {'kind':9} {'subset':32} {'rows':>6}  labels / filtered")
    for name, src in D.SOURCES.items():
        for sub in src.subsets:
            try:
                examples, report = D.load(name, sub, root=args.root, on_bad_record="skip")
            except FileNotFoundError:
                remote = src.subsets[sub].remote
                print(f"{name:24} {src.kind:9} {sub:32} {'-':>6}  not present"
                      + (f" (fetchable: {remote.url})" if remote else ""))
                continue
            extra = "".join(f"; filtered {n} ({why})" for why, n in report.filtered.items())
            extra += f"; skipped {len(report.skipped)} bad rows" if report.skipped else ""
            print(f"{name:24} {src.kind:9} {sub:32} {len(examples):6d}  {_label_counts(examples)}{extra}")
    return 0


def cmd_data_show(args) -> int:
    src = D.source(args.name)
    examples, report = D.load(args.name, args.subset, root=args.root, on_bad_record=args.on_bad_record,
                              fetch=args.fetch)
    print(f"{src.name} ({src.kind}): {src.description}")
    print(f"subsets: {', '.join(src.subsets)}; default protocol: {src.protocol or '-'}")
    print(f"rows: {len(examples)}  {_label_counts(examples)}")
    for why, n in report.filtered.items():
        print(f"filtered: {n} ({why})")
    if examples and "annotators" in examples[0].meta:
        from judge_core.metrics import fleiss_kappa

        print(f"annotator agreement: Fleiss' kappa {fleiss_kappa([e.meta['annotators'] for e in examples]):.4f}")
    if report.skipped:
        print(f"skipped {len(report.skipped)} bad rows:")
        for err in report.skipped[:10]:
            print(f"  {err}")
    if examples:
        ex = examples[min(args.example, len(examples) - 1)]
        print(f"\nexample {ex.uid}:")
        print(json.dumps(ex.model_dump(), ensure_ascii=False, indent=1)[:args.chars])
    return 0


RAW = {"log_loss", "brier", "cohen_kappa", "pearson", "spearman", "kendall"}  # not fractions: print as is


def _fmt(key: str, value) -> str:
    if key in RAW and not scoring.is_missing(value):
        return f"{value:.4f}"
    return _pct(value)


def _print_result(r: dict) -> None:
    print("(percentages; kappa, correlations and log loss as they are)")
    print(f"{r['benchmark']}/{r['subset']} under protocol {r['protocol']}: n={r['n']} of {r['n_total']}, "
          f"parse failures={r['parse_failures']} (counted as {r['on_parse_failure']})")
    ci = r.get("ci95", {})
    for key, value in r.items():
        if isinstance(value, float) or value is None and key in protocols.get(r["protocol"]).headline:
            low_high = f"   95% CI {_fmt(key, ci[key][0])} .. {_fmt(key, ci[key][1])}" if key in ci else ""
            print(f"  {key:18} {_fmt(key, value):>8}{low_high}")
    if "groups" in r:
        print(f"  {'group':24} {'agreement':>10} {'consistency':>12} {'single':>8}")
        for g, m in r["groups"].items():
            print(f"  {g:24} {_pct(m['agreement']):>10} {_pct(m['consistency']):>12} {_pct(m['single_accuracy']):>8}")


def cmd_score(args) -> int:
    result = scoring.score(args.benchmark, args.predictions, subset=args.subset, template=args.template,
                           protocol=args.protocol, on_parse_failure=args.on_parse_failure, root=args.root,
                           bootstrap=args.bootstrap, seed=args.seed)
    if args.json:
        print(json.dumps(result, default=lambda x: None if isinstance(x, float) and math.isnan(x) else x))
    else:
        _print_result(result)
    return 0


def _config_verb(sub, name: str, func, help: str, config_help: str, overrides_help: str) -> None:
    """A verb that takes a YAML config and `key=value` overrides (finetune, sweep, compare, serve)."""
    verb = sub.add_parser(name, help=help)
    verb.add_argument("config", help=config_help)
    verb.add_argument("overrides", nargs="*", help=f"key=value overrides, {overrides_help}")
    verb.set_defaults(func=func)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="judge", description="judgeray: LLM-as-a-judge at scale, measured exactly.")
    sub = p.add_subparsers(dest="verb", required=True)

    data = sub.add_parser("data", help="list and inspect benchmark and training sources")
    data_sub = data.add_subparsers(dest="data_verb", required=True)
    ls = data_sub.add_parser("list", help="every source with its row count and label distribution")
    ls.add_argument("--root", help="data root (default: $JUDGE_DATA_DIR, ./data, ../shared/data)")
    ls.set_defaults(func=cmd_data_list)
    show = data_sub.add_parser("show", help="one source: counts, labels, filters and one example")
    show.add_argument("name", choices=sorted(D.SOURCES))
    show.add_argument("--subset")
    show.add_argument("--root")
    show.add_argument("--on-bad-record", choices=("error", "skip"), default="error")
    show.add_argument("--fetch", action="store_true", help="download a missing file from its pinned URL")
    show.add_argument("--example", type=int, default=0, help="which row to print")
    show.add_argument("--chars", type=int, default=3000, help="print at most this much of the example")
    show.set_defaults(func=cmd_data_show)

    sc = sub.add_parser("score", help="re-score a JSONL of judgments under a paper's protocol")
    sc.add_argument("--benchmark", required=True, choices=sorted(n for n, s in D.SOURCES.items() if s.protocol))
    sc.add_argument("--subset")
    sc.add_argument("--predictions", required=True)
    sc.add_argument("--template", choices=sorted(prompts.TEMPLATES), help="parser for rows with raw 'output'")
    sc.add_argument("--protocol", choices=sorted(protocols.PROTOCOLS), help="default: the benchmark's paper")
    sc.add_argument("--on-parse-failure", choices=("wrong", "tie", "drop"), help="default: the protocol's paper")
    sc.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for 95%% CIs (0 = none)")
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--root")
    sc.add_argument("--json", action="store_true", help="one JSON object, fractions in [0,1]")
    sc.set_defaults(func=cmd_score)
    _config_verb(sub, "finetune", cmd_finetune, "fine-tune a judge with Ray Train (LoRA/QLoRA/full/prefix, ZeRO)",
                 "configs/finetune/<name>.yaml", "e.g. lr=1e-4 lora.rank=16")

    fe = sub.add_parser("finetune-eval", help="judge benchmarks with a trained classifier adapter and score them")
    fe.add_argument("adapter", help="directory written by judge finetune")
    fe.add_argument("benchmarks", nargs="+", help="benchmark or benchmark/subset")
    fe.add_argument("--out", help="predictions + metrics directory (default: <adapter>/../eval)")
    fe.add_argument("--root")
    fe.add_argument("--bootstrap", type=int, default=1000)
    fe.set_defaults(func=cmd_finetune_eval)
    _config_verb(sub, "sweep", cmd_sweep, "judges x templates x benchmarks on Ray Data; resumable; writes the report",
                 "configs/sweeps/<name>.yaml", "e.g. limit=20 judges.0.batch_size=8")
    _config_verb(sub, "compare", cmd_compare, "candidate models against a baseline with one judge (win/tie/loss, "
                 "Bradley-Terry, scores as % of the baseline); resumable; writes a report",
                 "configs/compare/<name>.yaml", "e.g. limit=10 name=try")
    _config_verb(sub, "serve", cmd_serve, "the judge behind HTTP on Ray Serve (/v1/judge, /v1/score, /v1/models, /healthz)",
                 "configs/serve/<name>.yaml (a Serve config file; the key comes from the environment)",
                 "applied to the app's args, e.g. max_batch_size=32")

    jj = sub.add_parser("judge", help="one cell (judge, template, benchmark) from the command line")
    jj.add_argument("--engine", required=True, choices=("hf", "vllm", "openai", "classifier", "baseline"))
    jj.add_argument("--model", required=True, help="path or HF id; baseline: longer | relevance | features")
    jj.add_argument("--adapter")
    jj.add_argument("--mode", choices=("generate", "label"), default="generate")
    jj.add_argument("--template", default="label", choices=sorted(prompts.TEMPLATES))
    jj.add_argument("--benchmark", required=True, help="name or name/subset")
    jj.add_argument("--orders", choices=("both", "ab", "protocol"), default="both")
    jj.add_argument("--limit", type=int)
    jj.add_argument("--option", action="append", default=[], help="engine option key=value (repeatable)")
    jj.add_argument("--concurrency", type=int, default=1)
    jj.add_argument("--num-gpus", type=float, default=0)
    jj.add_argument("--batch-size", type=int, default=16)
    jj.add_argument("--name", help="judge name in results (default: from the model)")
    jj.add_argument("--out", default="results/judge", help="results directory")
    jj.add_argument("--root")
    jj.set_defaults(func=cmd_judge)

    rp = sub.add_parser("report", help="Markdown + self-contained HTML report of a results directory")
    rp.add_argument("results", help="results/<sweep>")
    rp.set_defaults(func=cmd_report)

    tf = sub.add_parser("train-features", help="fit the scikit-learn feature baseline judge (joblib)")
    tf.add_argument("--out", required=True, help="joblib path")
    tf.add_argument("--sources", nargs="+", help="training sources (default: every shared training source)")
    tf.add_argument("--root")
    tf.set_defaults(func=cmd_train_features)
    return p


def cmd_sweep(args) -> int:
    from .sweep import load_sweep, run_sweep

    status = run_sweep(load_sweep(args.config, args.overrides))
    failed = [k for k, v in status.items() if v != "ok"]
    print(f"{len(status) - len(failed)} of {len(status)} cells ok" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def cmd_compare(args) -> int:
    from .compare import load_compare, run_compare

    cfg = load_compare(args.config, args.overrides)
    run_compare(cfg)
    print(f"{cfg.results_dir / 'compare.json'}\n{cfg.results_dir / 'report.md'}\n{cfg.results_dir / 'report.html'}")
    return 0


def cmd_serve(args) -> int:
    from .serve import serve_main

    serve_main(args.config, args.overrides)
    return 0


def cmd_judge(args) -> int:
    import re

    import yaml

    from .engines.base import JudgeSpec
    from .sweep import SweepConfig, run_sweep

    options = {}
    for item in args.option:
        key, _, value = item.partition("=")
        options[key] = yaml.safe_load(value)
    name = args.name or re.sub(r"[^A-Za-z0-9_.+-]", "_", args.model.rstrip("/").split("/")[-1])
    spec = JudgeSpec(name=name, engine=args.engine, model=args.model, adapter=args.adapter, mode=args.mode,
                     options=options, concurrency=args.concurrency, num_gpus=args.num_gpus, batch_size=args.batch_size)
    out = args.out.rstrip("/")
    cfg = SweepConfig(name=out.split("/")[-1], output_dir=str(Path(out).parent), judges=[spec],
                      templates=[args.template], benchmarks=[args.benchmark], orders=args.orders, limit=args.limit,
                      root=args.root)
    status = run_sweep(cfg)
    return 0 if all(v == "ok" for v in status.values()) else 1


def cmd_report(args) -> int:
    from .report import write_report

    paths = write_report(args.results)
    print(f"{paths['md']}\n{paths['html']}")
    return 0


def cmd_train_features(args) -> int:
    from .engines.baselines import DEFAULT_TRAIN, train_features

    info = train_features(args.sources or DEFAULT_TRAIN, args.out, root=args.root)
    print(f"{args.out}: {info['train_rows']} training rows, validation accuracy {100 * info['val_accuracy']:.2f}, "
          f"log loss {info['val_log_loss']:.4f}")
    return 0


def cmd_finetune_eval(args) -> int:
    from .finetune_eval import evaluate

    out = args.out or Path(args.adapter).parent / "eval"
    results = evaluate(args.adapter, args.benchmarks, out, root=args.root, bootstrap=args.bootstrap)
    for key, r in results.items():
        head = protocols.get(r["protocol"]).headline
        print(f"{key:42} " + "  ".join(f"{k} {_fmt(k, r.get(k))}" for k in head))
    print(f"predictions and metrics.json in {out}")
    return 0


def cmd_finetune(args) -> int:
    from .finetune import main as finetune_main  # imports Ray and torch only for this verb

    return finetune_main(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # `judge data show x | head`: stop quietly
        sys.stdout = open(os.devnull, "w")
        return 0
    except (ValueError, KeyError, FileNotFoundError) as e:  # user errors: one clear line, no traceback
        print(f"judge: error: {e.args[0] if isinstance(e, KeyError) and e.args else e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
