"""Placement: which node hosts the next session.

A session goes to the live node with the fewest live sessions, ties broken by the most free
memory, among nodes below their per-node maximum and above the free-memory floor. The figures
come from two places: the node list (:func:`read_nodes`, Ray's GCS, re-read every few seconds)
and memory reports of the session actors themselves (each knows its node's free memory).

Session actors are pinned with a *hard* ``NodeAffinitySchedulingStrategy``. Soft affinity is
what the design asked for, but Ray 2.60 does not honour it for ``num_cpus=0`` actors: measured
on a three-node ``cluster_utils`` cluster, only 2 of 6 soft-pinned actors landed on their target
(hard: 6 of 6), so placement would be fiction. A hard pin cannot wedge scheduling either: when
the node is gone, Ray fails the creation at once (``ActorUnschedulableError``, 10 ms; 1.2 s
while the node's death is being noticed), and the supervisor places the session on another
node without counting it as a retry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["NodeInfo", "NodeLoad", "Placement", "affinity", "read_nodes"]

_MB = 1024 * 1024


@dataclass(frozen=True)
class NodeInfo:
    """One node as the GCS describes it."""

    node_id: str
    address: str
    alive: bool
    cpus: float
    is_head: bool


@dataclass
class NodeLoad:
    """What placement knows of one node."""

    info: NodeInfo
    live: int = 0
    available_mb: float | None = None  # last report from an actor on the node


class Placement:
    """Spreads sessions over live nodes within per-node maxima.

    Args:
        max_per_node: live sessions a node may host.
        min_available_mb: a node reported to have less free memory gets no new session.
    """

    def __init__(self, *, max_per_node: int, min_available_mb: float) -> None:
        self._max = max_per_node
        self._min_available_mb = min_available_mb
        self._nodes: dict[str, NodeLoad] = {}

    @property
    def max_per_node(self) -> int:
        """The per-node maximum."""
        return self._max

    def update_nodes(self, nodes: Iterable[NodeInfo]) -> tuple[list[str], list[str]]:
        """Take a fresh node list; returns (node ids that joined, node ids that were lost)."""
        seen = {node.node_id: node for node in nodes}
        joined, lost = [], []
        for node_id, info in seen.items():
            load = self._nodes.get(node_id)
            if load is None:
                self._nodes[node_id] = NodeLoad(info)
                if info.alive:
                    joined.append(node_id)
            else:
                if load.info.alive and not info.alive:
                    lost.append(node_id)
                elif info.alive and not load.info.alive:
                    joined.append(node_id)
                load.info = info
        for node_id, load in list(self._nodes.items()):
            if node_id not in seen:
                if load.info.alive:
                    lost.append(node_id)
                if load.live == 0:
                    del self._nodes[node_id]
                else:  # keep counting its sessions until they are released
                    self.mark_lost(node_id)
        return joined, lost

    def mark_lost(self, node_id: str) -> None:
        """A node is known to be gone before the node list says so."""
        load = self._nodes.get(node_id)
        if load is not None and load.info.alive:
            info = load.info
            load.info = NodeInfo(info.node_id, info.address, False, info.cpus, info.is_head)

    def report_memory(self, node_id: str, available_mb: float) -> None:
        """An actor on ``node_id`` measured its node's free memory."""
        load = self._nodes.get(node_id)
        if load is not None:
            load.available_mb = available_mb

    def reserve(self, avoid: str | None = None) -> str | None:
        """Pick a node and count one more session on it; None when no node has room.

        ``avoid`` is picked only when no other node has room.
        """
        candidates = [
            load
            for load in self._nodes.values()
            if load.info.alive
            and load.live < self._max
            and (load.available_mb is None or load.available_mb >= self._min_available_mb)
        ]
        if not candidates:
            return None
        if len(candidates) > 1:
            candidates = [load for load in candidates if load.info.node_id != avoid]
        best = min(
            candidates,
            key=lambda load: (load.live, -(load.available_mb or 0.0), load.info.node_id),
        )
        best.live += 1
        return best.info.node_id

    def release(self, node_id: str) -> None:
        """A session on ``node_id`` ended."""
        load = self._nodes.get(node_id)
        if load is None:
            return
        load.live = max(0, load.live - 1)

    def alive_nodes(self) -> list[str]:
        """Ids of the nodes that can host sessions."""
        return [node_id for node_id, load in self._nodes.items() if load.info.alive]

    def is_alive(self, node_id: str) -> bool:
        """Whether ``node_id`` is known and alive."""
        load = self._nodes.get(node_id)
        return load is not None and load.info.alive

    def loads(self) -> list[NodeLoad]:
        """Every known node, head first, then by id."""
        return sorted(self._nodes.values(), key=lambda n: (not n.info.is_head, n.info.node_id))


def read_nodes() -> list[NodeInfo]:
    """The cluster's nodes from the GCS (``ray.nodes()``: no dashboard needed)."""
    import ray

    nodes: list[NodeInfo] = []
    for entry in ray.nodes():
        resources: dict[str, Any] = entry.get("Resources") or {}
        nodes.append(
            NodeInfo(
                node_id=str(entry["NodeID"]),
                address=str(entry.get("NodeManagerAddress", "")),
                alive=bool(entry.get("Alive", False)),
                cpus=float(resources.get("CPU", 0.0)),
                is_head="node:__internal_head__" in resources,
            )
        )
    return nodes


def affinity(node_id: str) -> Any:
    """Run on ``node_id``; fail at once (never wait) if that node no longer exists."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)


def megabytes(n_bytes: float) -> float:
    """Bytes to MiB."""
    return n_bytes / _MB
