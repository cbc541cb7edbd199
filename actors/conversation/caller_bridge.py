"""Puts a simulated caller on the line with the agent: two conversations, audio both ways.

The bridge runs the agent's :class:`Conversation` and the caller's side by side in one event
loop and moves audio between them at real-time pace (``speed`` for quick offline runs): every
frame, what the agent's response is playing goes into the caller's microphone and what the
caller is saying goes into the agent's; silence when a side says nothing, so each server's VAD
hears turns end as on a real call. Each side hears only the other: nothing a side hears is
sent back to it, so there is no feedback loop. Audio a side was still going to play when it was
interrupted is dropped, as a phone line would.

The call ends when the caller calls ``end_call`` (answered here, never by the tool pool) and
its goodbye has been heard, at ``max_turns`` caller utterances once the agent answered the
last, at ``max_duration_s``, or when either session fails.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from voxray.actors.conversation.caller import (
    CALL_CONNECTED_CUE,
    END_CALL_TOOL,
    CallerOutcome,
    CallerReport,
    CallerSpec,
    DialogueLine,
)
from voxray.actors.conversation.collector import SessionCollector
from voxray.actors.conversation.engine import Conversation
from voxray.actors.conversation.events import (
    AgentAudio,
    AgentTranscript,
    ConversationEvent,
    Interrupted,
    ResponseFinished,
)
from voxray.actors.conversation.result import SessionResult, TurnMetrics
from voxray.actors.errors import VoxrayError
from voxray.actors.tools.outcome import ToolOutcome, error_output
from voxray.actors.tools.spec import ToolSpec

__all__ = ["CallerBridge", "CallerCall", "HangUpDesk"]

Speaker = Literal["agent", "caller"]

_LINGER_MARGIN_MS = 300.0
"""Silence beyond the agent's VAD window sent after the caller's goodbye."""


class HangUpDesk:
    """The caller's tool backend: answers ``end_call`` by noting the outcome (the bridge then
    ends the call). Any other name gets an error output, so the caller's model is never left
    waiting."""

    def __init__(self) -> None:
        self.outcome: CallerOutcome | None = None

    async def call(self, spec: ToolSpec, call_id: str, arguments_json: str) -> ToolOutcome:
        """Note the hang-up; answer the model."""
        if spec.name != END_CALL_TOOL.name:
            output = error_output("unknown_tool", f"no tool named {spec.name!r}")
            return ToolOutcome(call_id, spec.name, False, output, "unknown_tool", 0.0)
        try:
            arguments = json.loads(arguments_json or "{}")
            outcome = arguments["outcome"]
            reason = str(arguments.get("reason", ""))
            if outcome not in ("success", "failure"):
                raise ValueError(f"outcome {outcome!r} is not success or failure")
        except (ValueError, KeyError, TypeError) as error:
            output = error_output("invalid_arguments", f"end_call: {error}")
            return ToolOutcome(call_id, spec.name, False, output, "invalid_arguments", 0.0)
        if self.outcome is None:
            self.outcome = CallerOutcome(outcome=outcome, reason=reason)
        return ToolOutcome(call_id, spec.name, True, json.dumps({"ended": True}), None, 0.0)


@dataclass
class _Utterance:
    response_id: str
    start_ms: float
    end_ms: float = 0.0


@dataclass
class _Direction:
    """What one side says, on its way to the other side's microphone."""

    speaker: Speaker
    rate: int
    frame: int
    chunks: deque[tuple[str, NDArray[np.int16]]] = field(default_factory=deque)
    queued: int = 0
    texts: dict[str, str] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    utterances: list[_Utterance] = field(default_factory=list)
    speaking: _Utterance | None = None
    hung_up: bool = False
    """The side hung up: what it says after this (a reply to the hang-up's output) is never
    heard; what it was saying still plays out."""

    def on_event(self, event: ConversationEvent) -> None:
        match event:
            case AgentAudio(response_id=response_id) if self.hung_up and not self._saying(
                response_id
            ):
                pass
            case AgentAudio(response_id=response_id, samples=samples, rate=rate):
                if rate != self.rate:
                    raise VoxrayError(
                        f"the {self.speaker}'s audio is {rate} Hz, the bridge carries "
                        f"{self.rate} Hz: give both sessions PCM output"
                    )
                self.chunks.append((response_id, samples))
                self.queued += len(samples)
            case Interrupted(response_id=response_id):
                # The side stopped talking: what it had yet to play is never heard.
                self.chunks.clear()
                self.queued = 0
                if response_id is not None:
                    self.finished.add(response_id)
            case ResponseFinished(response_id=response_id):
                self.finished.add(response_id)
            case AgentTranscript(response_id=response_id, text=text, final=True):
                self.texts[response_id] = text
            case _:
                pass

    def _saying(self, response_id: str) -> bool:
        speaking = self.speaking is not None and self.speaking.response_id == response_id
        return speaking or any(chunk_id == response_id for chunk_id, _ in self.chunks)

    @property
    def silent(self) -> bool:
        """Nothing left to say: no audio queued and no utterance still streaming in."""
        return self.queued == 0 and self.speaking is None

    def take(self, position_ms: float, frame_ms: float) -> NDArray[np.int16]:
        """The next frame of this side's speech (zero-padded), or silence; notes utterances.

        An utterance lasts until its response has finished and all its audio was sent: audio
        streams in at about real-time pace, so the queue running dry mid-response is a gap
        in the stream, not the end of the turn.
        """
        if not self.chunks:
            if self.speaking is not None and self.speaking.response_id in self.finished:
                self._stop(position_ms)
            return np.zeros(self.frame, dtype=np.int16)
        response_id = self.chunks[0][0]
        if self.speaking is not None and self.speaking.response_id != response_id:
            self._stop(position_ms)
        if self.speaking is None:
            self.speaking = _Utterance(response_id, position_ms)
        parts: list[NDArray[np.int16]] = []
        wanted = self.frame
        while wanted and self.chunks:
            chunk_id, samples = self.chunks[0]
            if chunk_id != response_id:
                break
            part = samples[:wanted]
            parts.append(part)
            wanted -= len(part)
            if len(part) == len(samples):
                self.chunks.popleft()
            else:
                self.chunks[0] = (chunk_id, samples[len(part) :])
        self.queued -= self.frame - wanted
        if wanted:
            parts.append(np.zeros(wanted, dtype=np.int16))
        if not self.chunks and response_id in self.finished:
            self.speaking.end_ms = position_ms + (self.frame - wanted) * 1000 / self.rate
            self.utterances.append(self.speaking)
            self.speaking = None
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _stop(self, position_ms: float) -> None:
        if self.speaking is not None:
            self.speaking.end_ms = position_ms
            self.utterances.append(self.speaking)
            self.speaking = None

    def lines(self) -> list[DialogueLine]:
        return [
            DialogueLine(
                speaker=self.speaker,
                start_ms=round(u.start_ms, 1),
                end_ms=round(u.end_ms, 1),
                text=self.texts.get(u.response_id, ""),
            )
            for u in self.utterances
        ]


