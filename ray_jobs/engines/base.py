"""The engine interface and registry: an engine is built from a JudgeSpec and answers rows.

    engine = build_engine(spec)
    outs = engine.judge(rows, "label")     # one dict per row, in the PRESENTED order

For each row ({uid, order, example}) an engine returns `raw` text and/or `probs` (p_tie, p1, p2),
`tokens_in`, `tokens_out`, `seconds`, `truncated`, and `error` when that row failed. Prompt building
and parsing stay in judge_core; an engine only calls a model. Which engine class serves which
`engine:` name is ray_jobs.spec.CAPABILITIES.
"""

from __future__ import annotations

import importlib
import os
import sys
import time

from ..spec import JudgeSpec


def build_engine(spec: JudgeSpec | dict):
    """The engine object for a spec (imported lazily: only the chosen engine's libraries load)."""
    spec = JudgeSpec.model_validate(spec)
    if spec.capability.builder is None:
        raise ValueError(f"judge {spec.name}: engine {spec.engine} runs no model")
    if spec.num_gpus == 0 and "torch" not in sys.modules and hasattr(spec.opts, "threads"):
        os.environ["OMP_NUM_THREADS"] = str(cpu_threads(spec))  # before the engine's module loads torch
    module, cls = spec.capability.builder.split(":")
    return getattr(importlib.import_module(f"ray_jobs.engines.{module}"), cls)(spec)


def cpu_threads(spec: JudgeSpec) -> int:
    """The judge's `threads` (default: the machine's cores shared by its actors, at most its pool's max).
    Ray starts every actor with OMP_NUM_THREADS=1, and OpenMP reads that once, when torch loads: so
    build_engine sets it to this before it imports the engine's module. torch.set_num_threads alone
    left the vllm engine ~15% slower in an actor than OMP_NUM_THREADS=2 (100 LLMBar prompts, SmolLM2,
    3 runs each)."""
    return spec.opts.threads or max(1, (os.cpu_count() or 1) // (spec.pool[1] or 1))


def use_cpu_threads(spec: JudgeSpec) -> None:
    """On a CPU, let torch use cpu_threads(spec) (OpenMP got the same number from build_engine)."""
    import torch  # heavy: kept out of `judge --help`

    if not torch.cuda.is_available():
        torch.set_num_threads(cpu_threads(spec))


def failed(error: str) -> dict:
    return {"raw": None, "probs": None, "error": error}


def one_by_one(judge_rows, rows: list[dict], template: str | None) -> list[dict]:
    """Run a batch; if the batch as a whole raises, retry row by row so that one bad row fails alone."""
    start = time.perf_counter()
    try:
        outs = judge_rows(rows, template)
    except Exception:  # noqa: BLE001 - isolate the row that breaks, report it, keep the rest
        outs = []
        for row in rows:
            try:
                outs += judge_rows([row], template)
            except Exception as exc:  # noqa: BLE001
                outs.append(failed(f"{type(exc).__name__}: {exc}"[:500]))
    per_row = (time.perf_counter() - start) / max(1, len(rows))
    return [{"seconds": per_row} | out for out in outs]
