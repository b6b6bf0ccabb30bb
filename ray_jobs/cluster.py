"""Which Ray a verb runs on, and what its nodes hold: joining or starting Ray, said out loud; the free
resources per node that decide which judges start now (batch/schedule.py) and how large their pools grow.

    ensure_ray({"num_cpus": 2})           # RAY_ADDRESS / ray_init.address: join it; else a local Ray
    nodes = Nodes.of_cluster()            # {node id: resources} of the alive nodes
    nodes.place(spec.actor_bundles)       # the node one more actor fits on (all its bundles), or None
    pool_bounds(spec, nodes)              # (min, max) actors for Ray Data's ActorPoolStrategy

A Ray is joined only when the user names one (RAY_ADDRESS, set by `ray job submit`, or `address:` in
ray_init); otherwise a local one is started, whatever an earlier Ray left in <tmp>/ray/ray_current_cluster
(a Ray killed without cleaning up leaves its dead address there, which a bare ray.init() retries forever).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from . import console

JOIN_TIMEOUT_S = 5.0
LOCAL_ONLY = {
    "num_cpus",
    "num_gpus",
    "resources",
    "labels",
    "object_store_memory",
    "include_dashboard",
    "dashboard_host",
    "dashboard_port",
    "_temp_dir",
    "_system_config",
}  # what only a new Ray takes
_JOINED: list[str] = []  # the address ensure_ray joined (a cluster that is not ours, which may grow)


# ---- joining or starting ------------------------------------------------------------------------------
def ensure_ray(init_kwargs: dict | None = None) -> None:
    """Join the Ray the user named (RAY_ADDRESS, ray_init.address), or start a local one with a reaper
    that stops its processes if this driver is killed (ray_jobs/reaper.py); say which on the console."""
    import ray

    if ray.is_initialized():
        return
    kwargs = dict(init_kwargs or {})
    named = "ray_init.address" if kwargs.get("address") else "RAY_ADDRESS"
    address = kwargs.pop("address", None) or os.environ.get("RAY_ADDRESS") or "local"
    ignored = sorted(k for k in kwargs if k in LOCAL_ONLY) if address != "local" else []
    if address != "local":
        reachable(address, named)
    ray.init(address=address, **{k: v for k, v in kwargs.items() if k not in ignored})
    _JOINED[:] = [] if address == "local" else [address]
    if address == "local":
        from .reaper import start_reaper

        start_reaper()
        console.tell(f"started a local Ray: {describe(ray.cluster_resources())}")
    else:
        console.tell(
            f"joined {address}: {describe(ray.cluster_resources())} on {len(Nodes.of_cluster().free)} node(s)"
            + (f" (ray_init's {', '.join(ignored)} ignored: a joined cluster has its own)" if ignored else "")
        )


def joined() -> bool:
    """Did ensure_ray join a cluster (rather than start one, or find this process already connected)?"""
    import ray

    return bool(_JOINED) and ray.is_initialized()


def reachable(address: str, named: str = "RAY_ADDRESS") -> None:
    """Stop within seconds, naming the address (and where it was `named`) and what to do, when nothing
    answers there ("auto": the address a running Ray wrote in <tmp>/ray/ray_current_cluster)."""
    target = _current_cluster() if address == "auto" else address
    if target is None:
        raise ConnectionError(
            "address auto: no running Ray found (no ray_current_cluster file); start one with "
            "`ray start --head`, or leave the address out to start a local Ray"
        )
    host, _, port = target.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=JOIN_TIMEOUT_S):
            return
    except (OSError, ValueError) as exc:
        raise ConnectionError(
            f"no Ray answers at {target} ({named}"
            f"{'; found in ' + _current_cluster_file() if address == 'auto' else ''}): {exc}. Start that cluster, "
            "or unset RAY_ADDRESS (and ray_init.address) to start a local Ray"
        ) from None


def _current_cluster_file() -> str:
    from ray._common.utils import get_ray_address_file

    return get_ray_address_file(None)  # <RAY_TMPDIR or /tmp>/ray/ray_current_cluster


def _current_cluster() -> str | None:
    try:
        with open(_current_cluster_file()) as f:
            return f.read().strip() or None
    except OSError:
        return None


def describe(resources: dict) -> str:
    """ "8 CPUs, 4 GPUs" (and custom resources), for the console."""

    def num(v: float) -> str:
        return f"{v:g}"

    shown = [f"{num(resources.get('CPU', 0))} CPUs"] + (
        [f"{num(resources['GPU'])} GPUs"] if resources.get("GPU") else []
    )
    custom = sorted(
        k
        for k in resources
        if k not in ("CPU", "GPU", "memory", "object_store_memory") and not k.startswith(("node:", "accelerator_type:"))
    )
    return ", ".join(shown + [f"{num(resources[k])} {k}" for k in custom])


# ---- resources per node -------------------------------------------------------------------------------
@dataclass
class Nodes:
    """Free resources per node (id -> {resource: amount}), as the sweep's scheduler books them: the
    alive nodes' totals less what the judges it started reserved."""

    free: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def of_cluster(cls) -> Nodes:
        import ray

        return cls({n["NodeID"]: dict(n["Resources"]) for n in ray.nodes() if n.get("Alive")})

    def copy(self) -> Nodes:
        return Nodes({n: dict(r) for n, r in self.free.items()})

    def place(self, bundles: list[dict[str, float]]) -> str | None:
        """The first node that holds all of one actor's bundles (STRICT_PACK), or None."""
        need = merged(bundles)
        return next((node for node, have in self.free.items() if _fits(need, have)), None)

    def reserve(self, bundles: list[dict[str, float]], count: int) -> list[tuple[str, dict]] | None:
        """Book `count` actors, each on one node (first fit); None, booking nothing, if they do not fit."""
        trial, need, booked = self.copy(), merged(bundles), []
        for _ in range(count):
            node = trial.place(bundles)
            if node is None:
                return None
            trial.take(node, need)
            booked.append((node, need))
        self.free = trial.free
        return booked

    def take(self, node: str, need: dict[str, float]) -> None:
        for k, v in need.items():
            self.free[node][k] = self.free[node].get(k, 0) - v

    def count(self, bundles: list[dict[str, float]]) -> int:
        """How many such actors fit, each on one node (an actor that asks for nothing: one per node)."""
        need = {k: v for k, v in merged(bundles).items() if v > 0}
        if not need:
            return len(self.free)
        return sum(int(min(have.get(k, 0) / v for k, v in need.items()) + 1e-9) for have in self.free.values())


