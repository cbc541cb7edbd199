"""Play a scenario's user turns against a conversation and collect what happened.

For each turn the player speaks (espeak-ng), plays a WAV file, types, or waits; then it waits
until the agent has answered — every response of the turn ended, tool follow-ups included, and
the scheduled playback finished on the audio timeline. The result carries the transcripts, the
tool calls, a timeline and, per turn, the latency from the end of the user's speech to the first
agent audio, both measured on the audio timeline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from voxray.actors.audio.conditions import CallerCondition, CallerLine
from voxray.actors.audio.pcm import downmix_to_mono
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.audio.speech import SpeechSynthesizer
from voxray.actors.audio.wav import read_wav
from voxray.actors.cancel import cancel_and_wait
from voxray.actors.conversation.collector import SessionCollector
from voxray.actors.conversation.engine import Conversation
from voxray.actors.conversation.events import (
    AgentAudio,
    AgentTranscript,
    ConversationEvent,
    Interrupted,
    UserTranscript,
)
from voxray.actors.conversation.microphone import Microphone
from voxray.actors.conversation.result import (
    SessionResult,
    TimelineEvent,
    TurnMetrics,
)
from voxray.actors.conversation.script import (
    AudioTurn,
    BackchannelTurn,
    BargeInTurn,
    SayTurn,
    ScenarioScript,
    TextTurn,
    UserTurn,
    WaitTurn,
)
from voxray.actors.errors import VoxrayError

__all__ = ["ScenarioPlayer"]

logger = logging.getLogger("voxray.player")

_AS_WRITTEN = CallerCondition(name="clean")
"""No condition: every turn spoken with the voice and rate it wrote."""


@dataclass
class _TurnProgress:
    index: int
    kind: str
    first_response: int
    speech_start_ms: float | None = None
    speech_end_ms: float | None = None
    user_transcript: str | None = None
    answered: bool = False
    interrupted_at_ms: float | None = None


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
        self._collector = SessionCollector(conversation)
        self._microphone: Microphone | None = None
        self._turns: list[_TurnProgress] = []
        self._progress = asyncio.Event()
        self._voices: dict[tuple[str, int, int], SpeechSynthesizer] = {}
        self._line: CallerLine | None = None
        self._collector.caller_has_floor = False  # a scripted caller listens until it speaks
        conversation.add_listener(self._on_event)

    async def run(self) -> SessionResult:
        """Connect, play every turn, close; always returns a result (failures included)."""
        conversation = self._conversation
        error: VoxrayError | None = None
        microphone: Microphone | None = None
        mic_task: asyncio.Task[None] | None = None
        try:
            condition = self._script.condition
            if condition is not None:
                # A noise bed is seconds of audio to build (babble is synthesised): off the loop.
                self._line = await asyncio.to_thread(condition.line, self._rate, self._script.seed)
            await conversation.start()
            microphone = self._microphone = Microphone(
                conversation,
                rate=self._rate,
                chunk_ms=conversation.agent_chunk_ms,
                speed=self._speed,
                continuous=conversation.agent.turn_detection is not None,
                line=self._line,
            )
            mic_task = asyncio.create_task(
                microphone.run(), name=f"session-{conversation.session_id}-mic"
            )
            turns = self._script.turns
            for index, turn in enumerate(turns):
                following = turns[index + 1] if index + 1 < len(turns) else None
                await self._play(index, turn, microphone, following)
        except VoxrayError as failure:
            error = failure
        finally:
            await cancel_and_wait(mic_task)
            await conversation.aclose()
        error = error or conversation.failure or _failure_of(mic_task)
        # Rendering the recording and the result is CPU work on a finished conversation: off
        # the event loop, which in a packed host is shared with conversations still running.
        return await asyncio.to_thread(self._result, error)

    # --- turns -----------------------------------------------------------------------------

    async def _play(
        self, index: int, turn: UserTurn, microphone: Microphone, following: UserTurn | None
    ) -> None:
        conversation = self._conversation
        progress = _TurnProgress(index, _kind(turn), len(conversation.response_ids))
        self._turns.append(progress)
        match turn:
            case SayTurn() | BargeInTurn():
                speech = await self._synthesize(turn)
                await self._speak(microphone, speech, progress)
            case BackchannelTurn():
                await self._backchannel(turn, microphone, progress, following)
                return
            case AudioTurn():
                wav = await asyncio.to_thread(read_wav, turn.audio)
                audio = _to_mono_at(wav.samples, wav.rate, wav.channels, self._rate)
                await self._speak(microphone, audio, progress)
            case TextTurn():
                progress.speech_start_ms = progress.speech_end_ms = conversation.now_ms()
                conversation.send_text(turn.text)
            case WaitTurn():
                await asyncio.sleep(turn.wait_ms / 1000 / self._speed)
                return
        if isinstance(following, BargeInTurn | BackchannelTurn):
            # The next turn talks over this answer: listen only until it has played for a while.
            progress.answered = await self._await_reply_audio(
                progress.first_response, following.after_ms
            )
        else:
            progress.answered = await self._await_answer(progress.first_response)

    async def _speak(
        self,
        microphone: Microphone,
        audio: NDArray[np.int16],
        progress: _TurnProgress,
        *,
        murmur: bool = False,
    ) -> None:
        """Send an utterance. A ``murmur`` (a backchannel) neither sets the room's noise level
        (it is not the caller's speaking level) nor takes the floor (cutting the agent off for
        it is a false barge-in)."""
        if self._line is not None and not murmur:
            self._line.hear_utterance(audio)
        progress.speech_start_ms = microphone.position_ms
        self._collector.caller_has_floor = not murmur
        try:
            progress.speech_end_ms = await microphone.speak(audio)
        finally:
            self._collector.caller_has_floor = False
        if self._conversation.agent.turn_detection is None:
            self._conversation.commit_audio()

    async def _backchannel(
        self,
        turn: BackchannelTurn,
        microphone: Microphone,
        progress: _TurnProgress,
        following: UserTurn | None,
    ) -> None:
        """Murmur over the agent's answer, then listen until it (or what replaced it) ends."""
        speech = await self._synthesize(turn)
        if turn.level_db:
            quieter = speech.astype(np.float32) * np.float32(10 ** (turn.level_db / 20))
            speech = np.rint(quieter).astype(np.int16)
        await self._speak(microphone, speech, progress, murmur=True)
        # Let the provider's VAD decide (its silence window) whether that was a turn.
        detection = self._conversation.agent.turn_detection
        window_ms = detection.silence_duration_ms if detection is not None else 0
        await self._sleep_timeline(self._conversation.now_ms() + window_ms + 200)
        conversation = self._conversation
        if isinstance(following, BargeInTurn | BackchannelTurn):
            progress.answered = await self._await_reply_audio(
                progress.first_response, following.after_ms
            )
        elif len(conversation.response_ids) > progress.first_response:
            progress.answered = await self._await_answer(progress.first_response)
        else:
            # The agent talked on: wait for it to finish, as a listener would.
            progress.answered = await self._wait_until(lambda: conversation.idle)
            if progress.answered:
                await self._sleep_timeline(conversation.playback_end_ms)

    async def _synthesize(self, turn: SayTurn | BargeInTurn | BackchannelTurn) -> NDArray[np.int16]:
        # The caller condition's speaker (voice, rate, pitch) overrides what the turn wrote.
        condition = self._script.condition or _AS_WRITTEN
        spoken = condition.voice_for(turn.voice, turn.words_per_minute)
        key = (spoken.voice, spoken.words_per_minute, spoken.pitch)
        synthesizer = self._voices.get(key)
        if synthesizer is None:
            synthesizer = self._voices[key] = SpeechSynthesizer(
                voice=spoken.voice, words_per_minute=spoken.words_per_minute, pitch=spoken.pitch
            )
        match turn:
            case SayTurn():
                text = turn.say
            case BargeInTurn():
                text = turn.barge_in
            case BackchannelTurn():
                text = turn.backchannel
        speech = await asyncio.to_thread(synthesizer.synthesize, text)
        return _to_mono_at(speech.samples, speech.rate, 1, self._rate)

    async def _wait_until(self, condition: Callable[[], bool]) -> bool:
        """Wait (woken by conversation events) until ``condition``; False on reply timeout."""
        conversation = self._conversation
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._script.reply_timeout_s
        # One timer for the whole wait (not one per wake-up): it wakes the loop at the deadline.
        timer = loop.call_at(deadline, self._progress.set)
        try:
            while not condition():
                if conversation.failure is not None:
                    raise conversation.failure
                if loop.time() >= deadline:
                    self._collector.note(
                        TimelineEvent.TURN_TIMEOUT, {"after_s": self._script.reply_timeout_s}
                    )
                    return False
                self._progress.clear()
                await self._progress.wait()
        finally:
            timer.cancel()
        return True

    async def _sleep_timeline(self, until_ms: float) -> None:
        """Let the audio timeline reach ``until_ms`` (pacing, scaled by the speed factor)."""
        remaining_ms = until_ms - self._conversation.now_ms()
        if remaining_ms > 0:
            await asyncio.sleep(remaining_ms / 1000 / self._speed)

    async def _await_answer(self, responses_before: int) -> bool:
        """Wait until a response of this turn ended and nothing is pending; then let it play."""
        conversation = self._conversation
        answered = await self._wait_until(
            lambda: len(conversation.response_ids) > responses_before and conversation.idle
        )
        if answered:
            # The answer is scheduled on the playback timeline; the user listens until it ends.
            await self._sleep_timeline(conversation.playback_end_ms)
        return answered

    async def _await_reply_audio(self, responses_before: int, after_ms: int) -> bool:
        """Wait until the answer's audio has played for ``after_ms`` (to barge in there)."""
        conversation = self._conversation

        def first_audio() -> float | None:
            records = conversation.response_records()[responses_before:]
            return next((r.first_audio_ms for r in records if r.first_audio_ms is not None), None)

        if not await self._wait_until(lambda: first_audio() is not None):
            return False
        start = first_audio()
        assert start is not None
        await self._sleep_timeline(start + after_ms)
        return True

    # --- events ----------------------------------------------------------------------------

    def _on_event(self, event: ConversationEvent) -> None:
        # Audio and transcript deltas change nothing a turn waits for (the first audio of a
        # response comes with AgentSpeechStarted); they are most events, so they wake no one.
        if not isinstance(event, AgentAudio) and not (
            isinstance(event, AgentTranscript) and not event.final
        ):
            self._progress.set()
        match event:
            case UserTranscript(final=True, text=text) if self._turns:
                self._turns[-1].user_transcript = text
            case Interrupted(t_ms=t_ms) if self._turns:
                current = self._turns[-1]
                if current.interrupted_at_ms is None:
                    current.interrupted_at_ms = t_ms
            case _:
                pass

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
                    user_speech_start_ms=_round(progress.speech_start_ms),
                    interrupted_agent=progress.interrupted_at_ms is not None,
                    barge_in_stop_ms=_barge_in_stop(progress),
                )
            )
        lateness = self._microphone.lateness_ms if self._microphone is not None else ()
        return self._collector.result(error, turns=turns, frame_lateness_ms=lateness)


def _barge_in_stop(progress: _TurnProgress) -> float | None:
    """User speech start to agent audio stopping, for turns that interrupted the agent."""
    if progress.interrupted_at_ms is None or progress.speech_start_ms is None:
        return None
    return round(progress.interrupted_at_ms - progress.speech_start_ms, 1)


def _kind(turn: UserTurn) -> str:
    match turn:
        case BargeInTurn():
            return "barge_in"
        case BackchannelTurn():
            return "backchannel"
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


def _failure_of(task: asyncio.Task[None] | None) -> VoxrayError | None:
    """Why the microphone stopped on its own (a frame it could not send), if it did."""
    if task is None or not task.done() or task.cancelled():
        return None
    error = task.exception()
    if error is None or isinstance(error, VoxrayError):
        return error
    # A bug must show in the result, never vanish with the task.
    return VoxrayError(f"the microphone failed: {type(error).__name__}: {error}")
