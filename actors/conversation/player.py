"""Play a scenario's user turns against a conversation and collect what happened.

For each turn the player speaks (espeak-ng), plays a WAV file, types, or waits; then it waits
until the agent has answered — every response of the turn ended, tool follow-ups included, and
the scheduled playback finished on the audio timeline. The result carries the transcripts, the
tool calls, a timeline and, per turn, the latency from the end of the user's speech to the first
agent audio, both measured on the audio timeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from actors.audio.pcm import downmix_to_mono
from actors.audio.resample import StreamResampler
from actors.audio.speech import SpeechSynthesizer
from actors.audio.wav import read_wav
from actors.conversation.engine import Conversation
from actors.conversation.events import (
    AgentAudio,
    AgentTranscript,
    ConversationEvent,
    ErrorOccurred,
    ResponseFinished,
    ToolCallFinished,
    UserTranscript,
)
from actors.conversation.microphone import Microphone
from actors.conversation.result import (
    Recording,
    SessionResult,
    TimelineEvent,
    ToolCallRecord,
    TurnMetrics,
    Usage,
)
from actors.conversation.script import (
    AudioTurn,
    SayTurn,
    ScenarioScript,
    TextTurn,
    UserTurn,
    WaitTurn,
)
from actors.errors import VoxrayError

__all__ = ["ScenarioPlayer"]

logger = logging.getLogger("voxray.player")


@dataclass
class _TurnProgress:
    index: int
    kind: str
    first_response: int
    speech_end_ms: float | None = None
    user_transcript: str | None = None
    answered: bool = False


@dataclass
class _Collected:
    timeline: list[TimelineEvent] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)


def _to_mono_at(
    samples: NDArray[np.int16], rate: int, channels: int, out_rate: int
) -> NDArray[np.int16]:
    mono = downmix_to_mono(samples.reshape(-1), channels) if channels != 1 else samples.reshape(-1)
    if rate == out_rate:
        return mono
    resampler = StreamResampler(rate, out_rate)
    return np.concatenate((resampler.process(mono), resampler.flush()))


class ScenarioPlayer:
    """Drives one :class:`Conversation` through a :class:`ScenarioScript`."""

    def __init__(self, conversation: Conversation, script: ScenarioScript, *, speed: float) -> None:
        self._conversation = conversation
        self._script = script
        self._speed = speed
        self._rate = conversation.agent.input_audio.rate
        self._collected = _Collected()
        self._turns: list[_TurnProgress] = []
        self._progress = asyncio.Event()
        self._voices: dict[tuple[str, int], SpeechSynthesizer] = {}
        conversation.add_listener(self._on_event)

    async def run(self) -> SessionResult:
        """Connect, play every turn, close; always returns a result (failures included)."""
        conversation = self._conversation
        error: VoxrayError | None = None
        microphone: Microphone | None = None
        mic_task: asyncio.Task[None] | None = None
        try:
            await conversation.start()
            microphone = Microphone(
                conversation,
                rate=self._rate,
                chunk_ms=conversation.agent_chunk_ms,
                speed=self._speed,
                continuous=conversation.agent.turn_detection is not None,
            )
            mic_task = asyncio.create_task(
                microphone.run(), name=f"session-{conversation.session_id}-mic"
            )
            for index, turn in enumerate(self._script.turns):
                await self._play(index, turn, microphone)
        except VoxrayError as failure:
            error = failure
        finally:
            if mic_task is not None:
                mic_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await mic_task
            await conversation.aclose()
        error = error or conversation.failure
        return self._result(error)

    # --- turns -----------------------------------------------------------------------------

    async def _play(self, index: int, turn: UserTurn, microphone: Microphone) -> None:
        conversation = self._conversation
        progress = _TurnProgress(index, _kind(turn), len(conversation.response_ids))
        self._turns.append(progress)
        match turn:
            case SayTurn():
                speech = await self._synthesize(turn)
                progress.speech_end_ms = await self._speak(microphone, speech)
            case AudioTurn():
                wav = await asyncio.to_thread(read_wav, turn.audio)
                audio = _to_mono_at(wav.samples, wav.rate, wav.channels, self._rate)
                progress.speech_end_ms = await self._speak(microphone, audio)
            case TextTurn():
                progress.speech_end_ms = conversation.now_ms()
                conversation.send_text(turn.text)
            case WaitTurn():
                await asyncio.sleep(turn.wait_ms / 1000 / self._speed)
                return
        progress.answered = await self._await_answer(progress.first_response)

    async def _speak(self, microphone: Microphone, audio: NDArray[np.int16]) -> float:
        end_ms = await microphone.speak(audio)
        if self._conversation.agent.turn_detection is None:
            self._conversation.commit_audio()
        return end_ms

    async def _synthesize(self, turn: SayTurn) -> NDArray[np.int16]:
        key = (turn.voice, turn.words_per_minute)
        synthesizer = self._voices.get(key)
        if synthesizer is None:
            synthesizer = self._voices[key] = SpeechSynthesizer(
                voice=turn.voice, words_per_minute=turn.words_per_minute
            )
        speech = await asyncio.to_thread(synthesizer.synthesize, turn.say)
        return _to_mono_at(speech.samples, speech.rate, 1, self._rate)

    async def _await_answer(self, responses_before: int) -> bool:
        """Wait until a response of this turn ended and nothing is pending; then let it play."""
        conversation = self._conversation
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._script.reply_timeout_s
        while not (len(conversation.response_ids) > responses_before and conversation.idle):
            if conversation.failure is not None:
                raise conversation.failure
            remaining = deadline - loop.time()
            if remaining <= 0:
                self._note("turn_timeout", {"after_s": self._script.reply_timeout_s})
                return False
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), timeout=remaining)
        # The answer is scheduled on the playback timeline; the user listens until it ends.
        remaining_ms = conversation.playback_end_ms - conversation.now_ms()
        if remaining_ms > 0:
            await asyncio.sleep(remaining_ms / 1000 / self._speed)
        return True

    # --- events ----------------------------------------------------------------------------

    def _note(self, kind: str, detail: dict[str, object]) -> None:
        self._collected.timeline.append(
            TimelineEvent(t_ms=round(self._conversation.now_ms(), 1), kind=kind, detail=detail)
        )

    def _on_event(self, event: ConversationEvent) -> None:
        self._progress.set()
        match event:
            case AgentAudio():
                return  # too frequent for the timeline; the recording holds it
            case AgentTranscript(final=False):
                return
            case UserTranscript(final=True, text=text) if self._turns:
                self._turns[-1].user_transcript = text
            case ToolCallFinished(outcome=outcome, arguments=arguments):
                self._collected.tool_calls.append(
                    ToolCallRecord(
                        call_id=outcome.call_id,
                        name=outcome.name,
                        arguments=arguments,
                        output=outcome.output,
                        ok=outcome.ok,
                        error_type=outcome.error_type,
                        latency_ms=round(outcome.latency_ms, 2),
                        t_ms=round(event.t_ms, 1),
                    )
                )
            case ErrorOccurred() | ResponseFinished():
                pass
        self._collected.timeline.append(_timeline_entry(event))

    # --- result ----------------------------------------------------------------------------

    def _result(self, error: VoxrayError | None) -> SessionResult:
        conversation = self._conversation
        records = conversation.response_records()
        turns: list[TurnMetrics] = []
        for position, progress in enumerate(self._turns):
            end = (
                self._turns[position + 1].first_response
                if position + 1 < len(self._turns)
                else len(records)
            )
            answer = records[progress.first_response : end]
            first_audio = next(
                (r.first_audio_ms for r in answer if r.first_audio_ms is not None), None
            )
            latency = (
                round(first_audio - progress.speech_end_ms, 1)
                if first_audio is not None and progress.speech_end_ms is not None
                else None
            )
            turns.append(
                TurnMetrics(
                    index=progress.index,
                    kind=progress.kind,
                    user_speech_end_ms=_round(progress.speech_end_ms),
                    first_agent_audio_ms=_round(first_audio),
                    response_latency_ms=latency,
                    agent_audio_ms=round(sum(r.audio_ms for r in answer), 1),
                    user_transcript=progress.user_transcript,
                    agent_transcript=" ".join(r.transcript for r in answer if r.transcript),
                )
            )
        input_tokens, output_tokens = conversation.usage
        recording: Recording = conversation.recorder.to_recording()
        return SessionResult(
            status="completed" if error is None else "failed",
            error=None if error is None else f"{type(error).__name__}: {error.message}",
            turns=tuple(turns),
            tool_calls=tuple(self._collected.tool_calls),
            timeline=tuple(self._collected.timeline),
            usage=Usage(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                total_tokens=input_tokens + output_tokens,
            ),
            audio_in_ms=round(conversation.user_audio_ms, 1),
            audio_out_ms=round(conversation.agent_audio_ms, 1),
            duration_ms=round(conversation.now_ms(), 1),
            recording=recording,
        )


def _kind(turn: UserTurn) -> str:
    match turn:
        case SayTurn():
            return "say"
        case AudioTurn():
            return "audio"
        case TextTurn():
            return "text"
        case WaitTurn():
            return "wait"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _timeline_entry(event: ConversationEvent) -> TimelineEvent:
    fields = {
        key: value
        for key, value in vars(event).items()
        if key not in ("t_ms", "samples", "outcome") and isinstance(value, str | int | float | bool)
    }
    if isinstance(event, ToolCallFinished):
        fields |= {
            "name": event.outcome.name,
            "ok": event.outcome.ok,
            "call_id": event.outcome.call_id,
        }
    name = type(event).__name__
    kind = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return TimelineEvent(t_ms=round(event.t_ms, 1), kind=kind, detail=fields)
