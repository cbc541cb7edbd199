"""The simulator's Twilio side: a phone caller as Twilio Media Streams presents it.

It plays what Twilio does on a bidirectional ``<Connect><Stream>``: ``connected``, ``start``
(with ``customParameters``), a ``media`` message every 20 ms for the whole call (speech when the
script speaks, μ-law silence otherwise), ``stop`` to hang up. The agent's ``media`` is played on a
real-time timeline (scaled by ``speed``); each ``mark`` is echoed once the audio sent before it
has played; a ``clear`` drops what was not played yet and echoes every pending mark at once, as
Twilio documents. It measures what a caller notices: time to the agent's first audio, the
lateness of its own 20 ms frames, gaps in the agent's audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass, field

import aiohttp
import numpy as np
from voxray.actors.audio.g711 import mulaw_encode
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.audio.speech import SpeechSynthesizer

__all__ = ["TwilioCallReport", "TwilioCaller", "speech_mulaw"]

FRAME_MS = 20
_FRAME_BYTES = 160  # 20 ms of μ-law at 8 kHz
_SILENCE = b"\xff" * _FRAME_BYTES
_PLAYOUT_MS = 40.0  # Twilio-like playout buffer: a burst starts playing this long after it came
_GAP_MAX_MS = 300.0  # audio running dry for longer than this is a pause between turns


def speech_mulaw(text: str, synthesizer: SpeechSynthesizer | None = None) -> bytes:
    """``text`` spoken (espeak-ng), as μ-law 8 kHz: what a phone caller sends."""
    speech = (synthesizer or SpeechSynthesizer()).synthesize(text)
    resampler = StreamResampler(speech.rate, 8000)
    samples = np.concatenate([resampler.process(speech.samples), resampler.flush()])
    return mulaw_encode(samples)


@dataclass
class TwilioCallReport:
    """What the caller observed."""

    stream_sid: str
    first_audio_s: float | None = None
    agent_audio_ms: float = 0.0
    media_received: int = 0
    marks_received: int = 0
    marks_echoed: int = 0
    clears: int = 0
    cleared_at: list[tuple[float, float]] = field(default_factory=list)
    """At each ``clear``: (agent audio ms acknowledged with marks, agent audio ms received)."""
    frames_sent: int = 0
    lateness_ms: list[float] = field(default_factory=list)
    gaps: int = 0
    close_code: int | None = None
    close_reason: str = ""
    refused_status: int | None = None

    @property
    def lateness_p99_ms(self) -> float:
        """p99 of how late the caller's 20 ms frames went out."""
        if not self.lateness_ms:
            return 0.0
        return float(np.percentile(np.asarray(self.lateness_ms), 99))


class _Player:
    """Twilio's side of the agent's audio: a real-time buffer with marks in it."""

    def __init__(self, speed: float) -> None:
        self._speed = speed
        # (wall time it has played by, audio ms or 0 for a mark, the mark's name or None)
        self._queue: deque[tuple[float, float, str | None]] = deque()
        self._ends_at: float | None = None  # wall time the buffered audio runs out
        self.audio_ms = 0.0
        self.played_ms = 0.0
        self.acknowledged_ms = 0.0
        """Agent audio the caller told the gateway it played: up to the last mark echoed."""
        self.gaps = 0

    def add_audio(self, ms: float, now: float) -> None:
        if self._ends_at is None or self._ends_at < now:
            # The buffer ran dry: within a turn that is an audible gap; either way the next
            # audio is buffered for the playout delay before it plays.
            if self._ends_at is not None and self.audio_ms > 0:
                dry_ms = (now - self._ends_at) * 1000 * self._speed
                if dry_ms < _GAP_MAX_MS:
                    self.gaps += 1
            self._ends_at = now + _PLAYOUT_MS / 1000 / self._speed
        self._ends_at += ms / 1000 / self._speed
        self._queue.append((self._ends_at, ms, None))
        self.audio_ms += ms

    def add_mark(self, name: str, now: float) -> None:
        self._queue.append((self._ends_at or now, 0.0, name))

    def played_marks(self, now: float) -> list[str]:
        marks: list[str] = []
        while self._queue and self._queue[0][0] <= now:
            _, ms, name = self._queue.popleft()
            self.played_ms += ms
            if name is not None:
                marks.append(name)
                self.acknowledged_ms = self.played_ms
        return marks

    def clear(self) -> list[str]:
        marks = [name for _, _, name in self._queue if name is not None]
        self._queue.clear()
        self._ends_at = None
        return marks


