"""The simulator's SIP caller: places a phone call the way xAI's direct SIP presents one.

:meth:`Simulator.place_call <voxray.actors.simulator.server.Simulator.place_call>` runs a
:class:`SipCaller`:

1. a call rings on one of the simulator's phone lines (:mod:`.sip_line`) with a fresh
   ``rtc_…`` call id;
2. the caller posts the ``realtime.call.incoming`` webhook to the receiver's URL, signed with
   the Standard Webhooks scheme (:mod:`voxray.actors.realtime.webhooks`), as xAI does;
3. once a session attached with ``?call_id=``, the phone sends audio for the whole call
   (speech when the script speaks, μ-law silence otherwise, ``frame_ms`` at a time, paced in
   real time scaled by the simulator's speed), presses the script's keys, and listens to the
   agent on the line;
4. it hangs up after the script's last step (the session's socket then closes with 1000).

:class:`SipCallReport` is what a caller notices: whether the webhook was accepted, how long
until the call was attached and until the agent's first audio, how many answers it heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Final, Literal, Self

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from voxray.actors.realtime.sip_events import CALL_INCOMING
from voxray.actors.realtime.webhooks import decode_secret, webhook_headers
from voxray.actors.simulator.sip_line import LineState, SipLine, SipLines
from voxray.actors.simulator.twilio_caller import speech_mulaw

__all__ = ["SignedWebhook", "SipCallReport", "SipCallScript", "SipCaller", "SipStep"]

_SILENCE_BYTE: Final = b"\xff"  # μ-law zero
_HANG_UP_TIMEOUT_S: Final = 5.0
_WEBHOOK_TIMEOUT_S: Final = 10.0
_BARGE_IN_AFTER_MS: Final = 500
_MAX_ANSWER_S: Final = 120.0  # audio time: an answer longer than this is not waited out

Outcome = Literal["completed", "refused", "not_attached", "agent_hung_up", "error"]


class SipStep(BaseModel):
    """One thing the caller does: say a line (then listen to the answer), press keys, or
    wait."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    say: str | None = Field(None, min_length=1, description="Spoken, then the answer awaited.")
    dtmf: str | None = Field(
        None, pattern=r"^[0-9*#A-D]+$", description="Keys pressed one after the other."
    )
    pause_ms: int | None = Field(None, ge=0, description="Silence on the line (audio time).")
    barge_in: bool = Field(
        False,
        description="With say: speak over the agent, once a response has played "
        f"{_BARGE_IN_AFTER_MS} ms (else the line is said whenever its turn comes).",
    )

    @model_validator(mode="after")
    def _one_action(self) -> Self:
        chosen = [v for v in (self.say, self.dtmf, self.pause_ms) if v is not None]
        if len(chosen) != 1:
            raise ValueError("a step is exactly one of say, dtmf, pause_ms")
        if self.barge_in and self.say is None:
            raise ValueError("barge_in goes with say")
        return self


class SipCallScript(BaseModel):
    """Who calls whom, and what the caller does once the agent picked up."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    caller: str = Field("+15550100", description="The caller's number (the SIP From).")
    called: str = Field("+15550199", description="The number dialled (the SIP To).")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra SIP INVITE headers passed in the webhook."
    )
    greeting: bool = Field(True, description="Listen to the agent's greeting before step one.")
    steps: tuple[SipStep, ...] = ()
    answer_timeout_s: float = Field(10.0, gt=0, description="Webhook sent to session attached.")
    reply_timeout_s: float = Field(
        15.0, gt=0, description="Longest wait (wall clock) for the agent to start an answer."
    )
    quiet_ms: int = Field(
        800, ge=100, description="Agent silence (audio time) that ends its turn for the caller."
    )
    frame_ms: int = Field(100, ge=10, le=1000, description="Phone audio sent at a time.")


@dataclass(frozen=True)
class SignedWebhook:
    """The webhook as it was sent: a test can send it again (a replay)."""

    message_id: str
    timestamp: int
    body: bytes
    headers: dict[str, str]


@dataclass
class SipCallReport:
    """What the caller observed. Times are ms of wall clock from the webhook's sending."""

    call_id: str
    outcome: Outcome = "error"
    webhook_status: int | None = None
    webhook_error: str | None = None
    webhook_ms: float | None = None
    attach_ms: float | None = None
    first_audio_ms: float | None = None
    agent_audio_ms: float = 0.0
    agent_turns: int = 0
    said: list[str] = field(default_factory=list)
    dtmf_sent: str = ""
    end_reason: str | None = None
    webhook: SignedWebhook | None = None


