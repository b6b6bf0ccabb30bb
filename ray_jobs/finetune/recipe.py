"""Fine-tune a judge with Ray Train: `judge finetune configs/finetune/minilm-cpu.yaml [key=value ...]`.

Reads top to bottom like a torchtune recipe:
    driver  build_datasets (judge_core training data -> tokenised micro-batches) -> TorchTrainer
    worker  setup (tokenizer, model, optimizer, schedule, backend, restore) -> train (progress
            reports, checkpoints) -> validate -> final checkpoint
    driver  copy the final adapter to its output directory -> evaluate_after (finetune/eval.py)
DDP or DeepSpeed ZeRO is one object (finetune/backend.py); checkpoints are finetune/checkpoint.py.
"""

from __future__ import annotations

import collections
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import ray.data
import ray.train
import ray.train.torch
import torch
import torch.distributed as dist
from ray.train.torch import TorchTrainer

from judge_core.finetune_data import build_training_set

from .. import console
from ..engines.encoder import pad
from ..locations import is_uri, results_location
from ..models import ensure
from ..ray_lifecycle import ensure_ray
from .backend import DDP, make_backend
from .checkpoint import latest_checkpoint, restore, save_checkpoint
from .config import FinetuneConfig, load_config
from .eval import evaluate
from .model import load_model, load_tokenizer, trainable_share
from .tokenize import IGNORE, feature_stats, micro_batches, training_rows


# ---- data (driver) ---------------------------------------------------------------------------------
def build_datasets(cfg: FinetuneConfig):
    """(train rows, val rows, report, feature stats or None): length-grouped micro-batches, one per
    Ray Data row; validation in both orders."""

    train, val, report = build_training_set(
        cfg.sources,
        cfg.val_fraction,
        cfg.seed,
        cfg.data_root,
        swap=cfg.swap_augment,
        reference_drop=cfg.reference_drop,
        clean=cfg.decontaminate,
        limit_per_source=cfg.limit_per_source,
    )
    tok = load_tokenizer(cfg)
    train_examples = training_rows(train, tok, cfg)
    stats = feature_stats(train_examples) if cfg.pair_features else None
    train_rows = micro_batches(train_examples, cfg.batch_size, cfg.seed)
    val_rows = micro_batches(training_rows(val, tok, cfg, orders=("ab", "ba")), cfg.batch_size, cfg.seed)
    return train_rows, val_rows, report, stats


# ---- worker ------------------------------------------------------------------------------------------
@dataclass
class Job:
    """What a worker trains with; checkpoint.save_checkpoint and restore read it."""

    cfg: FinetuneConfig
    tok: object
    model: object
    optimizer: object
    scheduler: object
    backend: DDP
    device: object
    total_steps: int
    params: tuple[int, int]  # (trainable, total)


@dataclass
class Progress:
    """Steps done, tokens seen, and the loss of the current logging window."""

    step: int
    resumed_from: int
    seen: int = 0
    padded: int = 0
    window: list = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    recent: collections.deque = None  # the last log_every steps' micro-batch losses, for the final loss

    def add(self, loss: float, real: int, padded: int) -> None:
        self.seen, self.padded = self.seen + real, self.padded + padded
        self.window.append(loss)
        self.recent.append(loss)

    def metrics(self, job: Job, epoch: int) -> dict:
        return {
            "step": self.step,
            "epoch": epoch,
            "loss": sum(self.window) / len(self.window),
            "tokens_per_s": self.seen / (time.perf_counter() - self.started),
            "non_pad_share": self.seen / max(1, self.padded),
            "lr": job.scheduler.get_last_lr()[0],
            "trainable_params": job.params[0],
            "total_params": job.params[1],
        }

    def final(self, job: Job) -> dict:
        return {
            "step": self.step,
            "resumed_from": self.resumed_from,
            "loss": sum(self.recent) / len(self.recent) if self.recent else math.nan,
            "non_pad_share": self.seen / max(1, self.padded),
            "trainable_params": job.params[0],
            "total_params": job.params[1],
        }


