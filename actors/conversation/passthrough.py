"""Telephone audio passed through untouched, and what the caller's player reports it played.

A phone ingress (Twilio Media Streams) already has audio in the session's wire format (G.711
μ-law at 8 kHz): :class:`WireAudioGather` cuts it into append-sized base64 payloads with no
decode, resample or re-encode. The agent's audio goes back as the wire deltas themselves (see
``Conversation.add_wire_audio_listener``).

The caller's player, not the engine's simulated timeline, knows what was heard: a
:class:`PlaybackProbe` reports it (Twilio's acknowledged marks), and barge-in truncates there.
"""

from __future__ import annotations

import base64
from typing import Protocol

__all__ = ["PlaybackProbe", "WireAudioGather"]


class PlaybackProbe(Protocol):
    """What the caller's player really played (set with ``Conversation.report_playback``)."""

    def playing(self) -> bool:
        """Whether agent audio sent to the caller may still be unplayed."""
        ...

    def heard(self) -> tuple[str | None, int]:
        """The item being heard and how many ms of it the caller heard (acknowledged)."""
        ...


class WireAudioGather:
    """Bytes already in the wire format -> base64 payloads of ``chunk_bytes`` each."""

    def __init__(self, chunk_bytes: int) -> None:
        self.chunk_bytes = chunk_bytes
        self._pending = bytearray()

    def push(self, data: bytes) -> list[str]:
        """Take ``data``; returns the payloads of every complete chunk."""
        self._pending += data
        payloads: list[str] = []
        while len(self._pending) >= self.chunk_bytes:
            chunk = bytes(self._pending[: self.chunk_bytes])
            del self._pending[: self.chunk_bytes]
            payloads.append(base64.b64encode(chunk).decode("ascii"))
        return payloads
