"""Token features for fine-tuning and classifier inference (needs a HF tokenizer, no torch).

Truncation keeps the question and both answers visible: each keeps its beginning, shares of the
token budget are set by judge_core.finetune_data.allocate (generative prompts: exactly the
engines' rule, engines.prompting.fit_prompt).
"""
from __future__ import annotations

import random

from judge_core.features import head_features
from judge_core.finetune_data import classifier_segments, fit_segments, generative_sample, label_in_order
from judge_core.schema import PairExample

IGNORE = -100  # positions without loss


def _special(tok) -> tuple[list[int], list[int], list[int]]:
    """(start, separator, end) token ids: [CLS] / [SEP] for encoders, bos / "\\n\\n" / eos otherwise."""
    if tok.cls_token_id is not None and tok.sep_token_id is not None:
        return [tok.cls_token_id], [tok.sep_token_id], [tok.sep_token_id]
    start = [tok.bos_token_id] if tok.bos_token_id is not None else []
    end = [tok.eos_token_id] if tok.eos_token_id is not None else []
    return start, tok.encode("\n\n", add_special_tokens=False), end


def classifier_input(example: PairExample, order: str, tok, max_length: int) -> list[int]:
    """[start] question [sep] first answer [sep] second answer [end], fitted to max_length."""
    start, sep, end = _special(tok)
    segments = [tok.encode(text, add_special_tokens=False) for text in classifier_segments(example, order)]
    q, a1, a2 = fit_segments(segments, max_length - len(start) - 2 * len(sep) - len(end))
    return start + q + sep + a1 + sep + a2 + end


def pair_inputs(example: PairExample, order: str, tok, max_length: int) -> list[list[int]]:
    """[start] question [sep] answer [end] for the first and the second shown answer: each answer
    gets its own window of max_length tokens (the pair head scores them one by one)."""
    start, sep, end = _special(tok)
    question, first, second = (tok.encode(t, add_special_tokens=False) for t in classifier_segments(example, order))
    out = []
    for answer in (first, second):
        q, a = fit_segments([question, answer], max_length - len(start) - len(sep) - len(end))
        out.append(start + q + sep + a + end)
    return out


def pair_features(example: PairExample, order: str, tok, max_length: int, answer_features: bool = False) -> dict:
    """Both windows and the label; with `answer_features`, judge_core.features.head_features too:
    "features" (one vector per window) and "tie_features" (one per example)."""
    row = {"input_ids": pair_inputs(example, order, tok, max_length), "labels": label_in_order(example, order)}
    if answer_features:
        f1, f2, tie = head_features(example, order)
        row |= {"features": [f1, f2], "tie_features": tie}
    return row


def classifier_features(example: PairExample, order: str, tok, max_length: int) -> dict:
    return {"input_ids": classifier_input(example, order, tok, max_length),
            "labels": label_in_order(example, order)}


def generative_features(example: PairExample, order: str, tok, max_length: int, template: str) -> dict:
    """Prompt (chat template applied) + verdict text + eos; loss only on the verdict tokens.

    The prompt is built by the engines' own rule (engines.prompting.fit_prompt): the same chat
    template and, when too long, the same truncation as at judging time, so a fine-tuned judge is
    trained on the prompts it will be asked.
    """
    from .engines.prompting import fit_prompt

    sample = generative_sample(example, template, order)
    target = tok.encode(sample["target"], add_special_tokens=False) + ([tok.eos_token_id] if tok.eos_token_id is not None else [])
    text, _ = fit_prompt(example, order, template, tok, max_length - len(target))
    prompt = tok.encode(text, add_special_tokens=False)
    return {"input_ids": prompt + target, "labels": [IGNORE] * len(prompt) + target}


def pad(seqs, value: int):
    """(padded LongTensor, attention mask) for ragged token lists."""
    import torch

    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), value, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.as_tensor(list(s))
        mask[i, :len(s)] = 1
    return out, mask


def _is_pair(row: dict) -> bool:
    return bool(row["input_ids"]) and isinstance(row["input_ids"][0], list)


def _length(row: dict) -> int:
    return max(map(len, row["input_ids"])) if _is_pair(row) else len(row["input_ids"])


def micro_batches(rows: list[dict], batch_size: int, seed: int = 0, window: int = 50) -> list[dict]:
    """Length-grouped batches: rows are sorted by length inside windows of `window` batches, cut
    into batches, and the batch order is shuffled with `seed` (padding stays small, order varied).
    Pair rows (two sequences each) are flattened: first, second, first, second, ... per batch, and
    so are their per-window "features"; "labels" and "tie_features" stay one per example."""
    rng = random.Random(seed)
    order = list(range(len(rows)))
    rng.shuffle(order)
    span = batch_size * window
    batches = []
    for start in range(0, len(order), span):
        chunk = sorted(order[start:start + span], key=lambda i: _length(rows[i]))
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)

    def batch(b):
        out = {key: [rows[i][key] for i in b] for key in rows[b[0]]}
        if _is_pair(rows[b[0]]):  # one entry per window
            for key in ("input_ids", "features"):
                if key in out:
                    out[key] = [w for windows in out[key] for w in windows]
        return out
    return [batch(b) for b in batches]
