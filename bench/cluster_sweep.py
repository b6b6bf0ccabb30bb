"""How much of a cluster's GPUs a sweep keeps busy: `fake` judges whose fixed delay per row stands in for
GPU work, on a local Ray that declares GPUs (or a multi-node ray.cluster_utils.Cluster).

    .venv/bin/python -m bench.cluster_sweep                      # cases a-d, ~3.5 min each
    .venv/bin/python -m bench.cluster_sweep --cases a --seconds 30   # a quick look

Cases: (a) 4 judges x 1 GPU on 4 GPUs; (b) 8 judges x 1 GPU on 4 GPUs; (c) judges of 2, 1, 1 and 0.5 GPUs
on 4 GPUs; (d) case (b) on 2 worker nodes of 2 GPUs each (and a head without GPUs). Every judge has the
default concurrency (auto for a GPU judge). Each case is one `judge sweep` process, timed from before
Ray (or the Cluster) starts to its end, so start-up counts in the wall time and not in the work:

    utilization = judge-seconds of work / (wall seconds x GPUs)
    work of a judge = rows it judged x delay per row x GPUs per actor

Rows per judge are chosen so that a perfect schedule takes --seconds. The last line reads
`utilization: a=0.xx b=0.xx c=0.xx d=0.xx`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
GPUS = 4
CASES = {"a": [1, 1, 1, 1], "b": [1] * 8, "c": [2, 1, 1, 0.5], "d": [1] * 8}
NODES = {"d": [2, 2]}  # GPUs per worker node; the other cases: one local Ray with GPUS


def sweep_config(case: str, out: Path, rows: int, delay: float, data: str, address: str | None) -> dict:
    judges = [
        {
            "name": f"j{i}-{g}gpu",
            "engine": "fake",
            "num_gpus": g,
            "num_cpus": 0.5,
            "batch_size": 4,
            "options": {"delay": delay},
        }
        for i, g in enumerate(CASES[case])
    ]
    ray_init = {"address": address} if address else {"num_cpus": 16, "num_gpus": GPUS, "include_dashboard": False}
    return {
        "name": case,
        "output_dir": str(out),
        "root": data,
        "benchmarks": ["pandalm"],
        "orders": "ab",
        "limit": rows,
        "bootstrap": 0,
        "part_rows": 64,
        "judges": judges,
        "ray_init": ray_init,
    }


def start_cluster(gpus_per_node: list[int], temp: str):
    """A head without GPUs and one worker node per entry, each with its own raylet and object store."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "num_gpus": 0, "include_dashboard": False, "temp_dir": temp},
    )
    for g in gpus_per_node:
        cluster.add_node(num_cpus=8, num_gpus=g)
    cluster.wait_for_nodes()
    return cluster


def run_case(case: str, seconds: float, delay: float, data: str) -> dict:
    gpus = CASES[case]
    rows = max(4, round(seconds * GPUS / (delay * sum(gpus))))  # every judge the same rows: ideal wall = seconds
    out = Path(tempfile.mkdtemp(prefix=f"cluster-sweep-{case}-"))
    temp = tempfile.mkdtemp(prefix="ray")
    # its judges are the test-only fake engine (a delay per row stands in for GPU work): register it here,
    # before the nodes start, so that the driver and every node's workers inherit the variable
    os.environ["JUDGERAY_ENGINE_PLUGINS"] = "ray_jobs.engines.fake"
    env = os.environ | {"RAY_AUTH_MODE": "disabled", "RAY_TMPDIR": temp}
    start = time.perf_counter()
    cluster = start_cluster(NODES[case], temp) if case in NODES else None
    try:
        cfg = out / "sweep.yaml"
        cfg.write_text(yaml.safe_dump(sweep_config(case, out, rows, delay, data, cluster and cluster.address)))
        proc = subprocess.run(
            [sys.executable, "-m", "ray_jobs.cli", "sweep", str(cfg)], env=env, cwd=ROOT, capture_output=True, text=True
        )
        wall = time.perf_counter() - start
    finally:
        if cluster is not None:
            cluster.shutdown()
    if proc.returncode != 0:
        raise SystemExit(f"case {case} failed:\n{proc.stdout}\n{proc.stderr}")
    judged = {
        m.parent.parent.parent.name: json.loads(m.read_text())["rows_this_run"]
        for m in (out / case).glob("*/*/*/metrics.json")
    }
    work = sum(judged[f"j{i}-{g}gpu"] * delay * g for i, g in enumerate(gpus))
    return {"case": case, "judges": gpus, "rows": rows, "wall": wall, "work": work, "utilization": work / (wall * GPUS)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default="abcd")
    p.add_argument("--seconds", type=float, default=180, help="a perfect schedule's wall time per case")
    p.add_argument("--delay", type=float, default=0.5, help="seconds of 'GPU work' per row")
    p.add_argument("--data", default=os.environ.get("JUDGE_DATA_DIR", str(ROOT.parent / "shared" / "data")))
    args = p.parse_args()
    results = []
    for case in args.cases:
        r = run_case(case, args.seconds, args.delay, args.data)
        results.append(r)
        print(
            f"case {case}: judges of {r['judges']} GPU(s), {r['rows']} rows each, {args.delay} s/row: "
            f"wall {r['wall']:.1f} s, work {r['work']:.0f} GPU-s, utilization {r['utilization']:.2f}",
            flush=True,
        )
    print("utilization: " + " ".join(f"{r['case']}={r['utilization']:.2f}" for r in results))


if __name__ == "__main__":
    main()
