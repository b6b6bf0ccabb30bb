"""`judge annotate`: one judge over an unlabelled dataset of any size, streamed to Parquet shards (run.py)."""

from .run import AnnotateConfig, load_annotate, run_annotate

__all__ = ["AnnotateConfig", "load_annotate", "run_annotate"]
