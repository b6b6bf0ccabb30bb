"""What a Ray cluster's nodes hold: the free resources per node that decide which judges start now
(batch/schedule.py) and how large their pools grow, and one placement group per tensor-parallel actor.
Joining or starting Ray is ray_lifecycle.py.

    nodes = Nodes.of_cluster()            # {node id: resources} of the alive nodes
    nodes.place(spec.actor_bundles)       # the node one more actor fits on (all its bundles), or None
    pool_bounds(spec, nodes)              # (min, max) actors for Ray Data's ActorPoolStrategy
"""

from __future__ import annotations

from dataclasses import dataclass, field


# ---- what the console says about resources -----------------------------------------------------------
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
        import ray  # heavy: kept out of `judge --help`

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
    from ray.util.placement_group import placement_group  # heavy: kept out of `judge --help`
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy  # heavy: kept out of `judge --help`

    group = placement_group(bundles, strategy="STRICT_PACK", name="")
    _GROUPS.setdefault(judge, []).append(group)
    return {"scheduling_strategy": PlacementGroupSchedulingStrategy(group, placement_group_capture_child_tasks=True)}


def release_groups(judge: str) -> None:
    """Remove a finished judge's placement groups: a group outlives its actor and would hold its GPUs."""
    groups = _GROUPS.pop(judge, [])
    if groups:
        from ray.util.placement_group import remove_placement_group  # heavy: kept out of `judge --help`

        for group in groups:
            remove_placement_group(group)
