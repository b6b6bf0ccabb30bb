"""How a worker applies gradients and saves its state: DDP or DeepSpeed ZeRO, behind one small object.

    backend = make_backend(cfg)                 # DDP() without `deepspeed:`, else ZeRO(cfg)
    model, optimizer, scheduler = backend.setup(model, optimizer, scheduler, cfg)
    with backend.autocast(device):
        loss = model(**inputs).loss
    backend.backward(model, loss, cfg.grad_accum)
    backend.step(model, optimizer, scheduler, boundary)   # boundary: the last micro-batch of a step

Every difference between the two lives here, so the recipe reads the same for both: DeepSpeed runs
bf16 and gradient accumulation itself, partitions the optimizer (and, under ZeRO-3, the parameters)
across ranks, and saves and restores its partitions itself.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import ray.train.torch
import torch

from .config import FinetuneConfig


class DDP:
    """Ray Train's prepare_model (DDP across workers); bf16 as autocast over fp32 weights."""

    zero_stage: int | None = None
    every_rank_saves = False  # only rank 0 writes checkpoint files

    def __init__(self, cfg: FinetuneConfig):
        self.bf16 = cfg.bf16

    def setup(self, model, optimizer, scheduler, cfg: FinetuneConfig):

        return ray.train.torch.prepare_model(model), optimizer, scheduler

    def autocast(self, device):

        return torch.autocast(device_type=device.type, dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def backward(self, model, loss, grad_accum: int) -> None:
        (loss / grad_accum).backward()

    def step(self, model, optimizer, scheduler, boundary: bool) -> None:

        if boundary:
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)

    def gathered(self, model):
        """A context in which every parameter is whole on this rank (for saving)."""
        return contextlib.nullcontext()

    def save_partitions(self, model, directory: Path) -> None:
        """This rank's share of the state, where the backend shards it (nothing to do for DDP)."""

    def trainer_state(self, optimizer, scheduler) -> dict:
        return {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}

    def restore(self, model, optimizer, scheduler, directory: Path, state: dict, load_trainable) -> None:
        load_trainable(model, state["trainable"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])


class ZeRO(DDP):
    """DeepSpeed ZeRO-2 or -3 from a json config (gloo on CPU, NCCL on GPU); a client AdamW."""

    every_rank_saves = True  # each rank's partition goes into the checkpoint

    def __init__(self, cfg: FinetuneConfig):
        super().__init__(cfg)
        self.config = json.loads(Path(cfg.deepspeed).read_text())
        self.zero_stage = self.config["zero_optimization"]["stage"]

    def setup(self, model, optimizer, scheduler, cfg: FinetuneConfig):
        import deepspeed  # optional: ZeRO only (slow to import)

        config = self.config | {
            "train_micro_batch_size_per_gpu": cfg.batch_size,
            "gradient_accumulation_steps": cfg.grad_accum,
            "bf16": {"enabled": cfg.bf16},
        }
        model, optimizer, _, scheduler = deepspeed.initialize(
            model=model, optimizer=optimizer, lr_scheduler=scheduler, config=config
        )
        return model, optimizer, scheduler

    def autocast(self, device):
        return contextlib.nullcontext()  # DeepSpeed handles bf16 itself

    def backward(self, model, loss, grad_accum: int) -> None:
        model.backward(loss)  # DeepSpeed scales for accumulation itself

    def step(self, model, optimizer, scheduler, boundary: bool) -> None:
        model.step()  # every micro-batch: DeepSpeed steps the optimizer at accumulation boundaries

    def gathered(self, model):
        if self.zero_stage != 3:
            return contextlib.nullcontext()
        import deepspeed  # optional: ZeRO only (slow to import)

        return deepspeed.zero.GatheredParameters(list(model.module.parameters()), modifier_rank=None)

    def save_partitions(self, model, directory: Path) -> None:
        model.save_checkpoint(str(directory), tag="deepspeed")

    def trainer_state(self, optimizer, scheduler) -> dict:
        return {}  # in the partitions

    def restore(self, model, optimizer, scheduler, directory: Path, state: dict, load_trainable) -> None:
        # not strict: a QLoRA module's state carries bitsandbytes quant_state entries that the
        # freshly quantised base re-creates itself. Optimizer partitions and scheduler come back
        # here; the trained weights are loaded again below (checked) unless ZeRO-3 shards them.
        model.load_checkpoint(str(directory), tag="deepspeed", load_module_strict=False)
        if self.zero_stage != 3:
            load_trainable(model, state["trainable"])


def make_backend(cfg: FinetuneConfig) -> DDP:
    return ZeRO(cfg) if cfg.deepspeed else DDP(cfg)
