"""One small engine interface and the registry of engines.

An engine is built from a JudgeSpec and answers `judge(rows, template)`: for each row
({uid, order, example}) a dict in the PRESENTED order with `raw` text and/or `probs`
(p_tie, p1, p2), `tokens_in`, `tokens_out`, `seconds`, `truncated`, and `error` when that row failed.
Prompt building and parsing stay in judge_core; an engine only calls a model.
"""
from __future__ import annotations

import importlib
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EngineKind = Literal["hf", "vllm", "openai", "classifier", "baseline", "fake", "ensemble"]
PROMPTED = {"hf", "vllm", "openai", "fake"}  # engines that read a prompt template
ENGINES = {"hf": "hf:HFEngine", "vllm": "vllm_engine:VLLMEngine", "openai": "openai_engine:OpenAIEngine",
           "classifier": "classifier:ClassifierEngine", "baseline": "baselines:BaselineEngine",
           "fake": "fake:FakeEngine"}


class JudgeSpec(BaseModel):
    """One judge: an engine, its model, how it answers, and the Ray resources of its actors."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.+-]+$", description="directory-safe name used in results")
    engine: EngineKind
    model: str | None = Field(None, description="path or HF id; baseline: 'longer', 'relevance' or 'features'; "
                                                "openai: the served model name")
    adapter: str | None = Field(None, description="PEFT adapter directory (hf, vllm LoRA, classifier)")
    mode: Literal["generate", "label"] = Field("generate", description="label = one forward pass over "
                                                                       "the template's label tokens")
    templates: list[str] | None = Field(None, description="templates for this judge (default: the sweep's)")
    options: dict[str, Any] = Field(default_factory=dict, description="engine-specific settings")
    concurrency: int = Field(1, ge=1, description="engine actors")
    num_gpus: float = Field(0, ge=0, description="GPUs per actor")
    num_cpus: float = Field(1, ge=0, description="CPUs per actor")
    batch_size: int = Field(16, ge=1, description="rows per map_batches call")

    @model_validator(mode="after")
    def _check(self) -> "JudgeSpec":
        if self.engine == "ensemble":
            _check_ensemble(self)
        elif self.engine != "fake" and not self.model:
            raise ValueError(f"judge {self.name}: engine {self.engine} needs a model")
        if self.mode == "label" and self.engine in ("classifier", "baseline"):
            raise ValueError(f"judge {self.name}: engine {self.engine} has no label mode (it gives probabilities)")
        return self

    @property
    def prompted(self) -> bool:
        return self.engine in PROMPTED


def _check_ensemble(spec: JudgeSpec) -> None:
    """An ensemble reads its members' stored judgments (ray_jobs/ensemble.py): options.members names
    them ("judge" or "judge/template"), options.weights (optional) weighs them."""
    members, weights = spec.options.get("members"), spec.options.get("weights")
    if not isinstance(members, list) or len(members) < 2 or not all(isinstance(m, str) for m in members):
        raise ValueError(f"judge {spec.name}: an ensemble needs options.members, a list of two or more judge names")
    if weights is not None and (len(weights) != len(members) or any(w < 0 for w in weights) or not sum(weights)):
        raise ValueError(f"judge {spec.name}: options.weights needs one non-negative weight per member, not all zero")


def preflight(spec: JudgeSpec) -> None:
    """Fail fast, before any actor starts, on local paths that must exist (a hub id is not checked)."""
    from pathlib import Path

    if spec.engine == "classifier" and not (Path(spec.adapter or spec.model) / "judgeray.json").is_file():
        raise FileNotFoundError(f"judge {spec.name}: {spec.adapter or spec.model} is not a directory written by "
                                "`judge finetune` (no judgeray.json); train it first")
    if spec.adapter and spec.engine != "classifier" and not Path(spec.adapter).is_dir():
        raise FileNotFoundError(f"judge {spec.name}: adapter directory {spec.adapter} not found")


def build_engine(spec: JudgeSpec | dict):
    """The engine object for a spec (imported lazily: only the chosen engine's libraries load)."""
    spec = JudgeSpec.model_validate(spec)
    module, cls = ENGINES[spec.engine].split(":")
    return getattr(importlib.import_module(f"ray_jobs.engines.{module}"), cls)(spec)


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
