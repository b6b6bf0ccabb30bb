"""Model side of fine-tuning: load (optionally 4-bit), wrap with PEFT, save the adapter.

LoRA and QLoRA are one path (QLoRA = `quantize: nf4`); the classifier, pair and generative heads
are one flag (`head`). The pair head is a one-score sequence classifier applied to (question,
answer) for each answer, joined by PairJudge into (p_tie, p1, p2).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from peft import LoraConfig, PrefixTuningConfig, TaskType, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from .finetune_config import FinetuneConfig

LABELS = 3  # classifier outputs are (tie, answer 1, answer 2) = verdicts 0, 1, 2
PAIR_HEAD = "pair_head.pt"  # the pair head's own tensors (tie, feature weights and stats), beside the scorer's adapter


class PairJudge(torch.nn.Module):
    """Scores each (question, answer) with `scorer` (a 1-label sequence classifier) and turns the two
    scores into (tie, first, second) logits with Davidson's tie model: [tie + (s1 + s2) / 2, s1, s2].
    Swapping the answers swaps p1 and p2 exactly, so the judge has no position to prefer.
    Inputs come flattened: rows 0, 2, 4, ... are first answers, 1, 3, 5, ... their second answers.

    With `features` > 0 (config `pair_features`), each score also gets a linear term in its answer's
    judge_core.features (length, formatting, overlap, refusal...) and the tie logit one in the
    symmetric tie features (gaps, answer overlap): the encoder then learns what those miss. Inputs
    are standardised with training-set statistics kept as buffers; the weights start at zero."""

    def __init__(self, scorer, tie: float = 0.0, features: int = 0, tie_features: int = 0):
        super().__init__()
        self.scorer = scorer
        self.tie = torch.nn.Parameter(torch.tensor(float(tie)))
        self.features, self.tie_features = features, tie_features
        if features:
            self.w = torch.nn.Parameter(torch.zeros(features))
            self.v = torch.nn.Parameter(torch.zeros(tie_features))
            for name, n in (("f", features), ("t", tie_features)):
                self.register_buffer(f"{name}_mean", torch.zeros(n))
                self.register_buffer(f"{name}_std", torch.ones(n))

    def set_feature_stats(self, stats: dict) -> None:
        """{"f_mean", "f_std", "t_mean", "t_std"}: lists computed on the training rows."""
        for name, value in stats.items():
            value = torch.as_tensor(value, dtype=torch.float32)
            if name.endswith("std"):  # a feature constant in training (e.g. no references) stays unscaled
                value = torch.where(value > 1e-6, value, torch.ones_like(value))
            getattr(self, name).copy_(value)

    def head_state(self) -> dict:
        return {k: v.detach().cpu() for k, v in self.state_dict().items() if not k.startswith("scorer.")}

    def forward(self, input_ids, attention_mask, labels=None, features=None, tie_features=None):
        from transformers.modeling_outputs import SequenceClassifierOutput

        s = self.scorer(input_ids=input_ids, attention_mask=attention_mask).logits.squeeze(-1).float()
        tie = self.tie.expand(len(s) // 2)
        if self.features:
            if features is None or tie_features is None:
                raise ValueError("this pair judge was trained with answer features: pass features and tie_features")
            s = s + ((features.float() - self.f_mean) / self.f_std) @ self.w
            tie = tie + ((tie_features.float() - self.t_mean) / self.t_std) @ self.v
        s1, s2 = s[0::2], s[1::2]
        logits = torch.stack([tie + (s1 + s2) / 2, s1, s2], dim=-1)
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def load_tokenizer(cfg: FinetuneConfig):
    tok = AutoTokenizer.from_pretrained(cfg.resolved_model())
    if tok.pad_token is None:  # decoder-only models: pad with eos, attention mask hides it
        tok.pad_token = tok.eos_token
    return tok


def _quantization(cfg: FinetuneConfig):
    if cfg.quantize != "nf4":
        return {}
    from transformers import BitsAndBytesConfig

    dtype = torch.bfloat16 if cfg.bf16 else torch.float32
    return {"quantization_config": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                      bnb_4bit_use_double_quant=True,
                                                      bnb_4bit_compute_dtype=dtype)}


def _disable_avx512bf16_repack(model) -> None:
    """bitsandbytes on AVX512-BF16 CPUs repacks 4-bit weights on the first no-grad forward, after
    which LoRA gradients are silently None (../shared/CPU-STACK.md). Turn that path off."""
    import bitsandbytes as bnb

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
    judge = PairJudge(model, **_pair_sizes(cfg))
    if feature_stats:
        judge.set_feature_stats(feature_stats)
    return judge


def _pair_sizes(cfg: FinetuneConfig) -> dict:
    from judge_core.features import NAMES, TIE_NAMES

    return {"features": len(NAMES), "tie_features": len(TIE_NAMES)} if cfg.pair_features else {}


def _wrap(model, cfg: FinetuneConfig):
    task = TaskType.CAUSAL_LM if cfg.head == "generative" else TaskType.SEQ_CLS
    if cfg.method == "full":
        return model
    if cfg.method == "prefix":
        return get_peft_model(model, PrefixTuningConfig(task_type=task, num_virtual_tokens=cfg.prefix_tokens))
    lora = LoraConfig(task_type=task, r=cfg.lora.rank, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=cfg.lora.target_modules)
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


def load_trained(directory: str | Path, cfg: FinetuneConfig | None = None):
    """(model, tokenizer, info) from a directory written by save(): base + adapter, eval mode."""
    from peft import AutoPeftModelForCausalLM, AutoPeftModelForSequenceClassification

    directory = Path(directory)
    info = json.loads((directory / "judgeray.json").read_text())
    cfg = cfg or FinetuneConfig(**info["config"])
    tokenizer = AutoTokenizer.from_pretrained(directory)
    seq_cls = cfg.head != "generative"
    if cfg.method == "full":
        auto = AutoModelForSequenceClassification if seq_cls else AutoModelForCausalLM
    else:
        auto = AutoPeftModelForSequenceClassification if seq_cls else AutoPeftModelForCausalLM
    kwargs = {"num_labels": LABELS if cfg.head == "classifier" else 1} if seq_cls else {}
    model = auto.from_pretrained(directory, **kwargs)
    if cfg.head == "pair":
        model = PairJudge(model, **_pair_sizes(cfg))
        keys = model.load_state_dict(torch.load(directory / PAIR_HEAD), strict=False)  # the scorer is loaded
        missing = [k for k in keys.missing_keys if not k.startswith("scorer.")]
        if missing or keys.unexpected_keys:
            raise ValueError(f"{directory / PAIR_HEAD} does not match its config (pair_features="
                             f"{cfg.pair_features}): missing {missing}, unexpected {keys.unexpected_keys}")
    model.eval()
    return model, tokenizer, info
