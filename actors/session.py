"""The session actor: one Ray actor per conversation, a thin shell over the asyncio engine.

Everything that matters lives in :mod:`actors.conversation`; this module only adapts it to Ray.
Tool calls have side effects, so the actor never restarts and its calls are never retried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import ray
from pydantic import BaseModel, ConfigDict

from actors.conversation.agent import AgentConfig
from actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from actors.conversation.engine import Conversation
from actors.conversation.events import ConversationEvent
from actors.conversation.live import LiveConversation, LiveSessionRequest
from actors.conversation.player import ScenarioPlayer
from actors.conversation.result import SessionResult
from actors.conversation.script import ScenarioScript
from actors.errors import SessionBusyError
from actors.ray_typing import ray_method
from actors.supervision.health import SessionHealth, measure_health
from actors.tools.executor import ToolBackend, ToolExecutor

__all__ = ["LiveSessionRequest", "SessionActor", "SessionRequest"]


class SessionRequest(BaseModel):
    """Everything a session actor needs to play one scenario."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    agent: AgentConfig
    script: ScenarioScript
    endpoint: ProviderEndpoint
    tuning: EngineTuning


async def play_scenario(
    request: SessionRequest,
    tools: ToolBackend,
    *,
    on_start: Callable[[Conversation], None] | None = None,
) -> SessionResult:
    """Run one scripted conversation to its end (plain asyncio; used by the actor and tests).

    ``on_start`` sees the conversation before it connects (the actor watches its progress).
    """
    conversation = Conversation(
        request.agent,
        request.endpoint,
        request.tuning,
        ToolExecutor(request.agent.tools, tools),
        session_id=request.session_id,
    )
    if on_start is not None:
        on_start(conversation)
    return await ScenarioPlayer(conversation, request.script, speed=request.tuning.speed).run()


class _Session:
    """Hosts one conversation at a time: a scripted scenario, or a live session.

    Constructed idle (constructors start nothing), so warm actors can wait in a pool.
    """

    def __init__(self) -> None:
        self._live: LiveConversation | None = None
        self._watched: Conversation | None = None  # what health() reports progress of
        self._events = 0

    async def run_scenario(self, request: SessionRequest, tools: ToolBackend) -> SessionResult:
        """Play ``request.script`` against the endpoint and return what happened."""
        return await play_scenario(request, tools, on_start=self._watch)

    async def open(self, request: LiveSessionRequest, tools: ToolBackend) -> None:
        """Connect a live session; returns once ``session.updated`` arrived."""
        if self._live is not None:
            raise SessionBusyError("this session actor already hosts a live session")
        self._live = LiveConversation(request, tools)
        self._watch(self._live.conversation)
        try:
            await self._live.start()
        except BaseException:
            await self._live.aclose()
            self._live = None
            raise

    @ray_method(enable_task_events=False)
    def send_audio(self, pcm: bytes, rate: int, channels: int) -> None:
        """Caller audio, PCM16. Send 100 ms or more per call: a Ray call costs ~1 ms."""
        self._require().send_audio(pcm, rate=rate, channels=channels)

    def send_text(self, text: str) -> None:
        """A typed user message."""
        self._require().send_text(text)

    def say(self, text: str, interruptible: bool = True) -> None:
        """Make the agent say ``text`` verbatim."""
        self._require().say(text, interruptible=interruptible)

    @ray_method(num_returns="streaming")
    async def events(self) -> AsyncIterator[ConversationEvent]:
        """The live session's events, as a Ray streaming generator, until it closes."""
        async for event in self._require().events():
            yield event

    async def close(self) -> SessionResult:
        """End the live session and return what it did (idempotent while it is held)."""
        live = self._require()
        result = await live.aclose()
        self._live = None
        return result

    def ping(self) -> str:
        """Liveness probe."""
        return "ok"

    # Its own concurrency group: answers while the conversation keeps the default one busy.
    @ray_method(concurrency_group="health", enable_task_events=False)
    async def health(self) -> SessionHealth:
        """Progress (events seen + 100 ms units of audio sent), memory and node, for the
        supervisor's liveness checks, placement and recycling."""
        watched = self._watched
        audio = int(watched.user_audio_ms // 100) if watched is not None else 0
        return measure_health(self._events + audio)

    def _watch(self, conversation: Conversation) -> None:
        self._watched = conversation
        conversation.add_listener(self._count_event)

    def _count_event(self, event: ConversationEvent) -> None:
        self._events += 1

    def _require(self) -> LiveConversation:
        if self._live is None:
            raise SessionBusyError("no live session is open on this actor")
        return self._live


SessionActor: Any = ray.remote(
    num_cpus=0, max_restarts=0, max_task_retries=0, concurrency_groups={"health": 1}
)(_Session)
