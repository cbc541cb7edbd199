"""The simulator's phone lines: inbound SIP calls waiting for, then attached to, a session.

xAI's direct SIP works like this: a call rings, xAI posts ``realtime.call.incoming``, and a
session opens ``/v1/realtime?call_id=<id>`` to drive it. The audio never reaches that session's
socket: it flows between the phone network and the model. The simulator plays both the network
and the model, so a :class:`SipLine` is the phone side of one call inside it:

- the caller (:mod:`voxray.actors.simulator.sip_caller`) speaks into it (μ-law 8 kHz, the
  telephone codec), presses keys and hangs up;
- the attached session's connection pumps that into the simulated model's input, and its
  responses' audio comes back out to the caller's ear, paced as the model speaks it.

A line rings until a session attaches (once: a second attach is refused), and ends when either
side hangs up. Queues are bounded: what the caller sends before anyone attached is not heard
(as on a real line), and a caller far ahead of the model drops its oldest audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final

__all__ = ["DTMF_DIGITS", "CallerAudio", "Dtmf", "HangUp", "LineState", "SipLine", "SipLines"]

DTMF_DIGITS: Final = frozenset("0123456789*#ABCD")
_MAX_QUEUED: Final = 1_000  # caller items waiting for the model (about 100 s of 100 ms chunks)


class LineState(Enum):
    """Where a call is."""

    RINGING = "ringing"
    ATTACHED = "attached"
    ENDED = "ended"


@dataclass(frozen=True)
class CallerAudio:
    """A chunk of what the caller's phone sends: μ-law 8 kHz."""

    mulaw: bytes


@dataclass(frozen=True)
class Dtmf:
    """A key the caller pressed."""

    digit: str


@dataclass(frozen=True)
class HangUp:
    """The caller hung up."""


FromCaller = CallerAudio | Dtmf | HangUp


class SipLine:
    """One inbound call: the caller's side and the model's side of its phone line."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.state = LineState.RINGING
        self.end_reason: str | None = None
        self.attached = asyncio.Event()
        self.ended = asyncio.Event()
        self._to_model: deque[FromCaller] = deque()
        self._to_model_ready = asyncio.Event()
        self.dropped_audio = 0
        # What the caller heard of the agent, on the wall clock.
        self.agent_audio_ms = 0.0
        self.agent_answers = 0
        """Responses whose audio started playing on the line (cut ones included)."""
        self.agent_playing = False
        self.first_agent_audio_at: float | None = None
        self.agent_stopped_at: float | None = None
        self._heard = asyncio.Event()

    # --- the caller's side --------------------------------------------------------------------

    def send_audio(self, mulaw: bytes) -> None:
        """What the caller's phone sends next (lost while nobody is attached)."""
        if self.state is not LineState.ATTACHED:
            return
        self._put(CallerAudio(mulaw))

    def press(self, digit: str) -> None:
        """A keypad digit (``0-9``, ``*``, ``#``, ``A-D``)."""
        if digit not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        if self.state is LineState.ATTACHED:
            self._put(Dtmf(digit))

    def hang_up(self) -> None:
        """The caller hangs up: the attached session's socket closes; a ringing call ends."""
        if self.state is LineState.ATTACHED:
            self._put(HangUp())
        else:
            self.end("the caller hung up")

    async def wait_for_agent_audio(self, min_ms: float, timeout_s: float) -> bool:
        """Until the caller heard ``min_ms`` of agent audio in all; False on timeout or when
        the call ended first."""
        return await self._wait(lambda: self.agent_audio_ms >= min_ms, timeout_s)

    async def wait_for_answer(self, answers_before: int, timeout_s: float) -> bool:
        """Until a response started playing after the first ``answers_before``; False on
        timeout or when the call ended first."""
        return await self._wait(lambda: self.agent_answers > answers_before, timeout_s)

    async def wait_for_playing(self, timeout_s: float) -> bool:
        """Until agent audio plays on the line; False on timeout or when the call ended."""
        return await self._wait(lambda: self.agent_playing, timeout_s)

    async def wait_for_silence(self, timeout_s: float) -> bool:
        """Until no agent audio plays on the line; False on timeout or when the call ended."""
        return await self._wait(lambda: not self.agent_playing, timeout_s)

    async def _wait(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.ended.is_set():
                return False
            self._heard.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heard.wait(), timeout=remaining)
        return True

    # --- the model's side ---------------------------------------------------------------------

    def attach(self) -> None:
        """A session took the call."""
        if self.state is not LineState.RINGING:
            raise RuntimeError(f"call {self.call_id} is {self.state.value}")
        self.state = LineState.ATTACHED
        self.attached.set()

    async def from_caller(self) -> FromCaller:
        """The next thing the caller sent, in order."""
        while not self._to_model:
            self._to_model_ready.clear()
            await self._to_model_ready.wait()
        return self._to_model.popleft()

    def agent_started(self) -> None:
        """A response's audio starts playing on the line."""
        self.agent_answers += 1
        self.agent_playing = True
        self._heard.set()

    def agent_stopped(self) -> None:
        """The response's audio ended (all played, or the rest cleared by a barge-in)."""
        self.agent_playing = False
        self.agent_stopped_at = time.monotonic()
        self._heard.set()

    def play(self, duration_ms: float) -> None:
        """``duration_ms`` of the agent's audio reached the caller's ear now."""
        now = time.monotonic()
        if self.first_agent_audio_at is None:
            self.first_agent_audio_at = now
        self.agent_audio_ms += duration_ms
        self._heard.set()

    def end(self, reason: str) -> None:
        """The call is over (idempotent: the first reason stays)."""
        if self.state is LineState.ENDED:
            return
        self.state = LineState.ENDED
        self.end_reason = reason
        self._to_model.clear()
        self.ended.set()
        self._heard.set()

    def _put(self, item: FromCaller) -> None:
        if len(self._to_model) >= _MAX_QUEUED:
            self._to_model.popleft()
            self.dropped_audio += 1
        self._to_model.append(item)
        self._to_model_ready.set()


class SipLines:
    """The calls of one simulator, by call id; ended calls are forgotten."""

    def __init__(self) -> None:
        self._lines: dict[str, SipLine] = {}

    def __len__(self) -> int:
        return len(self._lines)

    def ring(self, line: SipLine) -> None:
        """Make ``line`` (a new call) ring: sessions may now attach to it."""
        if line.call_id in self._lines or line.state is not LineState.RINGING:
            raise ValueError(f"call {line.call_id} rang already")
        self._lines[line.call_id] = line

    def get(self, call_id: str) -> SipLine | None:
        """The call, unless it ended."""
        line = self._lines.get(call_id)
        if line is not None and line.state is LineState.ENDED:
            del self._lines[call_id]
            return None
        return line

    def forget(self, line: SipLine) -> None:
        """Drop an ended call."""
        if self._lines.get(line.call_id) is line:
            del self._lines[line.call_id]

    def hang_up_all(self) -> None:
        """The simulator is closing: every call ends."""
        for line in list(self._lines.values()):
            line.end("the simulator closed")
        self._lines.clear()