class TwilioCaller:
    """One simulated phone call through Twilio Media Streams.

    Args:
        stream_url: the gateway's ``ws://.../twilio/stream``.
        parameters: the ``customParameters`` TwiML would pass (``agent``, ``from``, ``to``).
        speed: pacing factor (1 is real time), as the simulator's.
        headers: extra upgrade headers (``X-Twilio-Signature``).
    """

    def __init__(
        self,
        stream_url: str,
        *,
        parameters: dict[str, str] | None = None,
        speed: float = 1.0,
        headers: dict[str, str] | None = None,
        stream_sid: str = "MZ00000000000000000000000000000000",
    ) -> None:
        self._url = stream_url
        self._parameters = parameters or {}
        self._speed = speed
        self._headers = headers or {}
        self.report = TwilioCallReport(stream_sid=stream_sid)
        self._player = _Player(speed)
        self._speech: deque[bytes] = deque()
        self._hangup = asyncio.Event()
        self._spoken = asyncio.Event()
        self._started = 0.0

    def say(self, mulaw: bytes) -> None:
        """Queue speech (μ-law 8 kHz): it replaces silence in the next frames."""
        for start in range(0, len(mulaw), _FRAME_BYTES):
            frame = mulaw[start : start + _FRAME_BYTES]
            self._speech.append(frame.ljust(_FRAME_BYTES, b"\xff"))

    @property
    def speaking(self) -> bool:
        """Speech is still queued."""
        return bool(self._speech)

    async def wait_spoken(self) -> None:
        """Until every queued frame of speech went out."""
        while self._speech:
            self._spoken.clear()
            await self._spoken.wait()

    def report_agent_audio_ms(self) -> float:
        """Agent audio received so far (ms)."""
        return self._player.audio_ms

    def hang_up(self) -> None:
        """Send ``stop`` and close."""
        self._hangup.set()

    async def wait_for_agent_audio(self, min_ms: float, timeout_s: float) -> bool:
        """Until at least ``min_ms`` of agent audio arrived in all; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self._player.audio_ms < min_ms:
            if time.monotonic() > deadline or self.report.close_code is not None:
                return False
            await asyncio.sleep(0.01)
        return True

    async def wait_for_quiet(self, quiet_ms: float, timeout_s: float) -> bool:
        """Until no agent audio arrived for ``quiet_ms`` (audio timeline); False on timeout."""
        deadline = time.monotonic() + timeout_s
        last = (self._player.audio_ms, time.monotonic())
        while time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            if self._player.audio_ms != last[0]:
                last = (self._player.audio_ms, time.monotonic())
            elif (time.monotonic() - last[1]) * 1000 * self._speed >= quiet_ms:
                return True
        return False

    async def run(self, session: aiohttp.ClientSession) -> TwilioCallReport:
        """Place the call and keep it up until :meth:`hang_up` or the gateway closes it."""
        report = self.report
        try:
            ws = await session.ws_connect(self._url, headers=self._headers, heartbeat=30.0)
        except aiohttp.WSServerHandshakeError as error:
            report.refused_status = error.status
            return report
        async with ws:
            await ws.send_str(
                json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            )
            await ws.send_str(json.dumps(self._start_message()))
            self._started = time.monotonic()
            sender = asyncio.create_task(self._send_frames(ws), name="twilio-caller-send")
            try:
                await self._receive(ws)
            finally:
                sender.cancel()
                with contextlib.suppress(BaseException):
                    await sender
            report.close_code = ws.close_code
            report.agent_audio_ms = self._player.audio_ms
            report.gaps = self._player.gaps
        return report

    def _start_message(self) -> dict[str, object]:
        sid = self.report.stream_sid
        return {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": sid,
            "start": {
                "accountSid": "AC00000000000000000000000000000000",
                "streamSid": sid,
                "callSid": "CA" + sid[2:],
                "tracks": ["inbound"],
                "customParameters": self._parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }

    async def _send_frames(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        import base64

        sid = self.report.stream_sid
        period = FRAME_MS / 1000 / self._speed
        start = time.monotonic()
        sequence = 2
        index = 0
        while not self._hangup.is_set():
            due = start + index * period
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
                now = time.monotonic()
            self.report.lateness_ms.append(max(0.0, (now - due) * 1000))
            frame = self._speech.popleft() if self._speech else _SILENCE
            if not self._speech:
                self._spoken.set()
            message = {
                "event": "media",
                "sequenceNumber": str(sequence),
                "streamSid": sid,
                "media": {
                    "track": "inbound",
                    "chunk": str(index + 1),
                    "timestamp": str(index * FRAME_MS),
                    "payload": base64.b64encode(frame).decode("ascii"),
                },
            }
            await ws.send_str(json.dumps(message))
            for name in self._player.played_marks(now):
                await self._echo_mark(ws, name)
            self.report.frames_sent += 1
            sequence += 1
            index += 1
        await ws.send_str(json.dumps({"event": "stop", "streamSid": sid, "stop": {}}))
        await ws.close()

    async def _echo_mark(self, ws: aiohttp.ClientWebSocketResponse, name: str) -> None:
        sid = self.report.stream_sid
        await ws.send_str(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": name}}))
        self.report.marks_echoed += 1

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        import base64

        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            now = time.monotonic()
            event = data.get("event")
            if event == "media":
                audio = base64.b64decode(data["media"]["payload"])
                if self.report.first_audio_s is None:
                    self.report.first_audio_s = now - self._started
                self.report.media_received += 1
                self._player.add_audio(len(audio) / 8, now)
            elif event == "mark":
                self.report.marks_received += 1
                self._player.add_mark(data["mark"]["name"], now)
            elif event == "clear":
                self.report.clears += 1
                self.report.cleared_at.append((self._player.acknowledged_ms, self._player.audio_ms))
                for name in self._player.clear():
                    await self._echo_mark(ws, name)
        self.report.close_reason = str(ws.close_code)