class SipCaller:
    """One scripted phone call over xAI's direct SIP (see the module docstring).

    Args:
        lines: the simulator's phone lines (where the call rings).
        webhook_url: the receiver of ``realtime.call.incoming`` (the gateway's
            ``/sip/webhook``).
        secret: the ``whsec_…`` signing secret.
        script: what the caller does.
    """

    def __init__(
        self, lines: SipLines, webhook_url: str, secret: str | SecretStr, script: SipCallScript
    ) -> None:
        self._lines = lines
        self._url = webhook_url
        self._key = decode_secret(secret)
        self.script = script
        self.speed = 1.0
        """Pacing factor: 1 is real time (the simulator's speed)."""
        self._speech: deque[bytes] = deque()
        self._spoken = asyncio.Event()
        self.line = SipLine(f"rtc_{secrets.token_hex(12)}")
        """The call's phone line (it rings when :meth:`run` starts)."""
        self.report = SipCallReport(call_id=self.line.call_id)
        """Filled in as the call goes (the webhook as soon as it was sent)."""

    def signed_webhook(self, call_id: str, *, timestamp: int | None = None) -> SignedWebhook:
        """The ``realtime.call.incoming`` event of ``call_id``, signed."""
        script = self.script
        message_id = f"evt_{secrets.token_hex(12)}"
        stamp = int(time.time()) if timestamp is None else timestamp
        sip_headers = [
            {"name": "From", "value": f'"Caller" <sip:{script.caller}@pstn.sim>;tag=1'},
            {"name": "To", "value": f"<sip:{script.called}@sip.sim>"},
            {"name": "Call-ID", "value": f"{secrets.token_hex(8)}@pstn.sim"},
            *({"name": name, "value": value} for name, value in script.headers.items()),
        ]
        event = {
            "object": "event",
            "id": message_id,
            "type": CALL_INCOMING,
            "created_at": stamp,
            "data": {"call_id": call_id, "sip_headers": sip_headers},
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = webhook_headers(self._key, message_id, body, timestamp=stamp)
        return SignedWebhook(message_id, stamp, body, headers)

    async def run(self, http: aiohttp.ClientSession | None = None) -> SipCallReport:
        """Place the call and follow the script; returns once the call ended. Runs once."""
        if self.report.webhook is not None:
            raise RuntimeError("a SipCaller places one call; make another for the next")
        if http is not None:
            return await self._run(http)
        async with aiohttp.ClientSession() as own:
            return await self._run(own)

    async def _run(self, http: aiohttp.ClientSession) -> SipCallReport:
        report = self.report
        line = self.line
        self._lines.ring(line)
        started = time.monotonic()
        try:
            if await self._post_webhook(http, line, report):
                report.outcome = await self._converse(line, report, started)
        finally:
            await self._hang_up(line)
            self._lines.forget(line)
            report.end_reason = line.end_reason
            report.agent_audio_ms = round(line.agent_audio_ms, 1)
            if line.first_agent_audio_at is not None:
                report.first_audio_ms = _ms(line.first_agent_audio_at - started)
        return report

    async def _post_webhook(
        self, http: aiohttp.ClientSession, line: SipLine, report: SipCallReport
    ) -> bool:
        webhook = self.signed_webhook(line.call_id)
        report.webhook = webhook
        sent = time.monotonic()
        headers = {**webhook.headers, "Content-Type": "application/json"}
        timeout = aiohttp.ClientTimeout(total=_WEBHOOK_TIMEOUT_S)
        try:
            async with http.post(
                self._url, data=webhook.body, headers=headers, timeout=timeout
            ) as response:
                report.webhook_status = response.status
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as error:
            report.webhook_error = f"{type(error).__name__}: {error}"
            return False
        report.webhook_ms = _ms(time.monotonic() - sent)
        if response.status != 200:
            report.outcome = "refused"
            report.webhook_error = text[:500]
            return False
        return True

    async def _converse(self, line: SipLine, report: SipCallReport, started: float) -> Outcome:
        try:
            await asyncio.wait_for(line.attached.wait(), timeout=self.script.answer_timeout_s)
        except TimeoutError:
            return "not_attached"
        report.attach_ms = _ms(time.monotonic() - started)
        microphone = asyncio.create_task(self._microphone(line), name=f"{line.call_id}-mic")
        try:
            await self._follow(line, report)
        finally:
            microphone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await microphone
        return "agent_hung_up" if line.state is LineState.ENDED else "completed"

    async def _follow(self, line: SipLine, report: SipCallReport) -> None:
        script = self.script
        if script.greeting and await self._agent_turn(line, answers_before=0):
            report.agent_turns += 1
        for step in script.steps:
            if line.state is LineState.ENDED:
                return
            if step.say is not None:
                mulaw = await asyncio.to_thread(_caller_speech, step.say)
                if step.barge_in and not await self._agent_speaking(line):
                    return
                answers_before = line.agent_answers  # one playing now is not the answer
                await self._speak(mulaw, line)
                report.said.append(step.say)
                if await self._agent_turn(line, answers_before=answers_before):
                    report.agent_turns += 1
            elif step.dtmf is not None:
                for digit in step.dtmf:
                    line.press(digit)
                    report.dtmf_sent += digit
            elif step.pause_ms is not None:
                await asyncio.sleep(step.pause_ms / 1000 / self.speed)

    async def _agent_turn(self, line: SipLine, *, answers_before: int) -> bool:
        """Listen for the agent's answer: a response that starts playing after
        ``answers_before`` of them, then silence (nothing playing for ``quiet_ms``, so a
        follow-up response after a tool call belongs to the same answer). False when no
        answer started within ``reply_timeout_s``."""
        script = self.script
        if not await line.wait_for_answer(answers_before, script.reply_timeout_s):
            return False
        quiet_s = script.quiet_ms / 1000 / self.speed
        deadline = time.monotonic() + _MAX_ANSWER_S / self.speed
        while await line.wait_for_silence(deadline - time.monotonic()):
            answers = line.agent_answers
            stopped_at = line.agent_stopped_at or time.monotonic()
            quiet_left = stopped_at + quiet_s - time.monotonic()
            if not await line.wait_for_answer(answers, max(0.0, quiet_left)):
                break  # quiet long enough (or the call ended): the answer is over
        return True

    async def _agent_speaking(self, line: SipLine) -> bool:
        """Until a response has been playing for a moment (to speak over it)."""
        timeout_s = self.script.reply_timeout_s
        if not await line.wait_for_playing(timeout_s):
            return False
        heard = line.agent_audio_ms
        return await line.wait_for_agent_audio(heard + _BARGE_IN_AFTER_MS, timeout_s)

    async def _speak(self, mulaw: bytes, line: SipLine) -> None:
        """Queue speech for the microphone and wait until it went out."""
        size = self._frame_bytes
        for start in range(0, len(mulaw), size):
            self._speech.append(mulaw[start : start + size].ljust(size, _SILENCE_BYTE))
        while self._speech and line.state is not LineState.ENDED:
            self._spoken.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._spoken.wait(), timeout=1.0)

    @property
    def _frame_bytes(self) -> int:
        return 8 * self.script.frame_ms  # μ-law: 8 bytes per ms

    async def _microphone(self, line: SipLine) -> None:
        """The phone's audio for the whole call: speech when queued, silence otherwise."""
        silence = _SILENCE_BYTE * self._frame_bytes
        period = self.script.frame_ms / 1000 / self.speed
        start = time.monotonic()
        index = 0
        while line.state is LineState.ATTACHED:
            due = start + index * period
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            line.send_audio(self._speech.popleft() if self._speech else silence)
            if not self._speech:
                self._spoken.set()
            index += 1

    async def _hang_up(self, line: SipLine) -> None:
        if line.state is LineState.ENDED:
            return
        line.hang_up()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(line.ended.wait(), timeout=_HANG_UP_TIMEOUT_S)
        line.end("the caller hung up")  # the session never closed: ended here


@functools.lru_cache(maxsize=64)
def _caller_speech(text: str) -> bytes:
    # Many callers say the same lines (benchmarks place hundreds of calls): speak each once.
    return speech_mulaw(text)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
