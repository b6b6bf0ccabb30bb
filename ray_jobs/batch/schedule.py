"""Independent pipelines side by side: each starts as soon as its actors fit in the cluster's free resources.

    results = side_by_side([Job("qwen", spec.actor_bundles, 1, run_qwen), ...], on_done=record)

A sweep's judges (and a comparison's generators) are independent: each is one Ray Data pipeline run by
a thread of the driver. The scheduler books each job's minimum actors on the nodes' free resources
(cluster.Nodes, read afresh every round, so a node that leaves stops counting), starts every queued job
that fits, largest first (then in the given order), skipping those that do not, and starts the others as running jobs
finish and free their resources. Beyond its minimum a job's pool grows by itself (Ray Data's
autoscaling pool, `concurrency: auto`) into whatever is free. A job that can never fit fails at once
on a Ray started here; on a joined cluster it starts when nothing else runs (its actors' demand is what
an autoscaler adds nodes for) and the console says what it waits for.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import console
from ..cluster import Nodes, describe, merged


@dataclass(eq=False)
class Job:
    """One independent pipeline: a name, one actor's bundles (all on one node), the actors it needs to
    start, and the work."""

    name: str
    bundles: list[dict[str, float]]
    actors: int
    run: Callable[[], object]
    booked: list = field(default_factory=list)  # [(node id, resources)] while it runs

    def needs(self) -> str:
        return f"{self.actors} actor(s) of {describe(merged(self.bundles)) or 'no resources'} each on one node"


def side_by_side(
    jobs: list[Job],
    on_done: Callable[[str, object], None] = lambda name, result: None,
    joined: bool = False,
    poll_s: float = 2.0,
    cluster: Callable[[], Nodes] = Nodes.of_cluster,
) -> dict[str, object]:
    """{job name: what its run returned, or the exception it raised}. on_done(name, result) is called in
    this thread as each job ends (writing status, moving the progress bar). `joined`: the cluster is not
    ours and may grow (an autoscaler); a job too large for it then waits instead of failing. `cluster`:
    the alive nodes' resources, read every round (a test gives its own)."""
    waiting, running, results = sorted(jobs, key=_largest_first), {}, {}
    ended: queue.Queue = queue.Queue()
    while waiting or running:
        idle = cluster()  # read once a round: _free books the running jobs on a copy
        start, failed = plan_round(waiting, _free(running, idle.copy()), idle, bool(running), joined)
        for job in start + list(failed):
            waiting.remove(job)
        for job, exc in failed.items():
            results[job.name] = exc
            on_done(job.name, exc)
        for job in start:
            running[job.name] = job
            threading.Thread(target=_run, args=(job, ended), name=f"judge-{job.name}", daemon=True).start()
        _request(list(running.values()) + waiting, joined)
        try:
            name, result = ended.get(timeout=poll_s)
        except queue.Empty:
            continue
        running.pop(name)
        results[name] = result
        on_done(name, result)
    _request([], joined)
    return results


def plan_round(waiting: list[Job], free: Nodes, idle: Nodes, busy: bool, joined: bool) -> tuple[list[Job], dict]:
    """(the jobs to start now, booked on `free`; {job: the exception that fails it}); the others wait.
    `idle`: the whole cluster; `busy`: other jobs run."""
    start, failed = [], {}
    for job in waiting:
        verdict = _admit(job, free, idle, busy or bool(start), joined)
        if isinstance(verdict, Exception):
            failed[job] = verdict
        elif verdict == "start":
            start.append(job)
    return start, failed


def _largest_first(job: Job) -> tuple:
    """Admission order: the largest actors first (first-fit decreasing: a 4-GPU engine is placed before
    1-GPU ones fragment the nodes, instead of waiting for 4 GPUs to free at once), then the given order."""
    need = merged(job.bundles)
    return -need.get("GPU", 0) * job.actors, -need.get("CPU", 0) * job.actors


def _free(running: dict[str, Job], nodes: Nodes) -> Nodes:
    """The alive nodes' resources less the bookings of the running jobs (on nodes still alive)."""
    for job in running.values():
        for node, need in job.booked:
            if node in nodes.free:
                nodes.take(node, need)
    return nodes


def _admit(job: Job, free: Nodes, idle: Nodes, busy: bool, joined: bool):
    """ "start" (booked on `free`), "wait", or the exception that fails a job that can never fit (`idle`:
    the whole cluster; `busy`: other jobs run)."""
    booked = free.reserve(job.bundles, job.actors)
    if booked is not None:
        job.booked = booked
        return "start"
    if idle.copy().reserve(job.bundles, job.actors) is not None:  # a check: the idle cluster is every job's
        return "wait"  # it fits an idle cluster: its turn comes when others finish
    if not joined:
        return RuntimeError(
            f"{job.name} needs {job.needs()}; this Ray has {_shapes(idle)}, and a Ray started here "
            "adds no nodes: lower num_gpus/num_cpus/concurrency or run it on a cluster that has them"
        )
    if busy:
        return "wait"
    console.say(
        f"[waiting] {job.name}: needs {job.needs()}; the cluster has {_shapes(idle)} now "
        "(an autoscaling cluster adds nodes for it; a fixed one never will)"
    )
    return "start"


def _shapes(nodes: Nodes) -> str:
    return (
        "no nodes" if not nodes.free else "nodes of " + " / ".join(sorted({describe(r) for r in nodes.free.values()}))
    )


def _run(job: Job, ended: queue.Queue) -> None:
    try:
        result = job.run()
    except Exception as exc:  # noqa: BLE001 - one job's failure fails only its own cells
        result = exc
    ended.put((job.name, result))


def _request(jobs: list[Job], joined: bool) -> None:
    """Tell a cluster's autoscaler what the running and queued jobs need in all (nothing at the end)."""
    if not joined:
        return
    from ray.autoscaler.sdk import request_resources  # heavy: kept out of `judge --help`

    with contextlib.suppress(Exception):  # a cluster without an autoscaler: nothing to tell
        request_resources(bundles=[merged(j.bundles) for j in jobs for _ in range(j.actors)])