def merged(bundles: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for b in bundles:
        for k, v in b.items():
            out[k] = out.get(k, 0) + v
    return out


def _fits(need: dict[str, float], have: dict[str, float]) -> bool:
    return all(have.get(k, 0) + 1e-9 >= v for k, v in need.items())


def pool_bounds(spec, nodes: Nodes | None = None) -> tuple[int, int]:
    """(min, max) actors of a judge: its `concurrency`, with auto's max = as many as the nodes hold
    (default: the running Ray's alive nodes; at least min: Ray Data waits for them)."""
    low, high = spec.pool
    if high is None:
        high = (nodes or Nodes.of_cluster()).count(spec.actor_bundles)
    return low, max(low, high)


# ---- tensor-parallel engines: one placement group per actor --------------------------------------------
_GROUPS: dict[str, list] = {}  # judge name -> the placement groups its actors were given (removed after it)


def strict_pack(judge: str, bundles: list[dict[str, float]]) -> dict:
    """Ray remote args placing one engine actor in a new STRICT_PACK placement group (all its GPUs on one
    node); the engine's workers (vLLM's Ray executor) land in the same group. Called by Ray Data in the
    driver for each actor it starts."""
    from ray.util.placement_group import placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    group = placement_group(bundles, strategy="STRICT_PACK", name="")
    _GROUPS.setdefault(judge, []).append(group)
    return {"scheduling_strategy": PlacementGroupSchedulingStrategy(group, placement_group_capture_child_tasks=True)}


def release_groups(judge: str) -> None:
    """Remove a finished judge's placement groups: a group outlives its actor and would hold its GPUs."""
    groups = _GROUPS.pop(judge, [])
    if groups:
        from ray.util.placement_group import remove_placement_group

        for group in groups:
            remove_placement_group(group)
