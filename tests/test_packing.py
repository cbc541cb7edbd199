"""Packed hosts (``conversations_per_actor`` > 1): conversations on one actor never share a fate."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import ray
from pydantic import SecretStr
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.script import ScenarioScript, TextTurn, UserTurn, WaitTurn
from voxray.actors.session import SessionRequest
from voxray.actors.simulator.actor import SimulatorActor
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.faults import FaultPlan, StallFault
from voxray.actors.simulator.rules import BrainRule, BrainScript
from voxray.actors.supervision.models import SessionTicket
from voxray.actors.supervisor import SupervisorSettings, get_supervisor
from voxray.actors.tools.settings import ToolPoolSettings

pytestmark = pytest.mark.ray

SPEED = 8.0
PONG = BrainScript(rules=[BrainRule(heard="ping", reply="Pong to you.")])


@pytest.fixture(scope="module")
def packed(ray_cluster: None) -> Iterator[tuple[Any, Any, str]]:
    """A supervisor packing 3 conversations per actor, quick stall detection; a simulator."""
    namespace = f"pack-test-{uuid.uuid4().hex[:6]}"
    simulator = SimulatorActor.options(num_cpus=0).remote()
    settings = SupervisorSettings(
        conversations_per_actor=3,
        tools=ToolPoolSettings(size=1),
        warm_per_node=1,
        stall_timeout_s=2.0,
        progress_check_s=0.25,
        stop_grace_s=2.0,
    )
    supervisor = get_supervisor(settings, namespace)
    try:
        url = ray.get(simulator.start.remote(SimulatorConfig(speed=SPEED)))
        yield supervisor, simulator, url
    finally:
        ray.get(supervisor.shutdown_tools.remote())
        ray.kill(supervisor)
        ray.get(simulator.stop.remote())
        ray.kill(simulator)


async def _request(
    simulator: Any,
    url: str,
    turns: tuple[UserTurn, ...],
    *,
    script: BrainScript = PONG,
    agent: AgentConfig | None = None,
    tuning: EngineTuning | None = None,
) -> SessionRequest:
    token = await simulator.register.remote(script)
    return SessionRequest(
        session_id=f"pack-{uuid.uuid4().hex[:6]}",
        agent=agent or AgentConfig(),
        script=ScenarioScript(turns=turns),
        endpoint=ProviderEndpoint(url=url, api_key=SecretStr(token)),
        tuning=tuning or EngineTuning(speed=SPEED),
    )


async def test_one_stalled_and_one_crashing_conversation_leave_their_host_mate_alone(
    packed: tuple[Any, Any, str],
) -> None:
    supervisor, simulator, url = packed
    # The provider goes silent forever after its first audio; turns are manual, so no
    # microphone audio goes up either: this conversation makes no progress at all.
    stalling = PONG.model_copy(
        update={
            "faults": FaultPlan(
                actions=(StallFault(seconds=3600, on_event="response.output_audio.delta"),)
            )
        }
    )
    stalled = await _request(
        simulator,
        url,
        (TextTurn(text="ping me"),),
        script=stalling,
        agent=AgentConfig(turn_detection=None),
    )
    # A bad tuning that passed validation: the engine raises while building its recorder.
    crashing = await _request(
        simulator,
        url,
        (WaitTurn(wait_ms=500), TextTurn(text="ping me")),
        tuning=EngineTuning(speed=SPEED, recording_rate=0),
    )
    # Outlives both others: it must run on, untouched, to a normal end.
    healthy = await _request(
        simulator,
        url,
        (TextTurn(text="ping me"), WaitTurn(wait_ms=30_000), TextTurn(text="ping again")),
    )
    refs = [supervisor.run_session.remote(request) for request in (stalled, crashing, healthy)]
    sessions: list[Any] = []
    for _ in range(400):  # wait for all three to be placed (observable state, no fixed sleep)
        sessions = await supervisor.sessions.remote()
        if len(sessions) == 3:
            break
        await asyncio.sleep(0.01)
    assert len({info.actor_name for info in sessions}) == 1, "all three share one host"

    stalled_result, crashing_result, healthy_result = await asyncio.gather(*refs)

    assert stalled_result.status == "lost"
    assert "no progress" in (stalled_result.error or "")
    assert crashing_result.status == "failed", crashing_result
    assert crashing_result.error
    assert healthy_result.status == "completed", healthy_result.error
    assert len(healthy_result.turns) == 3
    assert "pong" in healthy_result.agent_transcript.lower()
    status = await supervisor.status.remote()
    assert (status.completed, status.failed, status.lost) == (1, 1, 1)
    assert status.live_sessions == 0


async def test_a_conversation_stopped_while_its_host_starts_never_begins(
    packed: tuple[Any, Any, str],
) -> None:
    _, simulator, url = packed
    # No warm hosts: the conversation waits for a host to start, and its job is stopped then.
    settings = SupervisorSettings(
        conversations_per_actor=3, tools=ToolPoolSettings(size=1), warm_per_node=0
    )
    supervisor = get_supervisor(settings, f"pack-stop-{uuid.uuid4().hex[:6]}")
    try:
        request = await _request(simulator, url, (TextTurn(text="ping me"),))
        ref = supervisor.run_session.remote(request, SessionTicket(job_id="doomed"))
        await supervisor.stop_job.remote("doomed")
        result = await ref
        status = await supervisor.status.remote()
    finally:
        await supervisor.shutdown_tools.remote()
        ray.kill(supervisor)
    assert result.status == "lost"
    assert "stopped by its job" in (result.error or "")
    assert not result.turns, "it never started"
    assert status.live_sessions == 0
