"""The session actor: a thin Ray shell over the asyncio engine, hosting one or more conversations.

Everything that matters lives in :mod:`voxray.actors.conversation`; this module only adapts it to
Ray.
Tool calls have side effects, so the actor never restarts and its calls are never retried.

With ``conversations_per_actor`` > 1 the supervisor sends several ``run_scenario`` calls to one
actor (a *host*): each runs as its own asyncio task with its own websocket, tools and metrics,
and, given ``stall_timeout_s``, its own watchdog (:mod:`voxray.actors.supervision.stall_guard`), so
a
stalled or failing conversation ends alone. Live sessions stay one per actor.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import ray
from pydantic import BaseModel, ConfigDict
from voxray.actors.cassette.recorder import CassetteRecorder, save_recording
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.caller_call import play_call
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.engine import Conversation
from voxray.actors.conversation.events import ConversationEvent
from voxray.actors.conversation.live import LiveConversation, LiveSessionRequest
from voxray.actors.conversation.player import ScenarioPlayer
from voxray.actors.conversation.result import SessionResult
from voxray.actors.conversation.script import ScenarioScript
from voxray.actors.errors import SessionBusyError
from voxray.actors.heap import freeze_startup_heap
from voxray.actors.priority import run_at_normal_priority
from voxray.actors.ray_typing import ray_method
from voxray.actors.sealed import unseal
from voxray.actors.supervision.health import SessionHealth, measure_health
from voxray.actors.supervision.stall_guard import run_guarded
from voxray.actors.tools.executor import ToolBackend, ToolExecutor

__all__ = ["LiveSessionRequest", "SessionActor", "SessionRequest"]

_MEMORY_MAX_AGE_S = 1.0


class SessionRequest(BaseModel):
    """Everything a session actor needs to play one scenario. Its keys cross Ray calls sealed
    (:mod:`voxray.actors.sealed`): the supervisor client seals them, the actor unseals them."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    agent: AgentConfig
    script: ScenarioScript
    endpoint: ProviderEndpoint
    tuning: EngineTuning
    record_dir: str | None = None
    """Record the session into a cassette in this directory (``eval --record``); the actor
    writes it, scrubbed, so the frames never travel through Ray."""
    caller_endpoint: ProviderEndpoint | None = None
    """Where the simulated caller's own session connects (``script.caller``); default: the
    agent's endpoint."""


async def play_scenario(
    request: SessionRequest,
    tools: ToolBackend,
    *,
    on_start: Callable[[Conversation], None] | None = None,
) -> SessionResult:
    """Run one scripted conversation to its end (plain asyncio; used by the actor and tests).

    ``on_start`` sees the conversation before it connects (the actor watches its progress).
    With ``request.record_dir`` the session is recorded into a cassette there; a cassette that
    cannot be written safely fails the run (:class:`~voxray.actors.cassette.CassetteError`).
    """
    if request.script.caller is not None:
        # A simulated caller plays the user: two sessions bridged (recorded: two cassettes).
        return await play_call(
            session_id=request.session_id,
            agent=request.agent,
            script=request.script,
            endpoint=request.endpoint,
            caller_endpoint=request.caller_endpoint or request.endpoint,
            tuning=request.tuning,
            tools=tools,
            on_start=on_start,
            record_dir=request.record_dir,
        )
    recorder = CassetteRecorder() if request.record_dir is not None else None
    conversation = Conversation(
        request.agent,
        request.endpoint,
        request.tuning,
        ToolExecutor(request.agent.tools, tools),
        session_id=request.session_id,
        frame_tap=recorder,
    )
    if on_start is not None:
        on_start(conversation)
    result = await ScenarioPlayer(conversation, request.script, speed=request.tuning.speed).run()
    if recorder is not None and request.record_dir is not None:
        await save_recording(
            recorder,
            Path(request.record_dir),
            api_key=request.endpoint.api_key.get_secret_value(),
            speed=request.tuning.speed,
        )
    return result


