"""Fine-tune a judge with Ray Train: `judge finetune configs/finetune/minilm-cpu.yaml [key=value ...]`.

Reads top to bottom like a torchtune recipe: build data (driver) -> TorchTrainer(train_loop) ->
each worker: setup model -> train (DDP or DeepSpeed ZeRO) -> report checkpoints -> validate ->
the driver copies the final adapter to its output directory.
"""
from __future__ import annotations

import collections
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

from judge_core.finetune_data import build_training_set

from .finetune_config import FinetuneConfig, load_config
from .finetune_features import IGNORE, classifier_features, generative_features, micro_batches, pad, pair_features


# ---- data (driver) ---------------------------------------------------------------------------------
def features(examples, tok, cfg: FinetuneConfig, orders=("ab",)) -> list[dict]:
    def make(ex, order):
        if cfg.head == "pair":
            return pair_features(ex, order, tok, cfg.max_length, cfg.pair_features)
        if cfg.head == "classifier":
            return classifier_features(ex, order, tok, cfg.max_length)
        return generative_features(ex, order, tok, cfg.max_length, cfg.template)
    return [make(ex, o) for ex in examples for o in orders]


def feature_stats(rows: list[dict]) -> dict:
    """Mean and standard deviation of the pair head's answer and tie features over training rows."""
    import numpy as np

    f = np.array([w for r in rows for w in r["features"]])
    t = np.array([r["tie_features"] for r in rows])
    return {"f_mean": f.mean(0).tolist(), "f_std": f.std(0).tolist(), "t_mean": t.mean(0).tolist(),
            "t_std": t.std(0).tolist()}


def build_datasets(cfg: FinetuneConfig):
    """(train rows, val rows, report, feature stats or None): length-grouped micro-batches, one per
    Ray Data row."""
    from .finetune_model import load_tokenizer

    train, val, report = build_training_set(cfg.sources, cfg.val_fraction, cfg.seed, cfg.data_root,
                                            swap=cfg.swap_augment, reference_drop=cfg.reference_drop,
                                            clean=cfg.decontaminate, limit_per_source=cfg.limit_per_source)
    tok = load_tokenizer(cfg)
    train_examples = features(train, tok, cfg)
    stats = feature_stats(train_examples) if cfg.pair_features else None
    train_rows = micro_batches(train_examples, cfg.batch_size, cfg.seed)
    val_rows = micro_batches(features(val, tok, cfg, orders=("ab", "ba")), cfg.batch_size, cfg.seed)
    return train_rows, val_rows, report, stats


# ---- worker ------------------------------------------------------------------------------------------
def _collate(rows: dict, pad_id: int, device):
    """(inputs for the model's forward, non-pad tokens, all tokens) of one micro-batch."""
    import numpy as np
    import torch

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


def _autocast(cfg: FinetuneConfig, device):
    import contextlib

    import torch

    if not cfg.bf16 or cfg.deepspeed:  # DeepSpeed handles bf16 itself
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def _schedule(optimizer, total_steps: int, warmup_ratio: float):
    import torch

    warmup = max(1, int(total_steps * warmup_ratio))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup))))


def _trainable_state(model) -> dict:
    inner = getattr(model, "module", model)
    return {n: p.detach().cpu() for n, p in inner.named_parameters() if p.requires_grad}


def _gathered(model, cfg: FinetuneConfig):
    """Under ZeRO-3 every rank must join in gathering the partitioned parameters before a save."""
    import contextlib

    if _zero_stage(cfg) != 3:
        return contextlib.nullcontext()
    import deepspeed

    return deepspeed.zero.GatheredParameters(list(model.module.parameters()), modifier_rank=None)


def _save_checkpoint(model, optimizer, scheduler, step: int, metrics: dict, cfg: FinetuneConfig, tok):
    """Report a checkpoint: the adapter and trainer state from rank 0 and, under DeepSpeed, every
    rank's ZeRO partition (Ray merges the ranks' files into one checkpoint directory)."""
    import ray.train
    import torch

    from .finetune_model import save

    rank = ray.train.get_context().get_world_rank()
    with tempfile.TemporaryDirectory() as tmp:
        if cfg.deepspeed:
            model.save_checkpoint(tmp, tag="deepspeed")
        with _gathered(model, cfg):
            if rank == 0:
                state = {"trainable": _trainable_state(model), "step": step}
                if not cfg.deepspeed:
                    state |= {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
                torch.save(state, Path(tmp) / "trainer_state.pt")
                save(getattr(model, "module", model), tok, cfg, Path(tmp) / "adapter", {"metrics": metrics, "step": step})
        keep = rank == 0 or cfg.deepspeed
        if keep:
            _write_manifest(Path(tmp), rank, ray.train.get_context().get_world_size() if cfg.deepspeed else 1)
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp) if keep else None)


