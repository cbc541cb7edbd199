"""The supervisor actor runs sessions in their own actors and reports how they ended."""

from __future__ import annotations

import uuid

import pytest
import ray
from pydantic import SecretStr

from actors.conversation.agent import AgentConfig
from actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from actors.conversation.script import ScenarioScript, TextTurn
from actors.session import SessionRequest
from actors.simulator.actor import SimulatorActor
from actors.simulator.config import SimulatorConfig
from actors.simulator.rules import BrainRule, BrainScript
from actors.supervisor import SupervisorSettings, get_supervisor

pytestmark = pytest.mark.ray


def _request(url: str, token: str) -> SessionRequest:
    return SessionRequest(
        session_id=f"sup-{uuid.uuid4().hex[:6]}",
        agent=AgentConfig(),
        script=ScenarioScript(turns=(TextTurn(text="ping me"),)),
        endpoint=ProviderEndpoint(url=url, api_key=SecretStr(token)),
        tuning=EngineTuning(speed=8.0),
    )


async def test_sessions_run_and_failures_are_reported(ray_cluster: None) -> None:
    namespace = f"sup-test-{uuid.uuid4().hex[:6]}"
    simulator = SimulatorActor.options(num_cpus=0).remote()
    supervisor = get_supervisor(SupervisorSettings(max_sessions=2, tool_runners=1), namespace)
    try:
        url = await simulator.start.remote(SimulatorConfig(speed=8.0))
        token = await simulator.register.remote(
            BrainScript(rules=[BrainRule(heard="ping", reply="Pong to you.")])
        )
        good, bad = await supervisor.run_session.remote(_request(url, token)), None
        bad_request = _request(url, "wrong-token")
        bad = await supervisor.run_session.remote(bad_request)

        assert good.status == "completed", good.error
        assert "pong" in good.agent_transcript.lower()
        assert bad.status == "failed" and "AuthenticationError" in (bad.error or "")

        status = await supervisor.status.remote()
        assert (status.completed, status.failed, status.live_sessions) == (1, 1, 0)
        assert any(bad_request.session_id in line for line in status.recent_failures)
        # The same named actor is found, not created again.
        again = get_supervisor(SupervisorSettings(), namespace)
        assert (await again.status.remote()).completed == 1
    finally:
        await supervisor.shutdown_tools.remote()
        ray.kill(supervisor)
        await simulator.stop.remote()
        ray.kill(simulator)
