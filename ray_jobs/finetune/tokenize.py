"""Training rows: token ids and labels for each head, and length-grouped micro-batches.

    rows = training_rows(examples, tok, cfg)            # one dict per example and order
    batches = micro_batches(rows, cfg.batch_size, cfg.seed)

Encoder heads read exactly what the classifier engine reads at judging time (engines.encoder);
generative prompts are built by the engines' own rule (engines.prompting.fit_prompt): the same chat
template and, when too long, the same truncation (judge_core.truncation) as the hf and vllm engines.
"""

from __future__ import annotations

import random

import numpy as np

from judge_core.features import head_features
from judge_core.finetune_data import generative_sample, label_in_order
from judge_core.schema import PairExample

from ..engines.encoder import classifier_input, pair_inputs
from ..engines.prompting import fit_prompt
from .config import FinetuneConfig

IGNORE = -100  # positions without loss


def pair_row(example: PairExample, order: str, tok, max_length: int, answer_features: bool = False) -> dict:
    """Both windows and the label; with `answer_features`, judge_core.features.head_features too:
    "features" (one vector per window) and "tie_features" (one per example)."""
    row = {"input_ids": pair_inputs(example, order, tok, max_length), "labels": label_in_order(example, order)}
    if answer_features:
        f1, f2, tie = head_features(example, order)
        row |= {"features": [f1, f2], "tie_features": tie}
    return row


def classifier_row(example: PairExample, order: str, tok, max_length: int) -> dict:
    return {"input_ids": classifier_input(example, order, tok, max_length), "labels": label_in_order(example, order)}


def generative_row(example: PairExample, order: str, tok, max_length: int, template: str) -> dict:
    """Prompt (chat template applied) + verdict text + eos; loss only on the verdict tokens, so a
    fine-tuned judge is trained on the prompts the hf and vllm engines will send it."""
    sample = generative_sample(example, template, order)
    target = tok.encode(sample["target"], add_special_tokens=False) + (
        [tok.eos_token_id] if tok.eos_token_id is not None else []
    )
    text, _ = fit_prompt(example, order, template, tok, max_length - len(target))
    prompt = tok.encode(text, add_special_tokens=False)
    return {"input_ids": prompt + target, "labels": [IGNORE] * len(prompt) + target}


def training_rows(examples, tok, cfg: FinetuneConfig, orders=("ab",)) -> list[dict]:
    """One row per example and order, for the config's head."""

    def make(ex, order):
        if cfg.head == "pair":
            return pair_row(ex, order, tok, cfg.max_length, cfg.pair_features)
        if cfg.head == "classifier":
            return classifier_row(ex, order, tok, cfg.max_length)
        return generative_row(ex, order, tok, cfg.max_length, cfg.template)

    return [make(ex, o) for ex in examples for o in orders]


def feature_stats(rows: list[dict]) -> dict:
    """Mean and standard deviation of the pair head's answer and tie features over training rows."""

    f = np.array([w for r in rows for w in r["features"]])
    t = np.array([r["tie_features"] for r in rows])
    return {
        "f_mean": f.mean(0).tolist(),
        "f_std": f.std(0).tolist(),
        "t_mean": t.mean(0).tolist(),
        "t_std": t.std(0).tolist(),
    }


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
        chunk = sorted(order[start : start + span], key=lambda i: _length(rows[i]))
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return [_batch(rows, b) for b in batches]


def _batch(rows: list[dict], members: list[int]) -> dict:
    out = {key: [rows[i][key] for i in members] for key in rows[members[0]]}
    if _is_pair(rows[members[0]]):  # one entry per window
        for key in ("input_ids", "features"):
            if key in out:
                out[key] = [w for windows in out[key] for w in windows]
    return out
