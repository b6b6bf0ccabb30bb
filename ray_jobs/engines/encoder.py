"""What a trained encoder judge is and reads: the pair head, the inputs, loading a `judge finetune` directory.

    model, tokenizer, info = load_trained("results/finetune/minilm-cpu/adapter")
    ids = classifier_input(example, "ab", tokenizer, 256)      # [CLS] q [SEP] a1 [SEP] a2 [SEP]
    first, second = pair_inputs(example, "ab", tokenizer, 128)  # one window per answer

Inference (the classifier engine) and fine-tuning (ray_jobs.finetune) share these, so a judge is
asked exactly what it was trained on. Both cut with judge_core.truncation.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from peft import AutoPeftModelForCausalLM, AutoPeftModelForSequenceClassification
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
from transformers.modeling_outputs import SequenceClassifierOutput

from judge_core.features import NAMES, TIE_NAMES
from judge_core.truncation import fit_segments, pair_segments

from ..console import quiet_transformers

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


def pair_sizes(config: dict) -> dict:
    """PairJudge's feature sizes for a fine-tune config (judgeray.json's "config")."""

    return {"features": len(NAMES), "tie_features": len(TIE_NAMES)} if config.get("pair_features") else {}


def load_trained(directory: str | Path):
    """(model, tokenizer, info) from a directory written by `judge finetune`: base + adapter, eval mode."""

    directory = Path(directory)
    info = json.loads((directory / "judgeray.json").read_text())
    cfg = info["config"]
    seq_cls = cfg["head"] != "generative"
    if cfg.get("method", "lora") == "full":
        auto = AutoModelForSequenceClassification if seq_cls else AutoModelForCausalLM
    else:
        auto = AutoPeftModelForSequenceClassification if seq_cls else AutoPeftModelForCausalLM
    kwargs = {"num_labels": LABELS if cfg["head"] == "classifier" else 1} if seq_cls else {}
    with quiet_transformers():  # "classifier.weight | MISSING ... newly initialized": the adapter's copy replaces it
        model = auto.from_pretrained(directory, **kwargs)
    if cfg["head"] == "pair":
        model = _with_pair_head(model, directory, cfg)
    model.eval()
    return model, AutoTokenizer.from_pretrained(directory), info


def _with_pair_head(scorer, directory: Path, cfg: dict) -> PairJudge:
    model = PairJudge(scorer, **pair_sizes(cfg))
    keys = model.load_state_dict(torch.load(directory / PAIR_HEAD), strict=False)  # the scorer is loaded
    missing = [k for k in keys.missing_keys if not k.startswith("scorer.")]
    if missing or keys.unexpected_keys:
        raise ValueError(
            f"{directory / PAIR_HEAD} does not match its config (pair_features="
            f"{cfg.get('pair_features', False)}): missing {missing}, unexpected {keys.unexpected_keys}"
        )
    return model


# ---- inputs -----------------------------------------------------------------------------------------
def _special(tok) -> tuple[list[int], list[int], list[int]]:
    """(start, separator, end) token ids: [CLS] / [SEP] for encoders, bos / "\\n\\n" / eos otherwise."""
    if tok.cls_token_id is not None and tok.sep_token_id is not None:
        return [tok.cls_token_id], [tok.sep_token_id], [tok.sep_token_id]
    start = [tok.bos_token_id] if tok.bos_token_id is not None else []
    end = [tok.eos_token_id] if tok.eos_token_id is not None else []
    return start, tok.encode("\n\n", add_special_tokens=False), end


def _text_ids(text: str, tok) -> list[int]:
    """Token ids of untrusted text: "[SEP]" or "<s>" written in an answer stays text, never the
    special token that separates the segments."""
    return tok.encode(text, add_special_tokens=False, split_special_tokens=True)


def classifier_input(example, order: str, tok, max_length: int) -> list[int]:
    """[start] question [sep] first answer [sep] second answer [end], fitted to max_length."""
    start, sep, end = _special(tok)
    segments = [_text_ids(text, tok) for text in pair_segments(example, order)]
    q, a1, a2 = fit_segments(segments, max_length - len(start) - 2 * len(sep) - len(end))
    return start + q + sep + a1 + sep + a2 + end


def pair_inputs(example, order: str, tok, max_length: int) -> list[list[int]]:
    """[start] question [sep] answer [end] for the first and the second shown answer: each answer
    gets its own window of max_length tokens (the pair head scores them one by one)."""
    start, sep, end = _special(tok)
    question, first, second = (_text_ids(t, tok) for t in pair_segments(example, order))
    out = []
    for answer in (first, second):
        q, a = fit_segments([question, answer], max_length - len(start) - len(sep) - len(end))
        out.append(start + q + sep + a + end)
    return out


def pad(seqs, value: int):
    """(padded LongTensor, attention mask) for ragged token lists."""
    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), value, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.as_tensor(list(s))
        mask[i, : len(s)] = 1
    return out, mask
