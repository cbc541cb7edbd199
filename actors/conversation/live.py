"""A live conversation: audio and text in from a caller, a typed event stream out.

What a gateway or a Python caller drives (``Fleet.open_session``), as opposed to a scripted
scenario. Events go through a bounded buffer; when the consumer falls behind, the oldest events
are dropped and counted (``statistics().dropped_events``) rather than growing without bound.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from voxray.actors.audio.pcm import pcm16_from_bytes
from voxray.actors.cassette.recorder import CassetteRecorder, save_recording
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.collector import SessionCollector
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.engine import Conversation
from voxray.actors.conversation.events import ConversationEvent
from voxray.actors.conversation.result import SessionResult
from voxray.actors.tools.executor import ToolBackend, ToolExecutor

__all__ = ["LiveConversation", "LiveSessionRequest", "LiveStatistics"]


class LiveSessionRequest(BaseModel):
    """Everything needed to open a live session."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    agent: AgentConfig
    endpoint: ProviderEndpoint
    tuning: EngineTuning = Field(default_factory=EngineTuning)
    record: bool = Field(False, description="Keep a stereo recording (memory grows with time).")
    event_buffer: int = Field(4096, ge=16, description="Events kept for a slow consumer.")
    cassette_dir: str | None = Field(
        None,
        description="Record every frame into a cassette written here when the session closes "
        "(scrubbed of the key; see voxray.actors.cassette). Memory grows with time.",
    )


@dataclass(frozen=True)
class LiveStatistics:
    """Counters of a live session."""

    buffered_events: int
    dropped_events: int
    dropped_audio_chunks: int


class LiveConversation:
    """One live conversation and its event stream."""

    def __init__(self, request: LiveSessionRequest, tools: ToolBackend) -> None:
        self.request = request
        self._recorder = CassetteRecorder() if request.cassette_dir is not None else None
        self.conversation = Conversation(
            request.agent,
            request.endpoint,
            request.tuning,
            ToolExecutor(request.agent.tools, tools),
            session_id=request.session_id,
            frame_tap=self._recorder,
        )
        self._collector = SessionCollector(self.conversation)
        self._buffer: deque[ConversationEvent] = deque()
        self._capacity = request.event_buffer
        self._dropped = 0
        self._wake = asyncio.Event()
        self._closed = False
        self._result: SessionResult | None = None
        self.conversation.add_listener(self._on_event)

    async def start(self) -> None:
        """Connect and wait until the session is configured."""
        await self.conversation.start()

    def send_audio(self, pcm: bytes | NDArray[np.int16], *, rate: int, channels: int) -> None:
        """Caller audio (PCM16, any rate, ``channels`` stated explicitly)."""
        samples = pcm16_from_bytes(pcm) if isinstance(pcm, bytes | bytearray) else pcm
        self.conversation.send_audio(samples, rate=rate, channels=channels)

    def send_text(self, text: str) -> None:
        """A typed user message, answered by voice."""
        self.conversation.send_text(text)

    def say(self, text: str, *, interruptible: bool = True) -> None:
        """Make the agent say ``text`` verbatim."""
        self.conversation.say(text, interruptible=interruptible)

    async def events(self) -> AsyncIterator[ConversationEvent]:
        """Every event, in order, until the session closes or fails."""
        while True:
            while self._buffer:
                yield self._buffer.popleft()
            if self._closed or self.conversation.failure is not None:
                return
            self._wake.clear()
            closed = asyncio.ensure_future(self.conversation.wait_closed())
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                done, _ = await asyncio.wait({closed, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                closed.cancel()
                woken.cancel()
            if closed in done:  # it ended on its own: it failed, or a SIP caller hung up
                self._closed = True

    def statistics(self) -> LiveStatistics:
        """Buffered and dropped events, dropped outbound audio."""
        return LiveStatistics(
            buffered_events=len(self._buffer),
            dropped_events=self._dropped,
            dropped_audio_chunks=self.conversation.dropped_audio_chunks,
        )

    async def aclose(self) -> SessionResult:
        """End the session (idempotent) and return what it did."""
        if self._result is None:
            await self.conversation.aclose()
            self._closed = True
            self._wake.set()
            # Off the event loop: a host may be running other conversations.
            self._result = await asyncio.to_thread(
                self._collector.result, self.conversation.failure, record=self.request.record
            )
            request = self.request
            if self._recorder is not None and request.cassette_dir is not None:
                recorder, self._recorder = self._recorder, None  # written once
                await save_recording(
                    recorder,
                    Path(request.cassette_dir),
                    api_key=request.endpoint.api_key.get_secret_value(),
                    speed=request.tuning.speed,
                )
        return self._result

    def _on_event(self, event: ConversationEvent) -> None:
        if len(self._buffer) >= self._capacity:
            self._buffer.popleft()
            self._dropped += 1
        self._buffer.append(event)
        self._wake.set()
