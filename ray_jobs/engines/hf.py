"""transformers causal-LM judge on CPU or CUDA, optional PEFT adapter; generate or label mode.

options (spec.HFOptions): dtype (default bf16 on CUDA, fp32 on CPU), max_model_len (default: the
model's max_position_embeddings, at most 8192), max_new_tokens (generate, default 512),
min_new_tokens (default 0), micro_batch (rows per forward, default 8), micro_tokens (padded prompt
tokens per forward; default 1024 in label mode on CPU), device (default cuda when available, else cpu).

Rows are sorted by prompt length and cut into micro-batches, so padding stays small. On CPU a label
forward pass of about 1024 tokens is the fastest per token (its activations stay in cache: 8 LLMBar
prompts per pass took 1.3x as long as 2 per pass, bench/peers.py). Decoding is greedy: the same prompt
gives the same verdict on any number of actors.
"""

from __future__ import annotations

import copy
import time

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from ..spec import JudgeSpec
from .base import one_by_one, use_cpu_threads
from .prompting import conversation_ids, label_logprobs, label_output, prepare_rows

CPU_LABEL_TOKENS = 1024


def micro_batches(lengths: list[int], rows: int, tokens: int | None) -> list[list[int]]:
    """Consecutive index groups of ascending `lengths`: at most `rows` rows and, padded to the longest,
    at most `tokens` tokens (a longer row goes alone)."""
    groups: list[list[int]] = []
    for i, n in enumerate(lengths):
        g = groups[-1] if groups else None
        if g is None or len(g) >= rows or (tokens and (len(g) + 1) * n > tokens):
            groups.append([i])
        else:
            g.append(i)
    return groups


def torch_dtype(torch, name: str, device: str):
    if name == "auto":
        return torch.bfloat16 if device == "cuda" else torch.float32
    return getattr(torch, name)


def load_causal_lm(model: str, adapter: str | None, dtype, device: str):
    """(model, tokenizer) in eval mode; the adapter, when given, is applied on top (not merged)."""

    tok = AutoTokenizer.from_pretrained(adapter or model)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    lm = AutoModelForCausalLM.from_pretrained(model, dtype=dtype)
    if adapter:
        lm = PeftModel.from_pretrained(lm, adapter)
    return lm.to(device).eval(), tok


