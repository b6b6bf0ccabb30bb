"""Sizing and placing judges without a Ray: free resources per node, pool bounds, actor bundles (tensor
parallel on one node, fractions of a GPU), vLLM's settings for them, and the scheduler that starts judges
side by side as they fit (fake jobs on a fake cluster); the stale-address case of joining a Ray."""

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from ray_jobs.batch.schedule import Job, side_by_side
from ray_jobs.batch.stages import engine_stage
from ray_jobs.cluster import Nodes, pool_bounds, strict_pack
from ray_jobs.engines.vllm_engine import llm_kwargs
from ray_jobs.spec import JudgeSpec

ROOT = Path(__file__).resolve().parents[1]


def two_nodes() -> Nodes:
    return Nodes({"a": {"CPU": 8, "GPU": 2, "big": 1}, "b": {"CPU": 8, "GPU": 2}})


def test_an_actor_fits_on_one_node_only():
    nodes = two_nodes()
    assert nodes.place([{"GPU": 2}]) == "a"
    assert nodes.place([{"GPU": 1}] * 3) is None  # 4 GPUs in all, but no node holds 3
    assert nodes.place([{"GPU": 1, "big": 1}]) == "a" and Nodes({"b": {"GPU": 2}}).place([{"big": 0.5}]) is None
    assert [n for n, _ in nodes.reserve([{"CPU": 1, "GPU": 1}], 3)] == ["a", "a", "b"]
    assert nodes.free["a"]["GPU"] == 0 and nodes.free["b"]["GPU"] == 1
    assert nodes.reserve([{"GPU": 1}], 2) is None and nodes.free["b"]["GPU"] == 1  # nothing booked on failure
    assert two_nodes().count([{"CPU": 1, "GPU": 0.5}]) == 8 and two_nodes().count([{"CPU": 3}]) == 4


def test_pool_bounds_from_concurrency():
    gpu = {"name": "g", "engine": "fake", "num_gpus": 1}
    assert JudgeSpec(**gpu).pool == (1, None) and JudgeSpec(name="c", engine="fake").pool == (1, 1)
    assert pool_bounds(JudgeSpec(**gpu), two_nodes()) == (1, 4)  # auto: as many as the nodes hold
    assert pool_bounds(JudgeSpec(**gpu, concurrency=[2, 3]), two_nodes()) == (2, 3)
    assert pool_bounds(JudgeSpec(**gpu, concurrency=6), two_nodes()) == (6, 6)  # asked for: Ray Data waits
    assert pool_bounds(JudgeSpec(**gpu, num_cpus=4, concurrency="auto"), two_nodes()) == (1, 4)
    with pytest.raises(ValueError, match="min <= max"):
        JudgeSpec(**gpu, concurrency=[3, 2])
    with pytest.raises(ValueError):
        JudgeSpec(**gpu, concurrency="many")


def test_tensor_parallel_asks_one_strict_pack_group_per_actor_without_starting_vllm():
    spec = JudgeSpec(
        name="llama70",
        engine="vllm",
        model="m",
        num_gpus=4,
        concurrency=1,
        resources={"big": 1},
        options={"tensor_parallel_size": 4},
    )
    assert spec.actor_bundles == [{"CPU": 1, "GPU": 1, "big": 1}, {"GPU": 1}, {"GPU": 1}, {"GPU": 1}]
    stage = engine_stage(spec, two_nodes())
    assert stage["num_gpus"] == 0 and stage["num_cpus"] == 1  # the workers take the GPUs, in the group
    fn = stage["ray_remote_args_fn"]
    assert fn.func is strict_pack and fn.args == ("llama70", spec.actor_bundles)
    assert llm_kwargs(spec, on_gpu=True)["distributed_executor_backend"] == "ray"
    with pytest.raises(ValueError, match="takes 4 GPUs"):
        JudgeSpec(name="x", engine="vllm", model="m", num_gpus=1, options={"tensor_parallel_size": 4})


def test_half_a_gpu_gets_half_of_vllms_memory_unless_set():
    half = JudgeSpec(name="h", engine="vllm", model="m", num_gpus=0.5)
    assert llm_kwargs(half, on_gpu=True)["gpu_memory_utilization"] == 0.45
    assert "gpu_memory_utilization" not in llm_kwargs(half, on_gpu=False)
    assert "gpu_memory_utilization" not in llm_kwargs(JudgeSpec(name="w", engine="vllm", model="m", num_gpus=1), True)
    mine = half.model_copy(update={"options": {"gpu_memory_utilization": 0.3}})
    assert llm_kwargs(mine, on_gpu=True)["gpu_memory_utilization"] == 0.3
    stage = engine_stage(half, two_nodes())
    assert stage["num_gpus"] == 0.5 and (stage["compute"].min_size, stage["compute"].max_size) == (1, 8)


def test_where_and_how_many_actors_run_does_not_change_a_cells_hash():
    from ray_jobs.store import Cell

    base = JudgeSpec(name="q", engine="hf", model="m", mode="label")
    moved = base.model_copy(update={"concurrency": "auto", "num_gpus": 0.5, "num_cpus": 4, "resources": {"A100": 1}})
    assert (
        Cell(base, "label", "llmbar", "natural").config_hash()
        == Cell(moved, "label", "llmbar", "natural").config_hash()
    )


class Clock:
    """Fake jobs that run until released, and a log of when each started."""

    def __init__(self):
        self.started, self.release = [], {}

    def job(self, name: str, gpus: float, actors: int = 1, done: bool = False) -> Job:
        self.release[name] = threading.Event()
        if done:
            self.release[name].set()

        def run():
            self.started.append(name)
            assert self.release[name].wait(10)
            return {"ok": name}

        return Job(name, [{"CPU": 1, "GPU": gpus}], actors, run)


