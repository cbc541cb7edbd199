"""The session actor: one Ray actor per conversation, a thin shell over the asyncio engine.

Everything that matters lives in :mod:`actors.conversation`; this module only adapts it to Ray.
Tool calls have side effects, so the actor never restarts and its calls are never retried.
"""

from __future__ import annotations

from typing import Any

import ray
from pydantic import BaseModel, ConfigDict

from actors.conversation.agent import AgentConfig
from actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from actors.conversation.engine import Conversation
from actors.conversation.player import ScenarioPlayer
from actors.conversation.result import SessionResult
from actors.conversation.script import ScenarioScript
from actors.tools.executor import ToolBackend, ToolExecutor

__all__ = ["SessionActor", "SessionRequest"]


class SessionRequest(BaseModel):
    """Everything a session actor needs to play one scenario."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    agent: AgentConfig
    script: ScenarioScript
    endpoint: ProviderEndpoint
    tuning: EngineTuning


async def play_scenario(request: SessionRequest, tools: ToolBackend) -> SessionResult:
    """Run one scripted conversation to its end (plain asyncio; used by the actor and tests)."""
    conversation = Conversation(
        request.agent,
        request.endpoint,
        request.tuning,
        ToolExecutor(request.agent.tools, tools),
        session_id=request.session_id,
    )
    return await ScenarioPlayer(conversation, request.script, speed=request.tuning.speed).run()


class _Session:
    """Hosts one conversation. Constructed idle; ``run_scenario`` does the work."""

    async def run_scenario(self, request: SessionRequest, tools: ToolBackend) -> SessionResult:
        """Play ``request.script`` against the endpoint and return what happened."""
        return await play_scenario(request, tools)

    def ping(self) -> str:
        """Liveness probe."""
        return "ok"


SessionActor: Any = ray.remote(num_cpus=0, max_restarts=0, max_task_retries=0)(_Session)