def train_loop(config: dict) -> None:
    """Runs on every Ray Train worker; everything it needs comes in `config` (never module globals)."""
    job = setup(config)
    step = restore(job, config.get("resume_dir"), config.get("started"))
    progress = Progress(step, step, recent=collections.deque(maxlen=max(1, job.cfg.log_every * job.cfg.grad_accum)))
    train(job, progress)
    final = progress.final(job) | (validate(job) if config["val_batches"] else {})
    save_checkpoint(job, progress.step, final)


def setup(config: dict) -> Job:
    """Tokenizer, model (+ PEFT), optimizer, schedule, and the backend wrapped around them."""

    cfg = FinetuneConfig(**config["cfg"])
    torch.manual_seed(cfg.seed)
    if not cfg.use_gpu:  # Ray gives each worker OMP_NUM_THREADS=1; a CPU run wants its cores
        torch.set_num_threads(cfg.threads_per_worker or max(1, (os.cpu_count() or 1) // cfg.num_workers))
    tok = load_tokenizer(cfg)
    model = load_model(cfg, tok, config.get("feature_stats"))
    params = trainable_share(model)
    optimizer = torch.optim.AdamW(_param_groups(model, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total_steps = planned_steps(cfg, config["train_batches"], ray.train.get_context().get_world_size())
    backend = make_backend(cfg)
    model, optimizer, scheduler = backend.setup(
        model, optimizer, _schedule(optimizer, total_steps, cfg.warmup_ratio), cfg
    )
    return Job(cfg, tok, model, optimizer, scheduler, backend, ray.train.torch.get_device(), total_steps, params)


def planned_steps(cfg: FinetuneConfig, train_batches: int, world_size: int) -> int:
    """Optimizer steps of the whole run: epochs over each worker's share, or stop_after_steps."""
    steps_per_epoch = max(1, train_batches // world_size // cfg.grad_accum)
    return min(math.ceil(steps_per_epoch * cfg.epochs), cfg.stop_after_steps or math.inf)


def _param_groups(model, cfg: FinetuneConfig) -> list[dict]:
    """The pair head's own weights (tie, feature terms) at head_lr, everything else at lr."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]

    def own(name: str) -> bool:
        return bool(cfg.head == "pair" and cfg.head_lr) and not name.startswith("scorer.")

    head, rest = [p for n, p in trainable if own(n)], [p for n, p in trainable if not own(n)]
    return [{"params": rest}] + ([{"params": head, "lr": cfg.head_lr}] if head else [])


def _schedule(optimizer, total_steps: int, warmup_ratio: float):
    """Linear warm-up, then linear decay to zero at total_steps."""

    warmup = max(1, int(total_steps * warmup_ratio))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup)))
    )


def train(job: Job, progress: Progress) -> None:
    """Micro-batches until total_steps; resuming skips the micro-batches the checkpoint already saw
    (Ray Data does not promise the same shard order twice: exact in count, not sample by sample)."""

    cfg, shard = job.cfg, ray.train.get_dataset_shard("train")
    job.model.train()
    micro, seen_before = 0, progress.step * cfg.grad_accum
    for epoch in range(math.ceil(cfg.epochs)):
        for rows in shard.iter_batches(batch_size=1, batch_format="numpy"):
            if progress.step >= job.total_steps:
                break
            micro += 1
            if micro <= seen_before:
                continue
            inputs, real, padded = _collate(rows, job.tok.pad_token_id, job.device)
            with job.backend.autocast(job.device):
                loss = job.model(**inputs).loss
            job.backend.backward(job.model, loss, cfg.grad_accum)
            boundary = micro % cfg.grad_accum == 0
            job.backend.step(job.model, job.optimizer, job.scheduler, boundary)
            progress.add(float(loss.detach()), real, padded)
            if boundary:
                progress.step += 1
                _after_step(job, progress, epoch)


def _after_step(job: Job, progress: Progress, epoch: int) -> None:
    """A checkpoint every checkpoint_every steps, else a progress report every log_every steps."""

    step, cfg = progress.step, job.cfg
    metrics = progress.metrics(job, epoch)
    if step % cfg.checkpoint_every == 0 and step < job.total_steps:
        save_checkpoint(job, step, metrics)
    elif step % cfg.log_every == 0:
        ray.train.report(metrics)
    if step % cfg.log_every == 0:
        progress.window = []
        if ray.train.get_context().get_world_rank() == 0:
            print(
                f"[finetune] step {step}/{job.total_steps} loss {metrics['loss']:.4f} "
                f"tokens/s {metrics['tokens_per_s']:.0f} non-pad {metrics['non_pad_share']:.3f}",
                flush=True,
            )


def _collate(rows: dict, pad_id: int, device):
    """(inputs for the model's forward, non-pad tokens, all tokens) of one micro-batch."""

    seqs, labels = rows["input_ids"][0], rows["labels"][0]
    ids, mask = pad(seqs, pad_id)
    if isinstance(labels[0], (int, float)) or getattr(labels[0], "ndim", 1) == 0:
        target = torch.as_tensor([int(x) for x in labels])
    else:
        target, _ = pad(labels, IGNORE)
    inputs = {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": target.to(device)}
    for key in ("features", "tie_features"):  # the pair head's answer features
        if key in rows:
            inputs[key] = torch.as_tensor(np.stack(list(rows[key][0])), dtype=torch.float32).to(device)
    return inputs, int(mask.sum()), ids.numel()


def validate(job: Job) -> dict:
    """Validation loss and (encoder heads) accuracy, summed over workers."""

    job.model.eval()
    sums = torch.zeros(4, dtype=torch.float64)  # loss*n, n, correct, count
    with torch.no_grad():
        for rows in ray.train.get_dataset_shard("val").iter_batches(batch_size=1, batch_format="numpy"):
            sums += _validation_sums(job, rows)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(sums)
    job.model.train()
    out = {"val_loss": float(sums[0] / sums[1]) if sums[1] else math.nan}
    return out | ({"val_accuracy": float(sums[2] / sums[3])} if job.cfg.head != "generative" and sums[3] else {})


def _validation_sums(job: Job, rows: dict):

    inputs, _, _ = _collate(rows, job.tok.pad_token_id, job.device)
    with job.backend.autocast(job.device):
        out = job.model(**inputs)
    target = inputs["labels"]
    n = len(target)  # examples (a pair head reads two sequences per example)
    correct = float((out.logits.argmax(-1) == target).sum()) if job.cfg.head != "generative" else 0.0
    return torch.tensor(
        [float(out.loss) * n, n, correct, n if job.cfg.head != "generative" else 0], dtype=torch.float64
    )


# ---- driver ------------------------------------------------------------------------------------------
def run(cfg: FinetuneConfig) -> dict:
    """Train and write the adapter to cfg.adapter_dir(); returns the final metrics."""

    ensure(cfg.model)  # a models/NAME base is pulled here, once
    if cfg.bf16 and not cfg.use_gpu:
        print(
            "[finetune] note: bf16 on CPU: backward matmuls may fall to a one-thread fallback gemm "
            "(SmolLM2 here: 5x slower than bf16=false)",
            flush=True,
        )
    if Path(cfg.model).exists():  # Ray Train workers run in their own directory: a relative base is lost there
        cfg = cfg.model_copy(update={"model": str(Path(cfg.model).resolve())})
    if not is_uri(cfg.storage_path):  # the same for the storage a restarted worker looks for checkpoints in
        cfg = cfg.model_copy(update={"storage_path": str(Path(cfg.storage_path).resolve())})
    train_rows, val_rows, report, stats = build_datasets(cfg)
    print(
        f"[finetune] {len(train_rows)} train batches, {len(val_rows)} val batches; filtered: {dict(report.filtered)}",
        flush=True,
    )
    ensure_ray({"address": os.environ.get("RAY_ADDRESS", "local"), "include_dashboard": False})
    console.quiet_ray_data()
    resume_dir = latest_checkpoint(cfg) if cfg.resume_from == "latest" else cfg.resume_from
    if resume_dir:
        print(f"[finetune] resuming from {resume_dir}", flush=True)
    # Ray Train's print patch tees each worker print to a logger that prints it again: every line twice
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")  # propagated to the workers by Ray Train
    trainer = TorchTrainer(
        train_loop,
        train_loop_config={
            "cfg": cfg.model_dump(),
            "train_batches": len(train_rows),
            "val_batches": len(val_rows),
            "resume_dir": resume_dir,
            "feature_stats": stats,
            "started": time.time(),
        },
        scaling_config=ray.train.ScalingConfig(
            num_workers=cfg.num_workers, use_gpu=cfg.use_gpu, placement_strategy=cfg.placement
        ),
        run_config=ray.train.RunConfig(
            name=cfg.name,
            storage_path=cfg.storage_path,
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=2),
            failure_config=ray.train.FailureConfig(max_failures=cfg.max_failures),
        ),
        datasets={"train": ray.data.from_items(train_rows)}
        | ({"val": ray.data.from_items(val_rows)} if val_rows else {}),
    )
    with (
        console.progress(planned_steps(cfg, len(train_rows), cfg.num_workers), "steps", cfg.name) as bar,
        console.following(STEP_LINE, lambda m: bar.set(int(m[1]), f"loss {m[3]}, {m[4]} tokens/s")),
    ):
        result = trainer.fit()
    _copy_adapter(result.checkpoint, cfg.adapter_dir())
    print(f"[finetune] adapter written to {cfg.adapter_dir()}: {result.metrics}", flush=True)
    return dict(result.metrics)


STEP_LINE = r"\[finetune\] step (\d+)/(\d+) loss ([\d.]+) tokens/s (\d+)"  # printed by rank 0 (_after_step)


def _copy_adapter(checkpoint, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    with checkpoint.as_directory() as d:
        shutil.copytree(Path(d) / "adapter", out)


def evaluate_after(cfg: FinetuneConfig) -> dict:
    """Judge cfg.eval_benchmarks with the new adapter and score them (classifier or pair head)."""
    if not cfg.eval_benchmarks:
        return {}

    return evaluate(cfg.adapter_dir(), cfg.eval_benchmarks, cfg.adapter_dir().parent / "eval", root=cfg.data_root)


def main(config: str, overrides: list[str] = ()) -> int:
    """`judge finetune CONFIG [key=value ...]`: train, then evaluate when the config asks for it."""
    cfg = load_config(config, overrides)
    for where in filter(None, (cfg.storage_path, cfg.output_dir)):
        results_location(where)  # inside a packaged Ray job a relative path is refused: the job's copy is temporary
    if is_uri(str(cfg.output_dir or cfg.storage_path)):
        raise ValueError(
            f"the adapter is saved to a directory, and {cfg.output_dir or cfg.storage_path} is a storage URI: "
            "set output_dir=/a/directory (NFS on a cluster); storage_path may stay a URI"
        )
    if cfg.eval_benchmarks and cfg.head == "generative":  # fail before hours of training, not after
        raise ValueError(
            "eval_benchmarks needs head: classifier or pair; judge a generative adapter with `judge sweep` "
            "(an hf or vllm judge with `adapter:`)"
        )
    start = time.perf_counter()
    with console.logging_to(cfg.adapter_dir().parent, "finetune"):
        metrics = run(cfg)
        evaluated = evaluate_after(cfg)
    for key, result in evaluated.items():
        console.say(
            f"[finetune] {key}: " + json.dumps({k: round(v, 4) for k, v in result.items() if isinstance(v, float)})
        )
    shown = {k: round(v, 4) for k, v in metrics.items() if k in ("step", "loss", "val_loss", "val_accuracy")}
    console.say(
        f"fine-tuned {cfg.name} in {time.perf_counter() - start:.0f} s: {shown}; adapter: {cfg.adapter_dir()}"
        + console.log_note()
    )
    return 0
