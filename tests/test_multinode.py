"""A sweep on a Ray of several nodes started on this machine (ray.cluster_utils.Cluster: a head without
GPUs and two worker nodes of 2 GPUs each, each with its own raylet and object store): judges run side by
side on both workers, a tensor-parallel engine's placement group packs its GPUs on one node, every row is
stored exactly once, and a worker node killed mid-sweep loses and doubles nothing."""

import json
import os
import tempfile
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ray_jobs.batch import SweepConfig
from ray_jobs.batch.sweep import run_sweep

pytestmark = pytest.mark.slow
ROWS = 60  # 30 LLMBar examples x 2 orders per judge


@pytest.fixture(scope="module")
def cluster():
    import ray
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    c = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 2,
            "num_gpus": 0,
            "include_dashboard": False,
            "temp_dir": tempfile.mkdtemp(prefix="ray"),
        },
    )  # short: sockets
    workers = [
        c.add_node(num_cpus=4, num_gpus=2, resources={"worker_a": 1}),
        c.add_node(num_cpus=4, num_gpus=2, resources={"worker_b": 1}),
    ]
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    yield c, workers
    ray.shutdown()
    c.shutdown()


def _sweep(out: Path, root: Path, name: str, delay: float, extra: list) -> SweepConfig:
    judges = [
        {
            "name": f"f{i}",
            "engine": "fake",
            "num_gpus": 1,
            "concurrency": 1,
            "batch_size": 4,
            "options": {"delay": delay, "nodes_file": str(out / "nodes.txt")},
        }
        for i in range(4)
    ]
    return SweepConfig.model_validate(
        {
            "name": name,
            "output_dir": str(out),
            "root": str(root),
            "benchmarks": ["llmbar/natural"],
            "limit": ROWS // 2,
            "bootstrap": 0,
            "part_rows": 8,
            "judges": judges + list(extra),
        }
    )


def _stored(run: Path, judge: str) -> list[tuple]:
    parts = list((run / judge / "label" / "llmbar-natural" / "parts").glob("part-*.parquet"))
    table = pq.read_table(parts)
    return list(zip(table["uid"].to_pylist(), table["order"].to_pylist()))


def _results(run: Path) -> dict:
    return {
        f"f{i}": json.loads((run / f"f{i}" / "label" / "llmbar-natural" / "metrics.json").read_text())["result"]
        for i in range(4)
    }


@pytest.fixture(scope="module")
def undisturbed(cluster, tmp_path_factory, shared_root):
    """Four 1-GPU judges on two 2-GPU workers, and a tensor-parallel judge of 3 GPUs no node holds."""
    import ray

    out = tmp_path_factory.mktemp("multinode")
    tp3 = {
        "name": "tp3",
        "engine": "vllm",
        "model": "org/never-started",
        "mode": "label",
        "concurrency": 1,
        "options": {"tensor_parallel_size": 3},
    }
    status = run_sweep(_sweep(out, shared_root, "calm", 0.02, [tp3]))
    workers = {
        n["NodeID"]: next(k for k in n["Resources"] if k.startswith("worker_"))
        for n in ray.nodes()
        if n["Alive"] and any(k.startswith("worker_") for k in n["Resources"])
    }
    ran = dict(line.split() for line in (out / "nodes.txt").read_text().splitlines())
    return out / "calm", status, {judge: workers.get(node, "head") for judge, node in ran.items()}


def test_judges_run_side_by_side_on_both_workers_and_store_every_row_once(undisturbed):
    run, status, where = undisturbed
    assert sorted(where) == ["f0", "f1", "f2", "f3"]  # one engine start per judge
    assert sorted(where.values()) == ["worker_a", "worker_a", "worker_b", "worker_b"]  # 2 GPUs per node
    for i in range(4):
        keys = _stored(run, f"f{i}")
        assert len(keys) == len(set(keys)) == ROWS
        assert status[f"f{i}/label/llmbar-natural"].ok
    # 3 GPUs on one node: no node has them (4 in all); it fails at once, naming why, and alone
    assert str(status["tp3/label/llmbar-natural"]).startswith(
        "failed: RuntimeError: tp3 needs 1 actor(s) of 1 CPUs, 3 GPUs"
    )
    assert "on one node" in status["tp3/label/llmbar-natural"].reason


def test_a_tensor_parallel_group_packs_its_gpus_on_one_node(cluster):
    import ray
    from ray.util.placement_group import placement_group_table

    from ray_jobs.cluster import release_groups, strict_pack

    strategy = strict_pack("tp2", [{"CPU": 1, "GPU": 1}, {"GPU": 1}])["scheduling_strategy"]
    group = strategy.placement_group
    assert group.wait(60)
    table = placement_group_table(group)
    assert table["strategy"] == "STRICT_PACK" and table["bundles"] == {0: {"CPU": 1.0, "GPU": 1.0}, 1: {"GPU": 1.0}}
    assert len(set(table["bundles_to_node_id"].values())) == 1  # both GPUs on one worker
    release_groups("tp2")
    time.sleep(0.5)
    assert placement_group_table(group)["state"] == "REMOVED"
    assert ray.available_resources().get("GPU") == 4


def test_a_worker_node_killed_mid_sweep_loses_and_doubles_nothing(cluster, undisturbed, tmp_path, shared_root):
    c, workers = cluster
    cfg = _sweep(tmp_path, shared_root, "storm", 0.25, [])  # 60 rows x 0.25 s: about 15 s per judge
    done: dict = {}
    thread = threading.Thread(target=lambda: done.update(status=run_sweep(cfg)))
    thread.start()
    deadline = time.time() + 120
    while (
        not (tmp_path / "nodes.txt").exists()
        or len((tmp_path / "nodes.txt").read_text().splitlines()) < 4
        or not list((tmp_path / "storm").glob("*/label/llmbar-natural/parts/part-*.parquet"))
    ):
        assert time.time() < deadline and thread.is_alive()
        time.sleep(0.2)
    c.remove_node(workers[1], allow_graceful=False)  # SIGKILL: its actors and object store are gone
    thread.join(timeout=300)
    assert not thread.is_alive()
    failed = [k for k, v in done["status"].items() if not v.ok]
    if failed:  # the sweep may fail the affected cells instead: a re-run completes them
        assert all(k.startswith("f") for k in failed)
        c.add_node(num_cpus=4, num_gpus=2, resources={"worker_b": 1})
        assert all(s.ok for s in run_sweep(cfg).values())
    starts = (tmp_path / "nodes.txt").read_text().splitlines()
    assert len(starts) >= 6  # the 2 engines of the killed node started again, on the other worker
    run = tmp_path / "storm"
    for i in range(4):
        keys = _stored(run, f"f{i}")
        assert len(keys) == len(set(keys)) == ROWS  # 0 lost, 0 duplicated
    assert _results(run) == _results(undisturbed[0])  # the same metrics as the undisturbed run
