"""The supervisor actor on a real Ray cluster: sessions, warm pool, liveness, 429s and drain."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import ray
from pydantic import SecretStr
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.script import ScenarioScript, TextTurn, UserTurn, WaitTurn
from voxray.actors.errors import CapacityError
from voxray.actors.session import SessionRequest
from voxray.actors.simulator.actor import SimulatorActor
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.faults import ConnectRefusal, FaultPlan
from voxray.actors.simulator.rules import BrainRule, BrainScript
from voxray.actors.supervision.models import SessionTicket
from voxray.actors.supervisor import SupervisorSettings, find_supervisor, get_supervisor
from voxray.actors.tools.settings import ToolPoolSettings

pytestmark = pytest.mark.ray

SPEED = 8.0
PONG = BrainScript(rules=[BrainRule(heard="ping", reply="Pong to you.")])


@dataclass
class Rig:
    supervisor: Any
    simulator: Any
    url: str
    namespace: str

    async def request(
        self,
        turns: tuple[UserTurn, ...] = (TextTurn(text="ping me"),),
        *,
        script: BrainScript = PONG,
        agent: AgentConfig | None = None,
        token: str | None = None,
    ) -> SessionRequest:
        token = token or await self.simulator.register.remote(script)
        return SessionRequest(
            session_id=f"sup-{uuid.uuid4().hex[:6]}",
            agent=agent or AgentConfig(),
            script=ScenarioScript(turns=turns),
            endpoint=ProviderEndpoint(url=self.url, api_key=SecretStr(token)),
            tuning=EngineTuning(speed=SPEED),
        )

    async def status(self) -> Any:
        return await self.supervisor.status.remote()


@contextlib.contextmanager
def _rig(settings: SupervisorSettings) -> Iterator[Rig]:
    namespace = f"sup-test-{uuid.uuid4().hex[:6]}"
    simulator = SimulatorActor.options(num_cpus=0).remote()
    supervisor = get_supervisor(settings, namespace)
    try:
        url = ray.get(simulator.start.remote(SimulatorConfig(speed=SPEED)))
        yield Rig(supervisor, simulator, url, namespace)
    finally:
        ray.get(supervisor.shutdown_tools.remote())
        ray.kill(supervisor)  # its warm pool and session actors die with it (it owns them)
        ray.get(simulator.stop.remote())
        ray.kill(simulator)


@pytest.fixture(scope="module")
def rig(ray_cluster: None) -> Iterator[Rig]:
    """One supervisor for the module: one warm actor per node, quick liveness and backoff."""
    with _rig(
        SupervisorSettings(
            max_sessions=4,
            tools=ToolPoolSettings(size=1),
            warm_per_node=1,
            stall_timeout_s=2.0,
            progress_check_s=0.25,
            stop_grace_s=2.0,
            rate_limit_backoff_s=0.05,
            rate_limit_backoff_max_s=0.2,
        )
    ) as shared:
        yield shared


async def test_sessions_run_and_failures_are_reported(rig: Rig) -> None:
    good = await rig.supervisor.run_session.remote(await rig.request())
    bad_request = await rig.request(token="wrong-token")
    bad = await rig.supervisor.run_session.remote(bad_request)

    assert good.status == "completed", good.error
    assert "pong" in good.agent_transcript.lower()
    assert bad.status == "failed" and "AuthenticationError" in (bad.error or "")

    status = await rig.status()
    assert (status.completed, status.failed, status.live_sessions) == (1, 1, 0)
    assert any(bad_request.session_id in line for line in status.recent_failures)
    assert not any("wrong-token" in line for line in status.recent_failures)
    # The same named actor is found, not created again.
    again = get_supervisor(SupervisorSettings(), rig.namespace)
    assert (await again.status.remote()).completed == 1
    assert find_supervisor(f"nobody-{uuid.uuid4().hex[:4]}") is None


async def test_a_warm_actor_is_handed_out_and_the_pool_refilled(rig: Rig) -> None:
    ready = await rig.supervisor.warm_up.remote(60.0)
    assert [node.warm_idle for node in ready.nodes if node.alive] == [1]
    result = await rig.supervisor.run_session.remote(await rig.request())
    assert result.status == "completed", result.error
    after = await rig.supervisor.warm_up.remote(60.0)
    assert after.warm_starts == ready.warm_starts + 1
    assert after.cold_starts == ready.cold_starts
    assert [node.warm_idle for node in after.nodes if node.alive] == [1]


async def test_an_actor_past_its_memory_ceiling_is_recycled(ray_cluster: None) -> None:
    # Every real actor holds far more than 1 MB of its own memory.
    settings = SupervisorSettings(
        tools=ToolPoolSettings(size=1), warm_per_node=0, recycle_above_mb=1.0
    )
    with _rig(settings) as rig:
        result = await rig.supervisor.run_session.remote(await rig.request())
        assert result.status == "completed", result.error
        status = await _until(rig, lambda status: status.recycled == 1)
        assert (status.cold_starts, status.live_sessions) == (1, 0)


async def _live_session(rig: Rig, session_id: str) -> Any:
    """The actor of a running session, once it runs."""
    async with asyncio.timeout(30):
        while True:
            for info in await rig.supervisor.sessions.remote():
                if info.session_id == session_id and info.attempt == 0:
                    return info
            await asyncio.sleep(0.02)


async def _until(rig: Rig, check: Callable[[Any], bool], timeout_s: float = 30) -> Any:
    """The supervisor's status, once ``check`` holds for it."""
    async with asyncio.timeout(timeout_s):
        while True:
            status = await rig.status()
            if check(status):
                return status
            await asyncio.sleep(0.01)


