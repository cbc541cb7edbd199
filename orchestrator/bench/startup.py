"""``voxray bench startup``: from submitting a session to ``session.updated``, warm vs cold.

Each sample asks the supervisor for a live session (``open_session``) and stops the clock when
the call returns, which is when the session actor has connected to the simulator, sent its one
``session.update`` and received ``session.updated``. Measured from the driver, so a Ray call to
the supervisor and one from it to the session actor are included, as a user would see them.

*Warm*: a supervisor with a warm pool; before each sample the pool is refilled, so every sample
is a hit. *Cold*: a supervisor without a warm pool; every sample starts a new actor process.
Sessions are opened one at a time (a latency figure, not a throughput one). Starts an embedded
Ray cluster when none is running in this process, and a simulator on loopback.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from pydantic import SecretStr
from voxray.bench.registry import Benchmark, BenchResult, Figure, percentile, register

if TYPE_CHECKING:
    from voxray.handles.simulator import SimulatorClient
    from voxray.handles.supervisor import SupervisorClient

__all__ = ["run"]

WARM_TARGET_P50_MS = 50.0
WARM_TARGET_P99_MS = 200.0


async def _sample(
    supervisor: SupervisorClient, simulator: SimulatorClient, warm: bool
) -> tuple[float, float]:
    """One open (driver-side ms, supervisor-side ms), closed again afterwards."""
    import time

    from voxray.actors.conversation.agent import AgentConfig
    from voxray.actors.conversation.live import LiveSessionRequest
    from voxray.actors.supervision.models import SessionTicket

    if warm:
        await supervisor.warm_up(120.0)
    request = LiveSessionRequest(
        session_id=f"bench-{uuid.uuid4().hex[:8]}",
        agent=AgentConfig(),
        endpoint=await simulator.aendpoint(),
    )
    ticket = SessionTicket(job_id="bench-startup", quota=SecretStr(f"sim:{simulator.url}"))
    started = time.perf_counter()
    lease = await supervisor.aopen_session(request, ticket)
    elapsed_ms = (time.perf_counter() - started) * 1000
    await supervisor.aclose_session(lease.lease_id)
    if warm and not lease.warm:
        raise RuntimeError("the warm pool was empty for a warm sample")
    return elapsed_ms, float(lease.open_ms)


async def _measure(warm_n: int, cold_n: int) -> dict[str, list[tuple[float, float]]]:
    from voxray.actors.simulator.config import SimulatorConfig
    from voxray.actors.supervisor import SupervisorSettings
    from voxray.actors.tools.settings import ToolPoolSettings
    from voxray.handles.simulator import SimulatorClient
    from voxray.handles.supervisor import SupervisorClient

    simulator = await SimulatorClient.astart(SimulatorConfig())
    samples: dict[str, list[tuple[float, float]]] = {}
    try:
        for kind, count, per_node in (("warm", warm_n, 2), ("cold", cold_n, 0)):
            namespace = f"voxray-bench-{kind}-{uuid.uuid4().hex[:6]}"
            settings = SupervisorSettings(tools=ToolPoolSettings(size=1), warm_per_node=per_node)
            supervisor = SupervisorClient.ensure(settings, namespace)
            try:
                await _sample(supervisor, simulator, warm=per_node > 0)  # not counted
                samples[kind] = [
                    await _sample(supervisor, simulator, warm=per_node > 0) for _ in range(count)
                ]
            finally:
                await supervisor.adrain(0.0)
    finally:
        await simulator.astop()
    return samples


def run(quick: bool) -> BenchResult:
    """Measure; starts (and stops) an embedded Ray cluster if none is connected."""
    import ray
    from voxray.cluster import connect_ray, disconnect_ray

    owns = connect_ray(None, namespace="voxray-bench") if not ray.is_initialized() else False
    try:
        samples = asyncio.run(_measure(warm_n=10 if quick else 50, cold_n=3 if quick else 12))
    finally:
        if owns:
            disconnect_ray()
    figures: list[Figure] = []
    for kind in ("warm", "cold"):
        driver = [ms for ms, _ in samples[kind]]
        p50, p99 = percentile(driver, 0.5), percentile(driver, 0.99)
        warm = kind == "warm"
        figures += [
            Figure(
                name=f"submit -> session.updated, {kind}, p50",
                value=p50,
                unit="ms",
                target=f"< {WARM_TARGET_P50_MS:g}" if warm else None,
                met=p50 < WARM_TARGET_P50_MS if warm else None,
            ),
            Figure(
                name=f"submit -> session.updated, {kind}, p99",
                value=p99,
                unit="ms",
                target=f"< {WARM_TARGET_P99_MS:g}" if warm else None,
                met=p99 < WARM_TARGET_P99_MS if warm else None,
            ),
        ]
    inside = [ms for ms, _ in samples["warm"]]
    supervisor_side = [ms for _, ms in samples["warm"]]
    notes = [
        f"{len(inside)} warm and {len(samples['cold'])} cold samples, one session at a time, "
        "against the simulator on loopback",
        f"warm, supervisor-side only (admission + hand-out + connect + session.updated): "
        f"p50 {percentile(supervisor_side, 0.5):.1f} ms",
    ]
    return BenchResult(
        name="startup",
        description="submit -> session.updated: warm pool vs cold actor",
        figures=figures,
        notes=notes,
    )


register(Benchmark("startup", "submit -> session.updated: warm pool vs cold actor", run))
