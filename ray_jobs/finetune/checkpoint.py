"""Checkpoints of a fine-tune: report them through Ray Train, restore them, find the latest whole one.

    save_checkpoint(job, step, metrics)       # adapter + trainer state (+ ZeRO partitions), every rank
    step = restore(job, resume_dir, since)    # this run's latest checkpoint, else resume_dir, else 0
    latest_checkpoint(cfg)                    # the newest checkpoint whose every file arrived

Ray copies a checkpoint into storage file by file, so a run killed mid-copy leaves a partial
directory: each rank writes a manifest of its files, and only a directory whose manifests all exist
and match counts.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import ray.train
import torch

from .config import FinetuneConfig
from .model import save


def trainable_state(model) -> dict:
    inner = getattr(model, "module", model)
    return {n: p.detach().cpu() for n, p in inner.named_parameters() if p.requires_grad}


def load_trainable(model, trainable: dict) -> None:
    inner = getattr(model, "module", model)
    missing = set(trainable) - {n for n, _ in inner.named_parameters()}
    if missing:
        raise ValueError(f"checkpoint holds parameters this model lacks: {sorted(missing)[:5]}")
    inner.load_state_dict(trainable, strict=False)


def save_checkpoint(job, step: int, metrics: dict) -> None:
    """Report a checkpoint: the adapter and trainer state from rank 0 and, under DeepSpeed, every
    rank's ZeRO partition (Ray merges the ranks' files into one checkpoint directory)."""

    context = ray.train.get_context()
    rank, backend = context.get_world_rank(), job.backend
    with tempfile.TemporaryDirectory() as tmp:
        backend.save_partitions(job.model, Path(tmp))
        with backend.gathered(job.model):
            if rank == 0:
                state = {"trainable": trainable_state(job.model), "step": step} | backend.trainer_state(
                    job.optimizer, job.scheduler
                )
                torch.save(state, Path(tmp) / "trainer_state.pt")
                save(
                    getattr(job.model, "module", job.model),
                    job.tok,
                    job.cfg,
                    Path(tmp) / "adapter",
                    {"metrics": metrics, "step": step},
                )
        keep = rank == 0 or backend.every_rank_saves
        if keep:
            write_manifest(Path(tmp), rank, context.get_world_size() if backend.every_rank_saves else 1)
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp) if keep else None)


def restore(job, resume_dir: str | None, since: float | None = None) -> int:
    """Continue from this run's latest checkpoint (after a worker restart) or else from
    `resume_dir`; returns the step reached. Called after the backend's setup (deepspeed.initialize
    restores its own partitions). `since`: when this run started; a whole checkpoint written since
    then is this run's even if Ray Train never registered it (a node lost right after writing it:
    the controller had not yet collected every rank's report, and get_checkpoint() gives None)."""

    ckpt, source = ray.train.get_checkpoint(), "this run's last checkpoint"
    own = latest_checkpoint(job.cfg, since) if ckpt is None and since is not None else None
    if ckpt is None and (own or resume_dir):
        ckpt = ray.train.Checkpoint.from_directory(own or resume_dir)
        source = "this run's last whole checkpoint on disk (not registered by Ray Train)" if own else resume_dir
    if ckpt is None:
        return 0
    with ckpt.as_directory() as d:
        state = torch.load(Path(d) / "trainer_state.pt", weights_only=False)
        job.backend.restore(job.model, job.optimizer, job.scheduler, Path(d), state, load_trainable)
    if ray.train.get_context().get_world_rank() == 0:
        print(f"[finetune] resumed at step {state['step']} from {source}", flush=True)
    return state["step"]


def write_manifest(directory: Path, rank: int, ranks: int) -> None:
    """manifest-rank<r>.json: every file this rank put in the checkpoint, with its size."""
    files = {str(f.relative_to(directory)): f.stat().st_size for f in sorted(directory.rglob("*")) if f.is_file()}
    (directory / f"manifest-rank{rank}.json").write_text(json.dumps({"ranks": ranks, "files": files}))


def checkpoint_complete(directory: Path) -> bool:
    """Every rank's manifest is there and every file it lists has its size."""
    try:
        ranks = json.loads((directory / "manifest-rank0.json").read_text())["ranks"]
        for r in range(ranks):
            files = json.loads((directory / f"manifest-rank{r}.json").read_text())["files"]
            if any(
                not (directory / f).is_file() or (directory / f).stat().st_size != size for f, size in files.items()
            ):
                return False
        return True
    except (OSError, ValueError, KeyError):  # a manifest not (fully) copied yet
        return False


def latest_checkpoint(cfg: FinetuneConfig, since: float | None = None) -> str | None:
    """The complete checkpoint (see checkpoint_complete) with the highest step under
    <storage_path>/<name> (written after `since`, a time.time(), when given); None if there is none."""
    found = []
    for d in Path(cfg.storage_path, cfg.name).glob("checkpoint_*"):
        if checkpoint_complete(d) and (since is None or (d / "manifest-rank0.json").stat().st_mtime >= since):
            found.append((json.loads((d / "adapter" / "judgeray.json").read_text())["step"], d.name, str(d)))
    return max(found)[2] if found else None
