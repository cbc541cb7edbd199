"""What a simulated session is given: the server's shared parts, its own setup, its outbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from voxray.actors.realtime.server_events import KnownServerEvent
from voxray.actors.simulator.brain import Brain
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.faults import FaultPlan
from voxray.actors.simulator.latency import ResponseLatency
from voxray.actors.simulator.resumption import ConversationStore
from voxray.actors.simulator.sip_line import SipLine
from voxray.actors.simulator.transcription import Transcriber
from voxray.actors.simulator.voice import VoiceBank

__all__ = ["Outbox", "ServerContext", "SessionSetup"]


@dataclass(frozen=True)
class ServerContext:
    """Shared by every session of one simulator."""

    config: SimulatorConfig
    voices: VoiceBank
    transcriber: Transcriber
    conversations: ConversationStore


@dataclass(frozen=True)
class SessionSetup:
    """What one accepted connection asked for (its query) and was granted (by its token)."""

    brain: Brain
    model: str
    reasoning_effort: Literal["high", "none"] | None = None
    conversation_id: str | None = None
    faults: tuple[tuple[FaultPlan, int], ...] = ()
    """Fault plans that apply, each with this connection's 1-based ordinal in its source."""
    call: SipLine | None = None
    """The SIP call this session attached to (``?call_id=``): its audio comes from the phone
    line and its responses are spoken to it, not over the socket."""

    @property
    def latency(self) -> ResponseLatency | None:
        """The script's response latency, when it sets one."""
        return self.brain.script.latency


class Outbox(Protocol):
    """Where a session's server events go (the connection's bounded send queue)."""

    async def send(self, event: KnownServerEvent) -> None:
        """Queue ``event`` (an ``event_id`` is assigned); blocks while the queue is full."""

    async def send_rendered(self, event_type: str, render: Callable[[str], str]) -> None:
        """Queue a pre-rendered event: ``render(event_id)`` returns its exact JSON text."""

    async def send_binary(self, event_type: str, data: bytes) -> None:
        """Queue a binary frame (output audio with ``transport: binary``)."""
