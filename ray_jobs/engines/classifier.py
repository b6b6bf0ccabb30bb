"""A trained encoder judge (`judge finetune`: 3-way classifier head or pair head) -> probabilities.

    judge = ClassifierJudge("results/finetune/minilm-cpu/adapter")
    probs = judge.probs(examples, order="ba")   # (p_tie, p1, p2) of the answers as presented

options (spec.ClassifierOptions): batch_size, device, max_length (default: the length it was trained
with). Like every engine it answers in the presented frame; judge_core.pipeline maps to the original.
"""

from __future__ import annotations

from pathlib import Path

import torch

from judge_core.features import head_features
from judge_core.pipeline import example_of
from judge_core.schema import to_original

from .base import one_by_one, use_cpu_threads
from .encoder import classifier_input, load_trained, pad, pair_inputs


class ClassifierJudge:
    def __init__(self, path: str | Path, batch_size: int = 32, device: str = "cpu", max_length: int | None = None):

        self.model, self.tokenizer, self.info = load_trained(path)
        self.model.to(device)
        self.device, self.batch_size = device, batch_size
        self.max_length = max_length or self.info["config"]["max_length"]
        self.pair = self.info["config"]["head"] == "pair"
        self.answer_features = self.pair and self.info["config"].get("pair_features", False)
        self._torch = torch

    def _inputs(self, example, order: str) -> list[list[int]]:
        """The sequences one example feeds the model: one (classifier) or two (pair head)."""
        if self.pair:
            return pair_inputs(example, order, self.tokenizer, self.max_length)
        return [classifier_input(example, order, self.tokenizer, self.max_length)]

    def _features(self, examples: list, order: str, chunk: list[int]) -> dict:
        """The pair head's answer features for the examples in `chunk` (none for other heads)."""
        if not self.answer_features:
            return {}
        torch = self._torch
        rows = [head_features(examples[i], order) for i in chunk]
        return {
            "features": torch.tensor([f for f1, f2, _ in rows for f in (f1, f2)]).to(self.device),
            "tie_features": torch.tensor([t for _, _, t in rows]).to(self.device),
        }

    def probs(self, examples: list, order: str = "ab") -> list[tuple[float, float, float]]:
        """(p_tie, p1, p2) per example as presented in `order`, batched in length order (little padding)."""
        torch = self._torch
        inputs = [self._inputs(ex, order) for ex in examples]
        order_idx = sorted(range(len(inputs)), key=lambda i: max(map(len, inputs[i])))
        out: list = [None] * len(inputs)
        with torch.no_grad():
            for start in range(0, len(order_idx), self.batch_size):
                chunk = order_idx[start : start + self.batch_size]
                ids, mask = pad([seq for i in chunk for seq in inputs[i]], self.tokenizer.pad_token_id)
                logits = self.model(
                    input_ids=ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    **self._features(examples, order, chunk),
                ).logits
                for i, p in zip(chunk, torch.softmax(logits.float(), -1).cpu().tolist()):
                    out[i] = tuple(p)
        return out


class ClassifierEngine:
    """The sweep's engine for a trained encoder judge (spec.adapter or spec.model: the directory
    written by `judge finetune`)."""

    def __init__(self, spec):
        o = spec.opts
        use_cpu_threads(spec)
        self.judge_ = ClassifierJudge(
            spec.adapter or spec.model, batch_size=o.batch_size, device=o.device, max_length=o.max_length
        )

    def _rows(self, rows, template):
        if self.judge_.pair:
            return self._pair_rows(rows)
        outs: list = [None] * len(rows)
        for order in ("ab", "ba"):
            idx = [i for i, r in enumerate(rows) if r["order"] == order]
            for i, p in zip(idx, self.judge_.probs([example_of(rows[i]) for i in idx], order) if idx else []):
                outs[i] = {"probs": p}
        return outs

    def _pair_rows(self, rows):
        """A pair head is position-free by construction (its "ba" probabilities are its "ab" ones with
        p1 and p2 swapped), so each example is scored once, whichever orders its rows ask for."""
        first = {}
        for row in rows:
            first.setdefault(row["uid"], row)
        probs = dict(zip(first, self.judge_.probs([example_of(r) for r in first.values()], "ab")))
        # to_original is its own inverse: here it shows the source-order probs as this row presents them
        return [{"probs": to_original(probs[row["uid"]], row["order"])} for row in rows]

    def judge(self, rows, template):
        return one_by_one(self._rows, rows, template)
