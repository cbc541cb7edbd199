"""What a client sent on one connection, kept so a test can assert on it.

Recording is off by default (``SimulatorConfig.record_frames``): it parses every text frame a
second time, which a density benchmark should not pay for. When on, every client frame is
kept in arrival order as a :class:`ClientFrame`: the decoded JSON event, except that the
``audio`` of ``input_audio_buffer.append`` is replaced by its decoded size (tests ask how much
audio arrived, not for the samples; :class:`~voxray.actors.simulator.input_tally.InputTally`
keeps a digest of those).

A log is written by the simulator's event loop and may be read from another thread (the pytest
plugin runs the simulator on its own thread): readers get snapshots (``frames`` copies the
list), and appending to a list is atomic in CPython.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["MAX_FRAMES", "ClientFrame", "FrameLog", "Truncation"]

MAX_FRAMES: Final = 100_000
"""Frames kept per connection; later ones are counted in ``FrameLog.overflow``, not kept, so a
test's counts stay true for what was kept (the first ones) and memory stays bounded."""

_APPEND: Final = "input_audio_buffer.append"


@dataclass(frozen=True)
class ClientFrame:
    """One frame the client sent.

    ``type`` is the event's ``type`` (``input_audio_buffer.append`` for a binary audio frame,
    None for a frame that is not a JSON object with a string ``type``); ``event`` the decoded
    object (``{}`` when it is not one; an append's ``audio`` is left out); ``audio_bytes`` the
    decoded audio size of an append; ``text`` the raw frame when it was not valid JSON;
    ``at_s`` seconds since the connection opened.
    """

    type: str | None
    event: dict[str, Any]
    at_s: float
    audio_bytes: int = 0
    binary: bool = False
    text: str | None = None


@dataclass(frozen=True)
class Truncation:
    """One ``conversation.item.truncate`` the client sent: where it cut the agent off."""

    item_id: str
    content_index: int
    audio_end_ms: int


@dataclass
class FrameLog:
    """The frames of one connection, with the questions tests ask of them.

    ``model`` and ``query`` are what the client asked for in the URL; ``closed`` turns true
    when the socket is gone.
    """

    model: str
    query: dict[str, str] = field(default_factory=dict)
    closed: bool = False
    overflow: int = 0
    _frames: list[ClientFrame] = field(default_factory=list)
    _opened: float = field(default_factory=time.monotonic)

    # ------------------------------------------------------------------ recording

    def text(self, data: str) -> None:
        """Record one text frame."""
        try:
            decoded = json.loads(data)
        except ValueError:
            self._keep(ClientFrame(type=None, event={}, at_s=self._now(), text=data))
            return
        if not isinstance(decoded, dict):
            self._keep(ClientFrame(type=None, event={}, at_s=self._now(), text=data))
            return
        kind = decoded.get("type")
        audio_bytes = 0
        if kind == _APPEND and isinstance(decoded.get("audio"), str):
            audio_bytes = _base64_size(decoded.pop("audio"))
        self._keep(
            ClientFrame(
                type=kind if isinstance(kind, str) else None,
                event=decoded,
                at_s=self._now(),
                audio_bytes=audio_bytes,
            )
        )

    def binary(self, data: bytes) -> None:
        """Record one binary frame (raw input audio)."""
        frame = ClientFrame(
            type=_APPEND, event={}, at_s=self._now(), audio_bytes=len(data), binary=True
        )
        self._keep(frame)

    def close(self) -> None:
        """The connection ended."""
        self.closed = True

    # ------------------------------------------------------------------ reading

    @property
    def frames(self) -> list[ClientFrame]:
        """Every kept frame, oldest first (a copy)."""
        return list(self._frames)

    @property
    def types(self) -> list[str | None]:
        """The ``type`` of every kept frame, in order."""
        return [frame.type for frame in self.frames]

    def sent(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The events the client sent, oldest first; only those of ``event_type`` if given.

        ``len(conn.sent("session.update")) == 1`` reads "the client configured the session
        once". Appends come without their ``audio`` (see :attr:`audio_bytes`).
        """
        return [f.event for f in self.frames if event_type is None or f.type == event_type]

    @property
    def session_updates(self) -> list[dict[str, Any]]:
        """The ``session`` objects of every ``session.update``, in order."""
        return [dict(event.get("session") or {}) for event in self.sent("session.update")]

    @property
    def truncations(self) -> list[Truncation]:
        """Every ``conversation.item.truncate``, in order."""
        found: list[Truncation] = []
        for event in self.sent("conversation.item.truncate"):
            found.append(
                Truncation(
                    item_id=str(event.get("item_id", "")),
                    content_index=int(event.get("content_index", 0)),
                    audio_end_ms=int(event.get("audio_end_ms", 0)),
                )
            )
        return found

    @property
    def audio_bytes(self) -> int:
        """Decoded input audio appended so far, in bytes (JSON and binary appends)."""
        return sum(frame.audio_bytes for frame in self.frames)

    @property
    def malformed(self) -> list[str]:
        """Raw text of frames that were not JSON objects."""
        return [f.text for f in self.frames if f.type is None and f.text is not None]

    def to_json(self) -> dict[str, Any]:
        """The log as plain JSON data (served by ``GET /v1/sim/connections``)."""
        return {
            "model": self.model,
            "query": dict(self.query),
            "closed": self.closed,
            "overflow": self.overflow,
            "frames": [dataclasses.asdict(frame) for frame in self.frames],
        }

    def _keep(self, frame: ClientFrame) -> None:
        if len(self._frames) >= MAX_FRAMES:
            self.overflow += 1
            return
        self._frames.append(frame)

    def _now(self) -> float:
        return time.monotonic() - self._opened

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<FrameLog {self.model} {state}, {len(self._frames)} frames>"


def _base64_size(text: str) -> int:
    """Decoded size of base64 ``text`` without decoding it."""
    stripped = text.rstrip("=")
    return len(stripped) * 3 // 4
