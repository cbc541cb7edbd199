"""The user's side of a session: input audio in, user turns out.

Audio appended to the input buffer runs through the server VAD (when on); a speech segment, a
manual ``input_audio_buffer.commit`` or an idle timeout becomes a committed user audio item
with what was heard (§6.2, §6.3, §6.11): ``committed``, ``conversation.item.added``,
``input_audio_transcription.completed``, with cumulative ``.updated`` partials during speech
when the session asks for ``grok-transcribe``. What a turn *causes* (a barge-in, a response) is
the protocol's business, reached through :class:`TurnListener`.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Final, Protocol

from voxray.actors.errors import AudioError
from voxray.actors.realtime.server_events import (
    ConversationItemAdded,
    ConversationItemInputAudioTranscriptionCompleted,
    ConversationItemInputAudioTranscriptionUpdated,
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    TranscriptionUsage,
)
from voxray.actors.simulator.context import Outbox
from voxray.actors.simulator.conversation import SimulatedConversation
from voxray.actors.simulator.hearing import Hearing
from voxray.actors.simulator.ids import new_id
from voxray.actors.simulator.input_audio import InputAudioBuffer
from voxray.actors.simulator.input_tally import InputTally
from voxray.actors.simulator.refusal import Refusal
from voxray.actors.simulator.session import SimSession
from voxray.actors.simulator.vad import SpeechStarted, SpeechStopped
from voxray.actors.simulator.wire_items import user_audio_message

__all__ = ["TurnListener", "UserAudio"]

_STREAMING_TRANSCRIBER: Final = "grok-transcribe"


class TurnListener(Protocol):
    """What the protocol does when the user side moves."""

    @property
    def caller_muted(self) -> bool:
        """Whether caller audio is dropped now (an uninterruptible force message plays)."""

    async def speech_started(self) -> None:
        """The user started talking (stop the idle timer; barge in on a response)."""

    async def turn_ended(self) -> None:
        """A VAD turn was committed: answer it unless a response is active."""


class UserAudio:
    """Input buffer, hearing and the user-turn events of one session."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        conversation: SimulatedConversation,
        hearing: Hearing,
        session: Callable[[], SimSession],
        listener: TurnListener,
        track_noise: bool = False,
    ) -> None:
        self._out = outbox
        self._conversation = conversation
        self._hearing = hearing
        self._session = session
        self._listener = listener
        first = session()
        self.input = InputAudioBuffer(first.input_codec, first.vad, track_noise=track_noise)
        self._speech_item_id: str | None = None
        self._speech_start_ms = 0.0
        self.tally = InputTally()
        """Every appended frame, counted and hashed in order."""

    def configure(self, before: SimSession, after: SimSession) -> None:
        """A session update: new input format or VAD settings."""
        if after.input_codec != before.input_codec:
            self._hearing.reset(after.input_codec.rate, self.input.position_ms)
        self.input.configure(after.input_codec, after.vad)

    async def append_b64(self, audio: str) -> None:
        """``input_audio_buffer.append``."""
        try:
            # strict_mode rejects what b64decode(validate=True) rejects, without its regular
            # expression pass over the text: 15 instead of 23 µs for a 100 ms append here.
            data = binascii.a2b_base64(audio, strict_mode=True)
        except (binascii.Error, ValueError):
            raise Refusal(
                "audio is not valid base64", code="invalid_audio", param="audio"
            ) from None
        await self.append(data)

    async def append(self, data: bytes) -> None:
        """Raw input audio (decoded base64, or a binary frame)."""
        self.tally.add(data)
        start_ms = self.input.position_ms
        try:
            samples, events = self.input.append(data, muted=self._listener.caller_muted)
        except AudioError as exc:
            raise Refusal(exc.message, code="invalid_audio", param="audio") from None
        self._hearing.listen(samples, start_ms)
        for vad_event in events:
            match vad_event:
                case SpeechStarted(audio_start_ms=start):
                    await self._speech_started(start)
                case SpeechStopped(audio_start_ms=start, audio_end_ms=end, speech_ms=speech):
                    await self._speech_stopped(start, end, speech)
        if self._speech_item_id is not None and self._session().transcription_model == (
            _STREAMING_TRANSCRIBER
        ):
            partial = await self._hearing.partial(self._speech_start_ms, self.input.position_ms)
            if partial is not None:
                update = ConversationItemInputAudioTranscriptionUpdated(
                    item_id=self._speech_item_id, content_index=0, transcript=partial
                )
                await self._out.send(update)

    async def commit(self) -> None:
        """``input_audio_buffer.commit`` (manual turns only)."""
        if self._session().vad is not None:
            raise Refusal(
                "input_audio_buffer.commit is only available when turn_detection is null",
                code="invalid_request_error",
            )
        buffered_ms = self.input.commit()
        if buffered_ms <= 0:
            raise Refusal(
                "Error committing input audio buffer: the buffer is empty",
                code="input_audio_buffer_commit_empty",
            )
        end_ms = self.input.position_ms
        heard = await self._hearing.heard(end_ms - buffered_ms, end_ms, buffered_ms)
        await self.commit_turn(new_id("item"), heard, buffered_ms)

    async def clear(self) -> None:
        """``input_audio_buffer.clear``."""
        self.input.clear()
        self._hearing.reset(self.input.codec.rate, self.input.position_ms)
        self._speech_item_id = None
        await self._out.send(InputAudioBufferCleared())

    async def commit_turn(self, item_id: str, heard: str, audio_ms: float) -> None:
        """Commit a user audio item with what was heard ("" for silence)."""
        previous = self._conversation.last_item_id
        await self._out.send(InputAudioBufferCommitted(item_id=item_id, previous_item_id=previous))
        item = user_audio_message(item_id, heard)
        self._conversation.add(item)
        if heard:
            self._conversation.add_user_turn(heard)
        await self._out.send(ConversationItemAdded(previous_item_id=previous, item=item))
        # Sent for every committed audio turn, the silent one of an idle timeout included.
        usage = TranscriptionUsage(type="duration", seconds=round(audio_ms / 1000, 3))
        await self._out.send(
            ConversationItemInputAudioTranscriptionCompleted(
                item_id=item_id, content_index=0, transcript=heard, usage=usage
            )
        )

    async def hear_clip(self, data: bytes) -> str:
        """What was heard in an ``input_audio`` content part."""
        codec = self._session().input_codec
        samples = codec.decode(data)
        return await self._hearing.heard_in(samples, codec.rate, codec.duration_ms(len(data)))

    async def _speech_started(self, start_ms: int) -> None:
        self._speech_item_id = new_id("item")
        self._speech_start_ms = float(start_ms)
        self._hearing.started(self.input.position_ms)
        started = InputAudioBufferSpeechStarted(
            item_id=self._speech_item_id, audio_start_ms=start_ms
        )
        await self._out.send(started)
        await self._listener.speech_started()

    async def _speech_stopped(self, start_ms: int, end_ms: int, speech_ms: int) -> None:
        item_id = self._speech_item_id or new_id("item")
        self._speech_item_id = None
        await self._out.send(InputAudioBufferSpeechStopped(item_id=item_id, audio_end_ms=end_ms))
        heard = await self._hearing.heard(start_ms, end_ms, speech_ms)
        await self.commit_turn(item_id, heard, end_ms - start_ms)
        await self._listener.turn_ended()