@dataclass(frozen=True)
class CallerCall:
    """What a bridged call produced: each side's own result, the dialogue and the outcome."""

    agent: SessionResult
    caller: SessionResult
    dialogue: tuple[DialogueLine, ...]
    outcome: CallerOutcome
    lateness_ms: tuple[float, ...] = ()

    def result(self) -> SessionResult:
        """The agent's result with the caller's side attached: the outcome, the dialogue, and
        the caller session's audio counted in the cost (both sessions are billed)."""
        caller = self.caller
        report = CallerReport(
            outcome=self.outcome,
            dialogue=self.dialogue,
            audio_in_ms=caller.audio_in_ms,
            audio_out_ms=caller.audio_out_ms,
            cost_estimate_usd=caller.metrics.cost_estimate_usd,
            error=caller.error,
        )
        metrics = self.agent.metrics
        cost = round(metrics.cost_estimate_usd + caller.metrics.cost_estimate_usd, 4)
        return self.agent.model_copy(
            update={
                "caller": report,
                "metrics": metrics.model_copy(update={"cost_estimate_usd": cost}),
            }
        )


class CallerBridge:
    """Runs one call between an agent conversation and a caller conversation.

    Build the caller's :class:`~voxray.actors.tools.executor.ToolExecutor` over
    :attr:`desk` (with :data:`~voxray.actors.conversation.caller.END_CALL_TOOL`), then
    :meth:`run` with both conversations, not yet started.

    Args:
        spec: the caller's limits.
        speed: pacing factor (1 = real time; the simulator's speed offline).
        frame_ms: audio moved each way per tick.
        rate: the sample rate audio is carried at (the conversations' consumer rate).
        line: what the phone line does to the caller's audio on its way to the agent (a
            caller condition: noise, a narrowband line, losses); as many samples out as in.
    """

    def __init__(
        self,
        spec: CallerSpec,
        *,
        speed: float = 1.0,
        frame_ms: int = 20,
        rate: int = 24_000,
        line: Callable[[NDArray[np.int16]], NDArray[np.int16]] | None = None,
    ) -> None:
        self.spec = spec
        self._line = line
        self.desk = HangUpDesk()
        self._speed = speed
        self._frame_ms = frame_ms
        self._rate = rate
        self._frame = rate * frame_ms // 1000
        self.position_ms = 0.0
        """How much audio has moved each way: the call's timeline."""

    async def run(self, agent: Conversation, caller: Conversation) -> CallerCall:
        """Connect both sides, carry the call to its end, close both; always returns."""
        agent_says = _Direction("agent", self._rate, self._frame)
        caller_says = _Direction("caller", self._rate, self._frame)
        agent_log, caller_log = SessionCollector(agent), SessionCollector(caller)
        agent.add_listener(agent_says.on_event)
        caller.add_listener(caller_says.on_event)
        error: VoxrayError | None = None
        lateness: list[float] = []
        outcome: CallerOutcome
        try:
            await asyncio.gather(agent.start(), caller.start())
            caller.send_text(CALL_CONNECTED_CUE)
            outcome = await self._carry(agent, caller, agent_says, caller_says, lateness)
        except VoxrayError as failure:
            error = failure
            outcome = CallerOutcome(outcome="error", reason=failure.message)
        finally:
            await asyncio.gather(agent.aclose(), caller.aclose())
        agent_error = error or agent.failure
        caller_error = error or caller.failure
        dialogue = sorted(agent_says.lines() + caller_says.lines(), key=lambda line: line.start_ms)
        turns = _turns(dialogue)
        agent_result, caller_result = await asyncio.to_thread(
            lambda: (
                agent_log.result(agent_error, turns=turns, frame_lateness_ms=lateness),
                caller_log.result(caller_error, frame_lateness_ms=lateness),
            )
        )
        return CallerCall(agent_result, caller_result, tuple(dialogue), outcome, tuple(lateness))

    async def _carry(
        self,
        agent: Conversation,
        caller: Conversation,
        agent_says: _Direction,
        caller_says: _Direction,
        lateness: list[float],
    ) -> CallerOutcome:
        """Move one frame each way per tick, on an absolute schedule, until the call ends."""
        loop = asyncio.get_running_loop()
        frame_s = self._frame_ms / 1000 / self._speed
        due = loop.time()
        spec = self.spec
        limit_reached_at: int | None = None  # agent utterances when the caller hit max_turns
        hung_up_at: float | None = None
        vad = agent.agent.turn_detection
        linger_ms = vad.silence_duration_ms + _LINGER_MARGIN_MS if vad is not None else 0.0
        while True:
            for conversation in (agent, caller):
                if conversation.failure is not None:
                    raise conversation.failure
            lateness.append(max(0.0, (loop.time() - due) * 1000 * self._speed))
            # Each side hears only the other: no frame returns to the side that said it.
            agent_frame = agent_says.take(self.position_ms, self._frame_ms)
            caller_frame = caller_says.take(self.position_ms, self._frame_ms)
            caller.send_audio(agent_frame, rate=self._rate, channels=1)
            if self._line is not None:
                caller_frame = self._line(caller_frame)
            agent.send_audio(caller_frame, rate=self._rate, channels=1)
            self.position_ms += self._frame_ms
            if self.desk.outcome is not None:
                caller_says.hung_up = True
                if caller_says.silent and hung_up_at is None:
                    # The line goes dead, but the agent's VAD still needs its silence window to
                    # hear the goodbye end: it gets that much silence, and nothing it says
                    # after the goodbye is heard.
                    agent_says.hung_up = True
                    hung_up_at = self.position_ms
                if hung_up_at is not None and self.position_ms - hung_up_at >= linger_ms:
                    return self.desk.outcome
            if limit_reached_at is None and len(caller_says.utterances) >= spec.max_turns:
                limit_reached_at = len(agent_says.utterances)
            answered = limit_reached_at is not None and len(agent_says.utterances) > (
                limit_reached_at
            )
            if answered and agent.idle and agent_says.silent:
                return CallerOutcome(
                    outcome="limit",
                    reason=f"max_turns ({spec.max_turns}) reached without the caller hanging up",
                )
            if self.position_ms >= spec.max_duration_s * 1000:
                return CallerOutcome(
                    outcome="limit",
                    reason=f"max_duration_s ({spec.max_duration_s:g} s) reached without "
                    "the caller hanging up",
                )
            due += frame_s
            await asyncio.sleep(max(0.0, due - loop.time()))


def _turns(dialogue: list[DialogueLine]) -> list[TurnMetrics]:
    """The agent's turns: each caller utterance and what the agent said until the next."""
    turns: list[TurnMetrics] = []
    for line in dialogue:
        if line.speaker == "caller":
            turns.append(
                TurnMetrics(
                    index=len(turns),
                    kind="caller",
                    user_speech_start_ms=line.start_ms,
                    user_speech_end_ms=line.end_ms,
                    user_transcript=line.text,
                )
            )
        elif turns:
            last = turns[-1]
            first_audio = last.first_agent_audio_ms
            if first_audio is None:
                first_audio = line.start_ms
            turns[-1] = last.model_copy(
                update={
                    "agent_transcript": f"{last.agent_transcript} {line.text}".strip(),
                    "agent_audio_ms": last.agent_audio_ms + line.end_ms - line.start_ms,
                    "first_agent_audio_ms": first_audio,
                    "response_latency_ms": round(first_audio - (last.user_speech_end_ms or 0), 1),
                }
            )
    return turns