class _Progress:
    """One conversation's progress counter: events seen + 100 ms units of audio sent."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.events = 0

    def count(self, event: ConversationEvent) -> None:
        self.events += 1

    def value(self) -> int:
        return self.events + int(self.conversation.user_audio_ms // 100)


class _Session:
    """Hosts scripted conversations (one, or several when packed) or one live session.

    Constructed idle (constructors start nothing), so warm actors can wait in a pool.
    """

    def __init__(self) -> None:
        run_at_normal_priority()  # real-time audio, not background work (voxray.actors.priority)
        freeze_startup_heap()  # imports are done: keep GC pauses off the conversations' loop
        self._live: LiveConversation | None = None
        self._watched: dict[str, _Progress] = {}  # what health() reports progress of
        self._finished = 0  # progress of conversations that ended, so the sum never shrinks
        self._measured: tuple[float, SessionHealth] | None = None

    async def run_scenario(
        self,
        request: SessionRequest,
        tools: ToolBackend,
        stall_timeout_s: float | None = None,
        check_every_s: float = 1.0,
    ) -> SessionResult:
        """Play ``request.script`` against the endpoint and return what happened.

        With ``stall_timeout_s`` (packed hosts) this conversation alone is cancelled and
        reported ``lost`` once its own progress stays still that long. The request's keys
        arrive sealed (:mod:`voxray.actors.sealed`) and are fetched first.
        """
        request = await unseal(request, what=f"the API key of session {request.session_id}")
        key = f"{request.session_id}-{id(request)}"
        try:
            work = play_scenario(
                request, tools, on_start=lambda conversation: self._watch(key, conversation)
            )
            if stall_timeout_s is None:
                return await work
            return await run_guarded(
                work,
                lambda: self._progress_of(key),
                stall_timeout_s=stall_timeout_s,
                check_every_s=check_every_s,
                name=f"session-{request.session_id}-guarded",
            )
        finally:
            self._unwatch(key)

    async def open(self, request: LiveSessionRequest, tools: ToolBackend) -> None:
        """Connect a live session; returns once ``session.updated`` arrived."""
        if self._live is not None:
            raise SessionBusyError("this session actor already hosts a live session")
        request = await unseal(request, what=f"the API key of session {request.session_id}")
        if self._live is not None:  # another open() got in while the key was fetched
            raise SessionBusyError("this session actor already hosts a live session")
        self._live = LiveConversation(request, tools)
        self._watch("live", self._live.conversation)
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
        self._unwatch("live")
        return result

    def ping(self) -> str:
        """Liveness probe."""
        return "ok"

    # Its own concurrency group: answers while the conversation keeps the default one busy.
    @ray_method(concurrency_group="health", enable_task_events=False)
    async def health(self) -> SessionHealth:
        """Progress (events seen + 100 ms units of audio sent), memory and node, for the
        supervisor's liveness checks, placement and recycling."""
        # list(): the default group's loop runs in another thread and may change the dict.
        watched = list(self._watched.values())
        progress = self._finished + sum(watched_one.value() for watched_one in watched)
        now = time.monotonic()
        if self._measured is not None and now - self._measured[0] < _MEMORY_MAX_AGE_S:
            # A packed host is asked once per conversation per check: one measurement serves
            # every ask for a moment (progress is never reused).
            return self._measured[1].model_copy(update={"progress": progress})
        health = measure_health(progress)
        self._measured = (now, health)
        return health

    def _watch(self, key: str, conversation: Conversation) -> None:
        progress = _Progress(conversation)
        conversation.add_listener(progress.count)
        self._watched[key] = progress

    def _unwatch(self, key: str) -> None:
        progress = self._watched.pop(key, None)
        if progress is not None:
            self._finished += progress.value()

    def _progress_of(self, key: str) -> int:
        progress = self._watched.get(key)
        return progress.value() if progress is not None else 0

    def _require(self) -> LiveConversation:
        if self._live is None:
            raise SessionBusyError("no live session is open on this actor")
        return self._live


SessionActor: Any = ray.remote(
    num_cpus=0, max_restarts=0, max_task_retries=0, concurrency_groups={"health": 1}
)(_Session)
