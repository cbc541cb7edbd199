"""Gateways on Ray: one detached gateway actor per node, found, watched and drained by name.

A gateway outlives the driver that deployed it (``voxray serve --detach``); ``voxray status``
finds it by name, ``voxray drain`` drains and removes it. With ``backend: sim`` a detached
simulator actor serves the agents' sessions, one scripted brain per agent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray
from pydantic import SecretStr
from ray.exceptions import RayTaskError
from voxray.actors.conversation.endpoint import ProviderEndpoint
from voxray.actors.errors import ConfigError
from voxray.actors.gateway.actor import (
    GATEWAY_PREFIX,
    GatewayActor,
    GatewayDrain,
    GatewayLaunch,
    GatewayStatus,
)
from voxray.actors.gateway.settings import GatewaySettings
from voxray.actors.sealed import seal
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.supervision.placement import affinity, read_nodes
from voxray.handles.simulator import SimulatorClient
from voxray.serve.agents import AgentFile
from voxray.settings import VoxraySettings

__all__ = [
    "GATEWAY_SIMULATOR",
    "Deployment",
    "deploy",
    "drain_gateways",
    "find_gateways",
    "gateway_statuses",
]

GATEWAY_SIMULATOR = "voxray-sim-for-gateways"  # not under GATEWAY_PREFIX
_START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Deployment:
    """The gateways started (one per node) and where their ingresses listen."""

    gateways: list[Any]
    lines: list[str]


def deploy(agents: AgentFile, settings: VoxraySettings, gateway: GatewaySettings) -> Deployment:
    """Start (or find) a gateway on every alive node, serving ``agents``.

    Raises:
        ConfigError: ``backend: xai`` without an API key, or the port cannot be listened on.
    """
    endpoints = _endpoints(agents, settings)
    first = endpoints[agents.agents[0].name]
    # Offline, every agent's simulator token counts against one cap named by the simulator.
    quota = first.api_key if agents.backend == "xai" else SecretStr(f"sim:{first.url}")
    launch = GatewayLaunch(
        settings=gateway,
        agents=agents.hosted(),
        endpoints=endpoints,
        tuning=settings.engine,
        tools=settings.supervisor.tools,
        namespace=settings.namespace,
        supervisor=settings.supervisor,
        quota=quota,
    )
    handles: list[Any] = []
    for node in read_nodes():
        if not node.alive:
            continue
        handles.append(
            GatewayActor.options(
                name=GATEWAY_PREFIX + node.node_id[:12],
                namespace=settings.namespace,
                lifetime="detached",
                get_if_exists=True,
                scheduling_strategy=affinity(node.node_id),
            ).remote()
        )
    # Sealed: the keys travel as object references this driver owns, and each gateway reads
    # them during start(), which this driver waits for (voxray.actors.sealed).
    sealed = seal(launch)
    try:
        started: list[list[str]] = ray.get(
            [handle.start.remote(sealed) for handle in handles], timeout=_START_TIMEOUT_S
        )
    except RayTaskError as error:
        for handle in handles:  # none is left half-started
            ray.kill(handle, no_restart=True)
        cause = error.cause
        if isinstance(cause, OSError):
            where = f"{gateway.host}:{gateway.port}"
            reason = cause.strerror or cause
            raise ConfigError(f"the gateway cannot listen on {where}: {reason}") from None
        raise ConfigError(f"the gateway did not start: {type(cause).__name__}: {cause}") from None
    return Deployment(handles, [line for lines in started for line in lines])


def find_gateways(namespace: str) -> list[Any]:
    """The gateway actors running in ``namespace``."""
    names = [
        entry["name"]
        for entry in ray.util.list_named_actors(all_namespaces=True)
        if entry["namespace"] == namespace and entry["name"].startswith(GATEWAY_PREFIX)
    ]
    handles = []
    for name in names:
        with contextlib.suppress(ValueError):  # it went away meanwhile
            handles.append(ray.get_actor(name, namespace=namespace))
    return handles


def gateway_statuses(gateways: list[Any]) -> list[GatewayStatus]:
    """Each gateway's status (a gateway that does not answer is left out)."""
    statuses: list[GatewayStatus] = []
    for handle in gateways:
        with contextlib.suppress(Exception):
            statuses.append(ray.get(handle.status.remote(), timeout=10))
    return statuses


def drain_gateways(
    gateways: list[Any],
    namespace: str,
    deadline_s: float | None,
    *,
    end_now: Callable[[], bool] | None = None,
) -> list[GatewayDrain]:
    """Drain every gateway at once (new callers refused, live calls to the deadline), then
    remove the gateways and their simulator.

    ``end_now`` is polled while live calls run: once it says so, they are ended at once (a
    second Ctrl-C).
    """
    pending = [handle.drain.remote(deadline_s) for handle in gateways]
    ended = False
    while True:
        _, waiting = ray.wait(pending, num_returns=len(pending), timeout=0.25)
        if not waiting:
            break
        if not ended and end_now is not None and end_now():
            ended = True
            for handle in gateways:  # a second drain with no deadline ends the live calls
                handle.drain.remote(0.0)
    drains: list[GatewayDrain] = ray.get(pending)
    for handle in gateways:
        with contextlib.suppress(Exception):
            ray.get(handle.stop.remote(), timeout=30)
        ray.kill(handle, no_restart=True)
    with contextlib.suppress(ValueError):
        ray.kill(ray.get_actor(GATEWAY_SIMULATOR, namespace=namespace), no_restart=True)
    return drains


def _endpoints(agents: AgentFile, settings: VoxraySettings) -> dict[str, ProviderEndpoint]:
    if agents.backend == "xai":
        endpoint = settings.xai_endpoint()
        return {entry.name: endpoint for entry in agents.agents}
    config = SimulatorConfig(host=settings.sim_host, speed=settings.sim_speed)
    simulator = SimulatorClient.start(
        config, name=GATEWAY_SIMULATOR, namespace=settings.namespace, detached=True
    )
    return {entry.name: simulator.endpoint(entry.sim) for entry in agents.agents}
