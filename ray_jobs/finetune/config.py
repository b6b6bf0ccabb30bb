"""The fine-tuning config: one pydantic model, read from YAML with `key=value` overrides.

cfg = load_config("configs/finetune/minilm-cpu.yaml", ["lr=1e-4", "lora.rank=16"])
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..config import read_config
from ..locations import resolve


class LoraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rank: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class FinetuneConfig(BaseModel):
    """Everything a fine-tune needs; it travels to the workers through train_loop_config."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="run name: results/finetune/<name>, resumable under it")
    model: str = Field(description="HF id, local path, or python-package:<module> (module.get_model_path())")
    head: Literal["classifier", "generative", "pair"] = Field(
        "classifier",
        description="classifier: 3-way head over question + both answers; generative: the verdict text; pair: one "
        "score per (question, answer), tie by a learned margin (position-free by construction)",
    )
    pair_features: bool = Field(
        False,
        description="pair head: add a linear term in each answer's judge_core.features to its score and one in the "
        "symmetric gaps + answer overlap to the tie logit (the encoder learns what they miss)",
    )
    head_lr: float | None = Field(
        None, gt=0, description="learning rate of the pair head's own weights (tie, feature terms); default: lr"
    )
    method: Literal["lora", "full", "prefix"] = "lora"
    quantize: Literal["nf4"] | None = Field(None, description="nf4 = QLoRA (bitsandbytes 4-bit base)")
    lora: LoraSettings = LoraSettings()
    prefix_tokens: int = Field(16, ge=1, description="virtual tokens for method=prefix (P-tuning v2)")
    template: str = Field("label", description="generative head: the judge_core template it learns")
    sources: list[str] = Field(description="training sources: `judge data` names, or name/subset")
    val_fraction: float = Field(0.05, ge=0, lt=1)
    limit_per_source: int | None = Field(
        None, description="keep a deterministic uid-hash sample of N pairs per source (after filters; quick runs)"
    )
    swap_augment: bool = True
    reference_drop: float = Field(0.0, ge=0, le=1)
    decontaminate: bool = True
    max_length: int = Field(512, ge=16)
    epochs: float = Field(1.0, gt=0)
    batch_size: int = Field(8, ge=1, description="examples per worker per step")
    grad_accum: int = Field(1, ge=1)
    lr: float = Field(2e-4, gt=0)
    weight_decay: float = 0.0
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    bf16: bool = Field(False, description="bf16 autocast (weights stay fp32); also QLoRA's compute dtype")
    threads_per_worker: int | None = Field(None, description="torch threads per worker (CPU); default cores / workers")
    gradient_checkpointing: bool = False
    deepspeed: str | None = Field(None, description="path to a DeepSpeed json (ZeRO-2/3); none = DDP")
    num_workers: int = Field(1, ge=1)
    use_gpu: bool = False
    placement: Literal["PACK", "SPREAD", "STRICT_SPREAD"] = Field(
        "PACK",
        description="Ray Train's placement of the workers: PACK fills a node first (fast collectives); "
        "SPREAD/STRICT_SPREAD put them on separate nodes",
    )
    max_failures: int = Field(
        2,
        ge=-1,
        description="restarts after a worker or node is lost, each from the last "
        "checkpoint (Ray Train's FailureConfig; -1: no limit)",
    )
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = Field(100, ge=1, description="optimizer steps between checkpoints")
    storage_path: str = Field(
        "results/finetune",
        validate_default=True,
        description="Ray Train storage (a directory or URI); results/... is in $JUDGE_RESULTS_DIR when set",
    )
    output_dir: str | None = Field(None, description="where the final adapter goes (default: <storage>/<name>/adapter)")
    resume_from: str | None = Field(
        None,
        description="a checkpoint directory to continue from, or 'latest' (the furthest checkpoint of this run name)",
    )
    eval_benchmarks: list[str] = Field(default_factory=list, description="benchmark[/subset] to judge after training")
    data_root: str | None = None
    stop_after_steps: int | None = Field(None, description="stop early (tests, smoke runs)")

    @model_validator(mode="after")
    def _consistent(self) -> FinetuneConfig:
        if self.quantize and self.method != "lora":
            raise ValueError("quantize: nf4 is QLoRA: it needs method: lora")
        if (self.pair_features or self.head_lr) and self.head != "pair":
            raise ValueError("pair_features and head_lr belong to head: pair")
        return self

    @field_validator("model", "storage_path", "output_dir", "resume_from")
    @classmethod
    def _located(cls, path: str | None) -> str | None:
        """models/NAME and results/... in the models and results locations (ray_jobs/locations.py)."""
        return resolve(path)

    def resolved_model(self) -> str:
        if self.model.startswith("python-package:"):
            module = importlib.import_module(self.model.split(":", 1)[1])
            return str(module.get_model_path())
        return self.model

    def adapter_dir(self) -> Path:
        return Path(self.output_dir or Path(self.storage_path) / self.name / "adapter")


def load_config(path: str | Path, overrides: list[str] = ()) -> FinetuneConfig:
    """A YAML file plus `key=value` overrides (values parsed as YAML: numbers, lists, null)."""
    return FinetuneConfig(**read_config(path, overrides))