def _write_manifest(directory: Path, rank: int, ranks: int) -> None:
    """manifest-rank<r>.json: every file this rank put in the checkpoint, with its size. Ray copies a
    checkpoint into storage file by file, so a run killed mid-copy leaves a partial directory; only a
    directory whose manifests all exist and match is a checkpoint to resume from (latest_checkpoint)."""
    files = {str(f.relative_to(directory)): f.stat().st_size for f in sorted(directory.rglob("*")) if f.is_file()}
    (directory / f"manifest-rank{rank}.json").write_text(json.dumps({"ranks": ranks, "files": files}))


def checkpoint_complete(directory: Path) -> bool:
    """Every rank's manifest is there and every file it lists has its size."""
    try:
        ranks = json.loads((directory / "manifest-rank0.json").read_text())["ranks"]
        for r in range(ranks):
            files = json.loads((directory / f"manifest-rank{r}.json").read_text())["files"]
            if any(not (directory / f).is_file() or (directory / f).stat().st_size != size for f, size in files.items()):
                return False
        return True
    except (OSError, ValueError, KeyError):  # a manifest not (fully) copied yet
        return False


def _restore(model, optimizer, scheduler, cfg: FinetuneConfig, resume_dir: str | None) -> int:
    """Continue from this run's latest checkpoint (after a worker restart) or else from
    `resume_dir`; returns the step reached. Called after deepspeed.initialize, whose engine
    restores its own partitions."""
    import ray.train
    import torch

    ckpt = ray.train.get_checkpoint()
    if ckpt is None and resume_dir:
        ckpt = ray.train.Checkpoint.from_directory(resume_dir)
    if ckpt is None:
        return 0
    with ckpt.as_directory() as d:
        state = torch.load(Path(d) / "trainer_state.pt", weights_only=False)
        if cfg.deepspeed:
            # not strict: a QLoRA module's state carries bitsandbytes quant_state entries that the
            # freshly quantised base re-creates itself. Optimizer partitions and scheduler come back
            # here; the trained weights are loaded again below (checked) unless ZeRO-3 shards them.
            model.load_checkpoint(d, tag="deepspeed", load_module_strict=False)
            if _zero_stage(cfg) != 3:
                _load_trainable(model, state["trainable"])
            return state["step"]
    _load_trainable(model, state["trainable"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return state["step"]


def _load_trainable(model, trainable: dict) -> None:
    inner = getattr(model, "module", model)
    missing = set(trainable) - {n for n, _ in inner.named_parameters()}
    if missing:
        raise ValueError(f"checkpoint holds parameters this model lacks: {sorted(missing)[:5]}")
    inner.load_state_dict(trainable, strict=False)


def _zero_stage(cfg: FinetuneConfig) -> int | None:
    return json.loads(Path(cfg.deepspeed).read_text())["zero_optimization"]["stage"] if cfg.deepspeed else None


def _validate(model, cfg, pad_id, device) -> dict:
    """Validation loss and (classifier) accuracy / swap-averaged log loss, summed over workers."""
    import ray.train
    import torch
    import torch.distributed as dist

    shard = ray.train.get_dataset_shard("val")
    model.eval()
    sums = torch.zeros(4, dtype=torch.float64)  # loss*n, n, correct, count
    with torch.no_grad():
        for rows in shard.iter_batches(batch_size=1, batch_format="numpy"):
            inputs, _, _ = _collate(rows, pad_id, device)
            with _autocast(cfg, device):
                out = model(**inputs)
            target = inputs["labels"]
            n = len(target)  # examples (a pair head reads two sequences per example)
            sums += torch.tensor([float(out.loss) * n, n, 0, 0], dtype=torch.float64)
            if cfg.head != "generative":
                sums[2] += float((out.logits.argmax(-1) == target).sum())
                sums[3] += n
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(sums)
    model.train()
    out = {"val_loss": float(sums[0] / sums[1]) if sums[1] else math.nan}
    if cfg.head != "generative" and sums[3]:
        out["val_accuracy"] = float(sums[2] / sums[3])
    return out


def _param_groups(model, cfg: FinetuneConfig) -> list[dict]:
    """The pair head's own weights (tie, feature terms) at head_lr, everything else at lr."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    def own(name: str) -> bool:
        return bool(cfg.head == "pair" and cfg.head_lr) and not name.startswith("scorer.")
    head, rest = [p for n, p in trainable if own(n)], [p for n, p in trainable if not own(n)]
    return [{"params": rest}] + ([{"params": head, "lr": cfg.head_lr}] if head else [])


def train_loop(config: dict) -> None:
    """Runs on every Ray Train worker; everything it needs comes in `config`."""
    import ray.train
    import ray.train.torch
    import torch

    from .finetune_model import load_model, load_tokenizer, trainable_share

    cfg = FinetuneConfig(**config["cfg"])
    torch.manual_seed(cfg.seed)
    if not cfg.use_gpu:  # Ray gives each worker OMP_NUM_THREADS=1; a CPU run wants its cores
        torch.set_num_threads(cfg.threads_per_worker or max(1, (os.cpu_count() or 1) // cfg.num_workers))
    tok = load_tokenizer(cfg)
    model = load_model(cfg, tok, config.get("feature_stats"))
    device = ray.train.torch.get_device()
    trainable, total = trainable_share(model)
    optimizer = torch.optim.AdamW(_param_groups(model, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    world = ray.train.get_context().get_world_size()
    steps_per_epoch = max(1, config["train_batches"] // world // cfg.grad_accum)
    total_steps = math.ceil(steps_per_epoch * cfg.epochs)
    if cfg.stop_after_steps:
        total_steps = min(total_steps, cfg.stop_after_steps)
    scheduler = _schedule(optimizer, total_steps, cfg.warmup_ratio)
    if cfg.deepspeed:
        import deepspeed

        ds_config = json.loads(Path(cfg.deepspeed).read_text())
        ds_config |= {"train_micro_batch_size_per_gpu": cfg.batch_size, "gradient_accumulation_steps": cfg.grad_accum,
                      "bf16": {"enabled": cfg.bf16}}
        model, optimizer, _, scheduler = deepspeed.initialize(model=model, optimizer=optimizer,
                                                              lr_scheduler=scheduler, config=ds_config)
    else:
        model = ray.train.torch.prepare_model(model)
    step = resumed_from = _restore(model, optimizer, scheduler, cfg, config.get("resume_dir"))
    model.train()
    shard = ray.train.get_dataset_shard("train")
    micro, done_micro = 0, step * cfg.grad_accum
    seen_tokens = padded_tokens = 0
    window_loss, window_n, started = 0.0, 0, time.perf_counter()
    recent = collections.deque(maxlen=max(1, cfg.log_every * cfg.grad_accum))  # for the final loss
    for epoch in range(math.ceil(cfg.epochs)):
        for rows in shard.iter_batches(batch_size=1, batch_format="numpy"):
            if step >= total_steps:
                break
            micro += 1
            if micro <= done_micro:  # resuming: skip what the checkpoint already saw
                continue
            inputs, real, padded = _collate(rows, tok.pad_token_id, device)
            with _autocast(cfg, device):
                loss = model(**inputs).loss
            if cfg.deepspeed:
                model.backward(loss)
                model.step()
            else:
                (loss / cfg.grad_accum).backward()
            seen_tokens, padded_tokens = seen_tokens + real, padded_tokens + padded
            window_loss, window_n = window_loss + float(loss), window_n + 1
            recent.append(float(loss))
            if micro % cfg.grad_accum:
                continue
            if not cfg.deepspeed:
                torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            step += 1
            metrics = {"step": step, "epoch": epoch, "loss": window_loss / window_n,
                       "tokens_per_s": seen_tokens / (time.perf_counter() - started),
                       "non_pad_share": seen_tokens / max(1, padded_tokens), "lr": scheduler.get_last_lr()[0],
                       "trainable_params": trainable, "total_params": total}
            if step % cfg.checkpoint_every == 0 and step < total_steps:
                _save_checkpoint(model, optimizer, scheduler, step, metrics, cfg, tok)
            elif step % cfg.log_every == 0:
                ray.train.report(metrics)
            if step % cfg.log_every == 0:
                window_loss, window_n = 0.0, 0
                if ray.train.get_context().get_world_rank() == 0:
                    print(f"[finetune] step {step}/{total_steps} loss {metrics['loss']:.4f} "
                          f"tokens/s {metrics['tokens_per_s']:.0f} non-pad {metrics['non_pad_share']:.3f}", flush=True)
    final = {"step": step, "resumed_from": resumed_from, "loss": sum(recent) / len(recent) if recent else math.nan, "non_pad_share": seen_tokens / max(1, padded_tokens),
             "trainable_params": trainable, "total_params": total}
    if config["val_batches"]:
        final |= _validate(model, cfg, tok.pad_token_id, device)
    _save_checkpoint(model, optimizer, scheduler, step, final, cfg, tok)


# ---- driver ------------------------------------------------------------------------------------------
def latest_checkpoint(cfg: FinetuneConfig) -> str | None:
    """The complete checkpoint (see checkpoint_complete) with the highest step under
    <storage_path>/<name>; None if there is none."""
    found = []
    for d in Path(cfg.storage_path, cfg.name).glob("checkpoint_*"):
        if checkpoint_complete(d):
            found.append((json.loads((d / "adapter" / "judgeray.json").read_text())["step"], d.name, str(d)))
    return max(found)[2] if found else None


def run(cfg: FinetuneConfig) -> dict:
    """Train and write the adapter to cfg.adapter_dir(); returns the final metrics."""
    import ray
    import ray.data
    import ray.train
    from ray.train.torch import TorchTrainer

    train_rows, val_rows, report, stats = build_datasets(cfg)
    print(f"[finetune] {len(train_rows)} train batches, {len(val_rows)} val batches; "
          f"filtered: {dict(report.filtered)}", flush=True)
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS", "local"), include_dashboard=False,
                 log_to_driver=True)
    resume_dir = latest_checkpoint(cfg) if cfg.resume_from == "latest" else cfg.resume_from
    if resume_dir:
        print(f"[finetune] resuming from {resume_dir}", flush=True)
    trainer = TorchTrainer(
        train_loop,
        train_loop_config={"cfg": cfg.model_dump(), "train_batches": len(train_rows), "val_batches": len(val_rows),
                           "resume_dir": resume_dir, "feature_stats": stats},
        scaling_config=ray.train.ScalingConfig(num_workers=cfg.num_workers, use_gpu=cfg.use_gpu),
        run_config=ray.train.RunConfig(name=cfg.name, storage_path=str(Path(cfg.storage_path).resolve()),
                                       checkpoint_config=ray.train.CheckpointConfig(num_to_keep=2)),
        datasets={"train": ray.data.from_items(train_rows)} | ({"val": ray.data.from_items(val_rows)} if val_rows else {}),
    )
    result = trainer.fit()
    out = cfg.adapter_dir()
    if out.exists():
        shutil.rmtree(out)
    with result.checkpoint.as_directory() as d:
        shutil.copytree(Path(d) / "adapter", out)
    print(f"[finetune] adapter written to {out}: {result.metrics}", flush=True)
    return dict(result.metrics)


def evaluate_after(cfg: FinetuneConfig) -> dict:
    """Judge cfg.eval_benchmarks with the new adapter and score them (classifier or pair head)."""
    if not cfg.eval_benchmarks:
        return {}
    if cfg.head == "generative":
        raise ValueError("eval_benchmarks needs a classifier or pair head; judge a generative adapter "
                         "with `judge sweep` (an hf or vllm judge with `adapter:`)")
    from .finetune_eval import evaluate

    return evaluate(cfg.adapter_dir(), cfg.eval_benchmarks, cfg.adapter_dir().parent / "eval", root=cfg.data_root)


def main(args) -> int:
    cfg = load_config(args.config, args.overrides)
    if cfg.eval_benchmarks and cfg.head == "generative":  # fail before hours of training, not after
        raise ValueError("eval_benchmarks needs head: classifier or pair; judge a generative adapter with `judge sweep`")
    run(cfg)
    for key, result in evaluate_after(cfg).items():
        print(f"[finetune] {key}: " + json.dumps({k: v for k, v in result.items() if isinstance(v, float)}))
    return 0
