"""A fine-tune with 2 Ray Train workers on 2 nodes loses one node mid-run and finishes from its last checkpoint.

    .venv/bin/python -m scripts.finetune_node_loss                # ~4 min on 2 cores
    .venv/bin/python -m scripts.finetune_node_loss --steps 40 --every 10

Starts a Ray of a head without CPUs and two worker nodes on this machine (ray.cluster_utils.Cluster, 1 CPU
per worker), runs `judge finetune configs/finetune/minilm-cpu.yaml` (the real MiniLM pair judge) with
num_workers=2, placement=STRICT_SPREAD (one worker per node) and max_failures=2, as a driver joining that
Ray (RAY_ADDRESS). Once its first checkpoint is complete, the second worker node is killed (SIGKILL, as
a lost machine) and a new node is added, as a cluster's autoscaler replaces a lost one. Ray Train then
restarts the worker group from that checkpoint (ray.train.get_checkpoint(); finetune/checkpoint.restore).
Prints the steps, where the run resumed, the exit code and the wall time; exits non-zero if the run did
not finish or did not resume from a checkpoint.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    from ray.cluster_utils import Cluster

    from ray_jobs.finetune.checkpoint import checkpoint_complete

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30, help="optimizer steps in all")
    p.add_argument("--every", type=int, default=10, help="steps between checkpoints")
    args = p.parse_args()
    temp, storage = tempfile.mkdtemp(prefix="ray"), Path(tempfile.mkdtemp(prefix="ft-node-loss-"))
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False, "temp_dir": temp}
    )
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    env = os.environ | {"RAY_ADDRESS": cluster.address, "RAY_AUTH_MODE": "disabled", "JUDGE_VERBOSE": "1"}
    cmd = [
        sys.executable,
        "-m",
        "ray_jobs.cli",
        "finetune",
        "configs/finetune/minilm-cpu.yaml",
        "name=node-loss",
        f"storage_path={storage}",
        "num_workers=2",
        "placement=STRICT_SPREAD",
        "max_failures=2",
        f"stop_after_steps={args.steps}",
        f"checkpoint_every={args.every}",
        "log_every=5",
        "threads_per_worker=1",
    ]
    start = time.perf_counter()
    log = open(storage / "finetune.log", "w")  # noqa: SIM115 - the child writes it until it exits
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    killed_at = None
    try:
        while proc.poll() is None:
            done = [d for d in (storage / "node-loss").glob("checkpoint_*") if checkpoint_complete(d)]
            if done and killed_at is None:
                cluster.remove_node(workers[1], allow_graceful=False)
                killed_at = time.perf_counter() - start
                print(f"killed worker node 2 at {killed_at:.0f} s, after checkpoint {done[0].name}", flush=True)
                cluster.add_node(num_cpus=1)  # the replacement an autoscaler would start
            time.sleep(0.5)
    finally:
        log.close()
        cluster.shutdown()
    wall = time.perf_counter() - start
    text = (storage / "finetune.log").read_text(errors="replace")
    final = re.findall(r"\[finetune\] adapter written to .*?: (\{.*\})", text)
    groups = text.count("Started training worker group")
    print(f"exit code {proc.returncode}; wall {wall:.0f} s; log {storage / 'finetune.log'}")
    print("final metrics: " + (final[-1] if final else "none"))
    print(f"worker groups started: {groups} (1 + the restarts)")
    ok = (
        proc.returncode == 0
        and killed_at is not None
        and groups > 1
        and final
        and "'resumed_from': 0," not in final[-1]
    )
    print("node loss survived from a checkpoint" if ok else "FAILED: the run did not finish from a checkpoint")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
