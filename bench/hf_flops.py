"""Achieved FLOP/s of the hf engine on this CPU over a measured matmul ceiling of this machine.

    .venv/bin/python -m bench.hf_flops --n 200
    .venv/bin/python -m bench.hf_flops --real --n 100     # SmolLM2-135M-Instruct on LLMBar Natural, float32

Work per prompt of s tokens: 2 x non-embedding parameters x s (the linear layers) + 4 x layers x s^2
x hidden (attention scores and weighted sum) + 2 x vocabulary x hidden (the output layer, last position).
The ceiling is the best of several fp32 square matmuls (torch, all threads).
Prints the fraction achieved/ceiling for label mode (prefill only).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench._models import bench_llama, matmul_ceiling, non_embedding_params, prefill_flops, real_model
from judge_core.data import load
from judge_core.pipeline import expand
from ray_jobs.engines.base import build_engine
from ray_jobs.spec import JudgeSpec


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--max-model-len", type=int, default=1024)
    p.add_argument("--real", action="store_true", help="SmolLM2-135M-Instruct on LLMBar Natural (real lengths)")
    args = p.parse_args()
    model = real_model() if args.real else str(bench_llama(Path(tempfile.gettempdir()) / "judgeray-bench-llama"))
    engine = build_engine(
        JudgeSpec(
            name="f",
            engine="hf",
            model=model,
            mode="label",  # micro-batches: the engine's own
            options={"max_model_len": 2048 if args.real else args.max_model_len, "dtype": "float32"},
        )
    )
    cfg = engine.model.config
    params = non_embedding_params(engine.model)
    rows = expand(load(*(("llmbar", "natural") if args.real else ("pandalm", "test")))[0][: args.n], ("ab",))
    engine.judge(rows[:4], "label")
    start = time.perf_counter()
    outs = engine.judge(rows, "label")
    seconds = time.perf_counter() - start
    lengths = [o["tokens_in"] for o in outs]
    flops = prefill_flops(cfg, params, lengths)
    ceiling = matmul_ceiling("float32")
    print(
        f"{len(rows)} prompts, {sum(lengths)} tokens in {seconds:.1f} s ({sum(lengths) / seconds:.0f} tokens/s); "
        f"{params / 1e6:.1f} M non-embedding parameters; achieved {flops / seconds / 1e9:.1f} GFLOP/s, "
        f"matmul ceiling {ceiling / 1e9:.1f} GFLOP/s: fraction {flops / seconds / ceiling:.2f}"
    )


if __name__ == "__main__":
    main()
