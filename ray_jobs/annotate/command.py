"""`judge annotate CONFIG [key=value ...]`: one judge over a dataset of any size, streamed to Parquet shards."""

from __future__ import annotations

from ..config import add_config_verb
from ..console import log_note, logging_to
from ..locations import is_uri
from .run import load_annotate, run_annotate


def add_parser(sub) -> None:
    add_config_verb(
        sub,
        "annotate",
        run,
        "one judge over an unlabelled dataset of any size, streamed to "
        "Parquet shards (every input column plus the verdict); killed and re-run, it resumes",
        "configs/annotate/<name>.yaml",
        "e.g. output=results/annotated/try judge.concurrency=2",
        "ray_jobs.annotate.run:AnnotateConfig",
    )


def run(args) -> int:
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
