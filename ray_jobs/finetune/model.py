"""Model side of fine-tuning: load (optionally 4-bit), wrap with PEFT, save the adapter.

    model = load_model(cfg, load_tokenizer(cfg), feature_stats)
    save(model, tokenizer, cfg, Path("results/finetune/x/adapter"), {"step": 100})

LoRA and QLoRA are one path (QLoRA = `quantize: nf4`); the classifier, pair and generative heads
are one flag (`head`). The pair head is a one-score sequence classifier applied to (question,
answer) for each answer, joined by engines.encoder.PairJudge into (p_tie, p1, p2); what `save`
writes, engines.encoder.load_trained reads back for judging.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from peft import LoraConfig, PrefixTuningConfig, TaskType, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from ..engines.encoder import LABELS, PAIR_HEAD, PairJudge, pair_sizes
from .config import FinetuneConfig


def load_tokenizer(cfg: FinetuneConfig):
    tok = AutoTokenizer.from_pretrained(cfg.resolved_model())
    if tok.pad_token is None:  # decoder-only models: pad with eos, attention mask hides it
        tok.pad_token = tok.eos_token
    return tok


def _quantization(cfg: FinetuneConfig):
    if cfg.quantize != "nf4":
        return {}
    from transformers import BitsAndBytesConfig  # optional: QLoRA only (4-bit needs CUDA)

    dtype = torch.bfloat16 if cfg.bf16 else torch.float32
    return {
        "quantization_config": BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype
        )
    }


def _disable_avx512bf16_repack(model) -> None:
    """bitsandbytes on AVX512-BF16 CPUs repacks 4-bit weights on the first no-grad forward, after
    which LoRA gradients are silently None (../shared/CPU-STACK.md). Turn that path off."""
    import bitsandbytes as bnb  # optional: QLoRA only (4-bit needs CUDA)

    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False


def load_model(cfg: FinetuneConfig, tokenizer, feature_stats: dict | None = None):
    kwargs = {"dtype": torch.float32} | _quantization(cfg)  # bf16 runs as autocast over fp32 weights
    if cfg.head in ("classifier", "pair"):
        labels = LABELS if cfg.head == "classifier" else 1
        model = AutoModelForSequenceClassification.from_pretrained(cfg.resolved_model(), num_labels=labels, **kwargs)
        model.config.pad_token_id = tokenizer.pad_token_id
    else:
        model = AutoModelForCausalLM.from_pretrained(cfg.resolved_model(), **kwargs)
    if cfg.quantize:
        _disable_avx512bf16_repack(model)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    elif cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model = _wrap(model, cfg)
    if cfg.head != "pair":
        return model
    judge = PairJudge(model, **pair_sizes(cfg.model_dump()))
    if feature_stats:
        judge.set_feature_stats(feature_stats)
    return judge


def _wrap(model, cfg: FinetuneConfig):
    task = TaskType.CAUSAL_LM if cfg.head == "generative" else TaskType.SEQ_CLS
    if cfg.method == "full":
        return model
    if cfg.method == "prefix":
        return get_peft_model(model, PrefixTuningConfig(task_type=task, num_virtual_tokens=cfg.prefix_tokens))
    lora = LoraConfig(
        task_type=task,
        r=cfg.lora.rank,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=cfg.lora.target_modules,
    )
    return get_peft_model(model, lora)  # SEQ_CLS also trains and saves the new classification head


def trainable_share(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def save(model, tokenizer, cfg: FinetuneConfig, directory: Path, extra: dict | None = None) -> Path:
    """The adapter (or the full model for method=full) + tokenizer + judgeray.json (config, metrics)."""
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(model, PairJudge):
        torch.save(model.head_state(), directory / PAIR_HEAD)
        model = model.scorer
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    info = {"config": cfg.model_dump(), "base_model": cfg.resolved_model()} | (extra or {})
    (directory / "judgeray.json").write_text(json.dumps(info, indent=1))
    return directory