def _wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_jobs_start_side_by_side_as_they_fit_and_the_rest_as_others_end():
    clock, ended = Clock(), []
    jobs = [clock.job("big", 2), clock.job("one", 1), clock.job("two", 1), clock.job("three", 1)]
    out = {}
    t = threading.Thread(
        target=lambda: out.update(side_by_side(jobs, lambda n, r: ended.append(n), poll_s=0.01, cluster=two_nodes))
    )
    t.start()
    _wait_for(lambda: len(clock.started) == 3)
    time.sleep(0.1)
    assert sorted(clock.started) == ["big", "one", "two"]  # 4 GPUs: three fit, "three" waits
    clock.release["one"].set()
    _wait_for(lambda: "three" in clock.started)  # its GPU freed: the queued one starts
    for e in clock.release.values():
        e.set()
    t.join(5)
    assert out == {n: {"ok": n} for n in ("big", "one", "two", "three")} and ended[0] == "one"


def test_the_largest_actors_are_placed_first():
    """First-fit decreasing: a 2-GPU engine listed last still starts at once; in the given order three
    1-GPU judges would split the nodes and leave it waiting for a whole node to free."""
    clock = Clock()
    out = {}
    jobs = [clock.job("one", 1), clock.job("two", 1), clock.job("three", 1), clock.job("big", 2)]
    t = threading.Thread(target=lambda: out.update(side_by_side(jobs, poll_s=0.01, cluster=two_nodes)))
    t.start()
    _wait_for(lambda: len(clock.started) == 3)
    time.sleep(0.1)
    assert sorted(clock.started) == ["big", "one", "two"]
    for e in clock.release.values():
        e.set()
    t.join(5)
    assert len(out) == 4


def test_a_job_too_large_for_every_node_fails_at_once_on_a_local_ray_and_waits_on_a_joined_one():
    clock = Clock()
    out = side_by_side(
        [clock.job("huge", 3, done=True), clock.job("small", 1, done=True)], poll_s=0.01, cluster=two_nodes
    )
    assert (
        isinstance(out["huge"], RuntimeError) and "on one node" in str(out["huge"]) and out["small"] == {"ok": "small"}
    )
    assert clock.started == ["small"]
    # a joined cluster may add nodes (an autoscaler): started once nothing else runs, its demand visible
    assert side_by_side([clock.job("huge", 3, done=True)], poll_s=0.01, cluster=two_nodes, joined=True) == {
        "huge": {"ok": "huge"}
    }


def test_several_queued_jobs_each_wait_for_the_idle_cluster():
    """Two 4-GPU jobs behind a running one on 4 GPUs: each fits the idle cluster by itself, so both wait
    (checking the first must not use up the idle cluster for the second) and both run in turn."""
    clock = Clock()
    out = side_by_side(
        [clock.job("first", 4, done=True), clock.job("second", 4, done=True), clock.job("third", 4, done=True)],
        poll_s=0.01,
        cluster=lambda: Nodes({"a": {"CPU": 8, "GPU": 4}}),
    )
    assert out == {n: {"ok": n} for n in ("first", "second", "third")} and clock.started == ["first", "second", "third"]


def test_a_failing_job_fails_alone():
    def boom():
        raise ValueError("no model")

    out = side_by_side(
        [Job("bad", [{"GPU": 1}], 1, boom), Job("good", [{"GPU": 1}], 1, lambda: 7)], poll_s=0.01, cluster=two_nodes
    )
    assert isinstance(out["bad"], ValueError) and out["good"] == 7


def test_a_stale_ray_address_is_not_joined(tmp_path, shared_root):
    """A dead Ray's address left in <tmp>/ray/ray_current_cluster: a verb starts its own local Ray; a
    RAY_ADDRESS that nothing answers at stops within seconds, naming it."""
    temp = Path(tempfile.mkdtemp(prefix="ray"))  # short: Ray's socket paths live under it
    (temp / "ray").mkdir()
    (temp / "ray" / "ray_current_cluster").write_text("127.0.0.1:1")
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "JUDGE_VERBOSE")} | {
        "RAY_TMPDIR": str(temp),
        "RAY_AUTH_MODE": "disabled",
    }
    cmd = [
        sys.executable,
        "-m",
        "ray_jobs.cli",
        "judge",
        "--engine",
        "baseline",
        "--model",
        "longer",
        "--benchmark",
        "llmbar/natural",
        "--limit",
        "2",
        "--root",
        str(shared_root),
        "--out",
        str(tmp_path / "out"),
    ]
    start = time.monotonic()
    dead = subprocess.run(
        cmd, env=env | {"RAY_ADDRESS": "127.0.0.1:1"}, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert time.monotonic() - start < 10 and dead.returncode != 0
    assert "no Ray answers at 127.0.0.1:1 (RAY_ADDRESS)" in dead.stdout + dead.stderr
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "started a local Ray: " in done.stdout and "1 of 1 cells ok" in done.stdout


def test_address_auto_names_the_dead_address_it_found(tmp_path, monkeypatch):
    from ray_jobs.ray_lifecycle import reachable

    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(ConnectionError, match="no running Ray found"):
        reachable("auto")
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text("127.0.0.1:1\n")
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=r"no Ray answers at 127\.0\.0\.1:1 .*ray_current_cluster"):
        reachable("auto")
    assert time.monotonic() - start < 10
