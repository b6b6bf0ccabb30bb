"""The Ray Data pipeline vs a plain loop over the same engine (hf, label mode), same rows.

    .venv/bin/python -m bench.ray_overhead --n 400
    .venv/bin/python -m bench.ray_overhead --real --n 64    # SmolLM2-135M-Instruct, float32

The loop calls engine.judge batch by batch in this process; the pipeline runs run_cell's Ray Data
plan (actor pool of one, parse stage, Parquet parts) on a local Ray that is already started.
Prints both times and two ratios pipeline/loop (1.0 = no overhead): end to end, and per additional
row (from two pipeline runs of n/2 and n rows: the fixed start-up of actors and model cancels).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench._models import bench_llama, real_model
from judge_core.data import load
from judge_core.pipeline import expand
from ray_jobs.engines.base import build_engine
from ray_jobs.spec import JudgeSpec


def main() -> None:
    import ray

    from ray_jobs.batch import run_cell
    from ray_jobs.store import Cell

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=400, help="examples of llmbar+pandalm (x1 order)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--real", action="store_true", help="SmolLM2-135M-Instruct (float32, prompts up to 2048 tokens)")
    args = p.parse_args()
    if args.real:
        model, opts = real_model(), {"max_model_len": 2048, "dtype": "float32"}
    else:
        model = str(bench_llama(Path(tempfile.gettempdir()) / "judgeray-bench-llama", hidden=256, layers=2))
        opts = {"max_model_len": 512, "micro_batch": 16}
    spec = JudgeSpec(
        name="bench", engine="hf", model=model, mode="label", batch_size=args.batch_size, num_cpus=2, options=opts
    )
    examples, _ = load("pandalm", "test")
    rows = expand(examples[: args.n], ("ab",))

    start = time.perf_counter()
    engine = build_engine(spec)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(0, len(rows), args.batch_size):
        engine.judge(rows[i : i + args.batch_size], "label")
    loop_s = time.perf_counter() - start
    del engine

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(address="local", num_cpus=3, include_dashboard=False, log_to_driver=False)
    times = {}
    for n in (args.n // 2, args.n):  # two sizes: the difference is the per-row cost without start-up
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            run_cell(
                Cell(spec, "label", "pandalm", "test", orders=("ab",), limit=n), out, bootstrap=0, log=lambda *_: None
            )
            times[n] = time.perf_counter() - start
    ray.shutdown()
    ray_s = times[args.n]
    marginal = (times[args.n] - times[args.n // 2]) / (loop_s * (args.n - args.n // 2) / args.n)
    print(
        f"rows: {len(rows)}; plain loop {loop_s:.1f} s (+{load_s:.1f} s model load); Ray Data pipeline "
        f"{ray_s:.1f} s incl. actor start-up; pipeline/loop = {ray_s / (loop_s + load_s):.2f}x end to end, "
        f"{marginal:.2f}x per additional row (start-up excluded: {times[args.n // 2]:.1f} s for {args.n // 2} rows)"
    )


if __name__ == "__main__":
    main()
