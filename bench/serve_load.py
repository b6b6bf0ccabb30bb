"""Load on the local serving app: throughput with and without @serve.batch, latency, errors, lost.

    .venv/bin/python -m bench.serve_load --n 256 --concurrency 16
    .venv/bin/python -m bench.serve_load --real --n 64      # SmolLM2-135M-Instruct, float32

Starts a local Ray and Serve on 127.0.0.1, deploys `judge serve`'s app with a benchmark-sized random
Llama (hf engine, label mode, PandaLM test pairs cut to 512 tokens), then sends exactly --n POST
/v1/judge requests with at most --concurrency in flight, twice: max_batch_size=1 (no batching) and
--batch. Prints requests/s of each, the ratio batched/unbatched (machine-independent), p50/p99
latency, and the counts of errors (non-200) and lost requests (no answer); exits 1 unless both are 0.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench._models import bench_llama, real_model
from judge_core.data import load


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drive(url: str, key: str, bodies: list[dict], concurrency: int) -> dict:
    """Send every body once with at most `concurrency` in flight; latencies, errors and lost requests."""
    import requests

    def one(body):
        start = time.perf_counter()
        try:
            r = requests.post(f"{url}/v1/judge", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=300)
            ok = r.status_code == 200 and r.json().get("verdict") is not None
            return time.perf_counter() - start, "ok" if ok else f"error {r.status_code}"
        except requests.RequestException as exc:
            return time.perf_counter() - start, f"lost {type(exc).__name__}"

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, bodies))
    wall = time.perf_counter() - start
    lat = sorted(t for t, _ in results)
    return {
        "rps": len(bodies) / wall,
        "p50": statistics.median(lat),
        "p99": lat[min(len(lat) - 1, int(0.99 * len(lat)))],
        "errors": sum(s.startswith("error") for _, s in results),
        "lost": sum(s.startswith("lost") for _, s in results),
        "answered": sum(s == "ok" for _, s in results),
    }


def _sizes(url: str, key: str) -> list[int]:
    import requests

    return requests.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}).json()["batch_sizes"]


def main() -> int:
    import ray
    from ray import serve

    from ray_jobs.serve import build_app

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=256, help="requests per run (bounded)")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight at most")
    p.add_argument("--batch", type=int, default=16, help="max_batch_size of the batched run")
    p.add_argument("--max-len", type=int, default=512, help="prompt tokens (PandaLM pairs are cut to fit)")
    p.add_argument("--real", action="store_true", help="SmolLM2-135M-Instruct (float32) instead of the random model")
    args = p.parse_args()
    key = os.environ.setdefault("JUDGE_API_KEY", "bench-key")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    model = (
        real_model()
        if args.real
        else str(bench_llama(Path(tempfile.gettempdir()) / "judgeray-bench-llama", hidden=256, layers=2))
    )
    examples, _ = load("pandalm", "test")
    bodies = [
        {"question": ex.question, "answer1": ex.answer1, "answer2": ex.answer2}
        for ex in (examples * (args.n // len(examples) + 1))[: args.n]
    ]
    ray.init(address="local", include_dashboard=False, log_to_driver=False)
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    url, runs = f"http://127.0.0.1:{port}", {}
    for name, batch in (("unbatched", 1), ("batched", args.batch)):
        cfg = {
            "judge": {
                "name": "bench",
                "engine": "hf",
                "model": model,
                "mode": "label",
                "num_cpus": 1,
                "options": {"max_model_len": args.max_len, "micro_batch": batch, "dtype": "float32"},
            },
            "max_batch_size": batch,
            "batch_wait_timeout_s": 0.005,
            "max_input_tokens": 100_000,
            "max_ongoing_requests": 4 * args.concurrency,
        }
        serve.run(build_app(cfg), name="judge", route_prefix="/")
        drive(url, key, bodies[:8], 4)  # warm-up: model pages in, first batches
        seen = len(_sizes(url, key))
        runs[name] = r = drive(url, key, bodies, args.concurrency)
        sizes = _sizes(url, key)[seen:]
        print(
            f"{name:10} max_batch_size {batch:3d} (mean engine call {sum(sizes) / max(1, len(sizes)):.1f} rows): "
            f"{r['rps']:.1f} req/s, p50 {1000 * r['p50']:.0f} ms, "
            f"p99 {1000 * r['p99']:.0f} ms, answered {r['answered']}/{args.n}, errors {r['errors']}, lost {r['lost']}"
        )
    serve.shutdown()
    ray.shutdown()
    print(
        f"throughput batched / unbatched = {runs['batched']['rps'] / runs['unbatched']['rps']:.2f}x "
        f"({args.n} requests, {args.concurrency} in flight, prompts <= {args.max_len} tokens)"
    )
    return 0 if all(r["errors"] == 0 and r["lost"] == 0 for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