class HFEngine:
    def __init__(self, spec: JudgeSpec):
        use_cpu_threads(spec)

        self.torch, self.spec, opts = torch, spec, spec.opts
        self.device = opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch_dtype(torch, opts.dtype, self.device)
        self.model, self.tok = load_causal_lm(spec.model, spec.adapter, dtype, self.device)
        self.max_len = opts.max_model_len or min(8192, getattr(self.model.config, "max_position_embeddings", 4096))
        self.max_new, self.min_new, self.micro = opts.max_new_tokens, opts.min_new_tokens, opts.micro_batch
        cpu_label = self.device == "cpu" and spec.mode == "label"
        self.micro_tokens = opts.micro_tokens or (CPU_LABEL_TOKENS if cpu_label else None)

    # ---- model calls -----------------------------------------------------------------------------
    def _left_pad(self, seqs):
        torch = self.torch
        width = max(map(len, seqs))
        ids = torch.full((len(seqs), width), self.tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, width - len(s) :] = torch.as_tensor(s)
            mask[i, width - len(s) :] = 1
        return ids.to(self.device), mask.to(self.device)

    def _label(self, preps, template) -> list[dict]:
        ids, mask = self._left_pad([p["ids"] for p in preps])
        asks = [
            (i, [p["labels"][v]] + path[:-1], v, path) for i, p in enumerate(preps) for v, path in p["follow"].items()
        ]
        with self.torch.no_grad():
            out = self.model(input_ids=ids, attention_mask=mask, logits_to_keep=1, use_cache=bool(asks))
        first = self.torch.log_softmax(out.logits[:, -1, :].float(), -1).cpu()
        second = self._continued(out.past_key_values, mask, asks) if asks else {}
        return [
            label_output(
                label_logprobs(p, {t: float(first[i, t]) for t in p["labels"].values()}, second.get(i, {})), template
            )
            | {"tokens_in": len(p["ids"]), "tokens_out": 1}
            for i, p in enumerate(preps)
        ]

    def _continued(self, cache, mask, asks) -> dict[int, dict[int, float]]:
        """{row: {label: log p(path | prompt + first token)}} for labels sharing a first token, from
        asks (row, first token + path but its last, label, path): one short pass on the prompts' KV
        cache per distinct continuation, for every row of the batch (rows that do not need it ignore it)."""

        torch, rows, logp = self.torch, mask.shape[0], {}
        continuations = sorted({tuple(c) for _, c, _, _ in asks})
        for n, c in enumerate(continuations):
            past = cache if n == len(continuations) - 1 else copy.deepcopy(cache)
            tokens = torch.tensor([list(c)] * rows, device=mask.device)
            longer = torch.cat([mask, torch.ones_like(tokens)], 1)
            with torch.no_grad():
                logits = self.model(input_ids=tokens, attention_mask=longer, past_key_values=past).logits.float()
            logp[c] = torch.log_softmax(logits, -1).cpu()  # position m predicts path[m]
        out: dict[int, dict[int, float]] = {}
        for i, c, v, path in asks:
            out.setdefault(i, {})[v] = sum(float(logp[tuple(c)][i, m, t]) for m, t in enumerate(path))
        return out

    def _generate(self, preps, template) -> list[dict]:
        ids, mask = self._left_pad([p["ids"] for p in preps])
        with self.torch.no_grad():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=self.max_new,
                do_sample=False,
                min_new_tokens=self.min_new,
                pad_token_id=self.tok.pad_token_id,
            )
        new = out[:, ids.shape[1] :].cpu()
        outs = []
        for i, p in enumerate(preps):
            tokens = [t for t in new[i].tolist() if t != self.tok.pad_token_id]
            if self.tok.eos_token_id in tokens:
                tokens = tokens[: tokens.index(self.tok.eos_token_id)]
            outs.append(
                {
                    "raw": self.tok.decode(tokens, skip_special_tokens=True),
                    "tokens_in": len(p["ids"]),
                    "tokens_out": len(tokens),
                }
            )
        return outs

    def _rows(self, rows, template) -> list[dict]:
        preps, outs = prepare_rows(rows, template, self.spec.mode, self.tok, self.max_len, self.max_new)
        call = self._label if self.spec.mode == "label" else self._generate
        return self._micro_batched(preps, outs, call, template)

    def _micro_batched(self, preps: dict, outs: list, call, template) -> list[dict]:
        """Fill outs[i] for every prepared row, in length-sorted micro-batches (little padding)."""
        ready = sorted(preps, key=lambda i: len(preps[i]["ids"]))
        for chunk in micro_batches([len(preps[i]["ids"]) for i in ready], self.micro, self.micro_tokens):
            chunk = [ready[j] for j in chunk]
            t0 = time.perf_counter()
            for i, out in zip(chunk, call([preps[i] for i in chunk], template)):
                outs[i] = out | {"truncated": preps[i]["truncated"], "seconds": (time.perf_counter() - t0) / len(chunk)}
        return outs

    def judge(self, rows: list[dict], template: str | None) -> list[dict]:
        return one_by_one(self._rows, rows, template)

    def _answer(self, conversations, _template) -> list[dict]:
        preps = {
            i: {"ids": conversation_ids(c, self.tok, self.max_len, self.max_new), "truncated": False}
            for i, c in enumerate(conversations)
        }
        return self._micro_batched(preps, [None] * len(conversations), self._generate, None)

    def answer(self, conversations: list[list[dict]]) -> list[dict]:
        """Greedy answers to chat conversations (judge compare): {raw, tokens_in, tokens_out} or {error}."""
        return one_by_one(self._answer, conversations, None)