async def test_a_killed_session_is_seen_within_a_second_and_retried(rig: Rig) -> None:
    # 16 s of (silent) conversation at 8x: two seconds of wall time per attempt.
    request = await rig.request((TextTurn(text="ping me"), WaitTurn(wait_ms=16_000)))
    before = await rig.status()
    ref = rig.supervisor.run_session.remote(request, SessionTicket(job_id="kill", retries=1))
    info = await _live_session(rig, request.session_id)

    ray.kill(ray.get_actor(info.actor_name, namespace=rig.namespace))
    killed_at = time.monotonic()
    await _until(rig, lambda status: status.retried > before.retried, timeout_s=5)
    detection_s = time.monotonic() - killed_at

    result = await ref
    print(f"a killed session actor was noticed after {detection_s * 1000:.0f} ms")
    assert detection_s < 1.0, f"a dead session took {detection_s:.2f} s to notice"
    assert result.status == "completed", result.error
    status = await rig.status()
    assert status.lost == before.lost and status.live_sessions == 0
    assert any("lost, retrying" in line for line in status.recent_failures)


async def test_a_lost_session_without_retries_is_reported_lost(rig: Rig) -> None:
    request = await rig.request((WaitTurn(wait_ms=16_000),))
    ref = rig.supervisor.run_session.remote(request)
    info = await _live_session(rig, request.session_id)
    ray.kill(ray.get_actor(info.actor_name, namespace=rig.namespace))
    result = await ref
    assert result.status == "lost" and "SessionLostError" in (result.error or "")


async def test_a_session_without_progress_is_killed(rig: Rig) -> None:
    # Manual turns and a long wait: no audio goes up and no event comes back.
    request = await rig.request(
        (WaitTurn(wait_ms=240_000),), agent=AgentConfig(turn_detection=None)
    )
    started = time.monotonic()
    result = await rig.supervisor.run_session.remote(request)
    assert result.status == "lost"
    assert "no progress" in (result.error or "")
    assert time.monotonic() - started < 20  # far less than the 30 s the scenario would take


async def test_429_is_retried_with_backoff_and_slots_stay_correct(rig: Rig) -> None:
    refusing = PONG.model_copy(
        update={"faults": FaultPlan(refuse=ConnectRefusal(status=429, times=2))}
    )
    before = await rig.status()
    result = await rig.supervisor.run_session.remote(await rig.request(script=refusing))
    assert result.status == "completed", result.error
    status = await rig.status()
    assert status.rate_limited == before.rate_limited + 2
    assert status.live_sessions == 0 and status.waiting == 0
    assert all(quota.live_sessions == 0 for quota in status.quotas)


async def test_429_gives_up_after_the_configured_retries(rig: Rig) -> None:
    always = PONG.model_copy(update={"faults": FaultPlan(refuse=ConnectRefusal(status=429))})
    result = await rig.supervisor.run_session.remote(await rig.request(script=always))
    assert result.status == "failed" and (result.error or "").startswith("RateLimitedError")
    assert (await rig.status()).live_sessions == 0


async def test_drain_refuses_waiters_and_stops_live_sessions_cleanly(ray_cluster: None) -> None:
    settings = SupervisorSettings(
        max_sessions=1, tools=ToolPoolSettings(size=1), warm_per_node=0, stop_grace_s=2
    )
    with _rig(settings) as rig:
        # Both count against one key, whose cap is 1: the second waits.
        ticket = SessionTicket(job_id="drain", quota=SecretStr("one key"))
        long = await rig.request((WaitTurn(wait_ms=400_000),))
        live = rig.supervisor.run_session.remote(long, ticket)
        await _live_session(rig, long.session_id)
        waiting = rig.supervisor.run_session.remote(await rig.request(), ticket)
        await _until(rig, lambda status: status.waiting == 1)

        report = await rig.supervisor.drain.remote(0.5)

        assert (report.refused, report.stopped, report.killed) == (1, 1, 0)
        with pytest.raises(CapacityError, match="draining"):
            await waiting
        stopped = await live
        assert stopped.status == "lost" and "draining" in (stopped.error or "")
        status = await rig.status()
        assert (status.state, status.live_sessions) == ("drained", 0)
        with pytest.raises(CapacityError):
            await rig.supervisor.run_session.remote(await rig.request())
