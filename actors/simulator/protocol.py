"""What the simulated server does with each client event (no sockets here).

:class:`SimProtocol` owns one session's state (configuration, conversation, input buffer, the
active response) and turns parsed client frames into server events through an ``emit``
callback. :mod:`actors.simulator.connection` pumps a websocket into it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import random
from typing import assert_never

from actors.errors import AudioError, ProtocolError
from actors.realtime.client_events import (
    ClientEvent,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    Pong,
    ResponseCancel,
    ResponseCreate,
    SessionUpdate,
    parse_client_event,
)
from actors.realtime.items import (
    ContentPart,
    ForceMessageItem,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudio,
    InputText,
    MessageItem,
)
from actors.realtime.server_events import (
    ConversationCreated,
    ConversationInfo,
    ConversationItemAdded,
    ConversationItemDeleted,
    ConversationItemInputAudioTranscriptionCompleted,
    ConversationItemTruncated,
    ErrorDetail,
    ErrorEvent,
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    SessionCreated,
    SessionUpdated,
)
from actors.simulator.brain import Brain
from actors.simulator.config import SimulatorConfig
from actors.simulator.conversation import Conversation, UnknownItemError
from actors.simulator.ids import new_id
from actors.simulator.input_audio import InputAudioBuffer
from actors.simulator.responses import Emit, ResponsePlan, ResponseRun, ResponseStreamer
from actors.simulator.session import SessionUpdateRejected, SimSession
from actors.simulator.vad import SpeechStarted, SpeechStopped
from actors.simulator.voice import VoiceBank
from actors.simulator.wire_items import from_client_item, user_audio_message

__all__ = ["GREETING", "SimProtocol", "heard_placeholder"]

logger = logging.getLogger("voxray.simulator")

GREETING = "Hello! How can I help you today?"
"""What the simulator says when asked to respond with no user input to answer."""


def heard_placeholder(speech_ms: float) -> str:
    """What the simulator "heard" in user audio until real transcription exists."""
    return f"[speech {speech_ms / 1000:.1f} s]"


class SimProtocol:
    """The protocol behaviour of one simulated session."""

    def __init__(
        self,
        *,
        emit: Emit,
        config: SimulatorConfig,
        brain: Brain,
        model: str,
        voices: VoiceBank,
        rng: random.Random,
        name: str,
    ) -> None:
        self._emit = emit
        self._brain = brain
        self._name = name
        self._session = SimSession(model=model)
        self._conversation = Conversation(new_id("conv"))
        self._input = InputAudioBuffer(self._session.input_codec, self._session.vad)
        self._streamer = ResponseStreamer(
            emit=emit, voices=voices, config=config, conversation=self._conversation, rng=rng
        )
        self._active: ResponseRun | None = None
        self._speech_item_id: str | None = None
        self._tasks: asyncio.TaskGroup | None = None

    @property
    def session(self) -> SimSession:
        """The current session configuration."""
        return self._session

    @property
    def active_response(self) -> ResponseRun | None:
        """The response in flight, if one is not yet final."""
        active = self._active
        return active if active is not None and not active.final else None

    async def open(self, tasks: asyncio.TaskGroup) -> None:
        """Greet the client (``session.created``, ``conversation.created``).

        Responses run as tasks of ``tasks``, sharing the connection's fate.
        """
        self._tasks = tasks
        await self._emit(SessionCreated(session=self._session.state()))
        await self._emit(
            ConversationCreated(conversation=ConversationInfo(id=self._conversation.id))
        )

    def abort(self) -> None:
        """The connection is going away: stop the active response without any event."""
        if self._active is not None and self._active.task is not None:
            self._active.task.cancel()

    # ------------------------------------------------------------------ frames

    async def on_text(self, data: str) -> None:
        """Handle one JSON text frame; malformed or unknown events get an ``error``."""
        try:
            event = parse_client_event(data)
        except ProtocolError as exc:
            reason = getattr(exc, "reason", "json")
            await self._error(
                "invalid_event" if reason == "unknown_type" else "invalid_request_error",
                "unknown_event" if reason == "unknown_type" else f"invalid_{reason}",
                exc.message,
                event_id=getattr(exc, "event_id", None),
            )
            return
        try:
            await self._dispatch(event)
        except Exception:  # a simulator bug must not end the client's session
            logger.exception("%s: failed to handle %s", self._name, event.type)
            await self._error(
                "internal_error",
                "internal_error",
                f"failed to handle {event.type}",
                event_id=event.event_id,
            )

    async def on_binary(self, data: bytes) -> None:
        """A binary frame: raw input audio in the session's input format."""
        await self._append_audio(data, event_id=None)

    # ------------------------------------------------------------------ dispatch

    async def _dispatch(self, event: ClientEvent) -> None:
        match event:
            case SessionUpdate():
                await self._session_update(event)
            case InputAudioBufferAppend():
                try:
                    data = base64.b64decode(event.audio, validate=True)
                except (binascii.Error, ValueError):
                    await self._error(
                        "invalid_request_error",
                        "invalid_audio",
                        "audio is not valid base64",
                        param="audio",
                        event_id=event.event_id,
                    )
                    return
                await self._append_audio(data, event_id=event.event_id)
            case InputAudioBufferCommit():
                await self._commit(event)
            case InputAudioBufferClear():
                self._input.clear()
                self._speech_item_id = None
                await self._emit(InputAudioBufferCleared())
            case ConversationItemCreate():
                await self._item_create(event)
            case ConversationItemDelete():
                await self._item_delete(event)
            case ConversationItemTruncate():
                await self._item_truncate(event)
            case ConversationItemRetrieve():
                await self._error(
                    "invalid_event",
                    "unsupported_event",
                    "conversation.item.retrieve is not supported",
                    event_id=event.event_id,
                )
            case ResponseCreate():
                await self._response_create(event)
            case ResponseCancel():
                await self._response_cancel(event)
            case Pong():
                pass
            case _:
                assert_never(event)

    async def _session_update(self, event: SessionUpdate) -> None:
        try:
            updated = self._session.apply(event.session)
        except SessionUpdateRejected as exc:
            await self._error(
                "invalid_request_error",
                "invalid_session_config",
                exc.message,
                param=exc.param,
                event_id=event.event_id,
            )
            return
        self._session = updated
        self._input.configure(updated.input_codec, updated.vad)
        await self._emit(SessionUpdated(session=updated.state()))

    # ------------------------------------------------------------------ input audio

    async def _append_audio(self, data: bytes, *, event_id: str | None) -> None:
        try:
            events = self._input.append(data)
        except AudioError as exc:
            await self._error(
                "invalid_request_error",
                "invalid_audio",
                exc.message,
                param="audio",
                event_id=event_id,
            )
            return
        for vad_event in events:
            match vad_event:
                case SpeechStarted(audio_start_ms=start_ms):
                    self._speech_item_id = new_id("item")
                    await self._emit(
                        InputAudioBufferSpeechStarted(
                            item_id=self._speech_item_id, audio_start_ms=start_ms
                        )
                    )
                    active = self.active_response
                    if active is not None:
                        await self._streamer.cancel(active, "turn_detected")
                case SpeechStopped(audio_end_ms=end_ms, speech_ms=speech_ms):
                    item_id = self._speech_item_id or new_id("item")
                    self._speech_item_id = None
                    await self._emit(
                        InputAudioBufferSpeechStopped(item_id=item_id, audio_end_ms=end_ms)
                    )
                    await self._commit_user_audio(item_id, heard_placeholder(speech_ms))
                    if self.active_response is None:
                        await self._respond(metadata=None)

    async def _commit(self, event: InputAudioBufferCommit) -> None:
        if self._session.vad is not None:
            await self._error(
                "invalid_request_error",
                "invalid_request_error",
                "input_audio_buffer.commit is only available when turn_detection is null",
                event_id=event.event_id,
            )
            return
        buffered_ms = self._input.commit()
        if buffered_ms <= 0:
            await self._error(
                "invalid_request_error",
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: the buffer is empty",
                event_id=event.event_id,
            )
            return
        await self._commit_user_audio(new_id("item"), heard_placeholder(buffered_ms))

    async def _commit_user_audio(self, item_id: str, heard: str) -> None:
        previous = self._conversation.last_item_id
        await self._emit(InputAudioBufferCommitted(item_id=item_id, previous_item_id=previous))
        item = user_audio_message(item_id, heard)
        self._conversation.add(item)
        self._conversation.add_user_turn(heard)
        await self._emit(ConversationItemAdded(previous_item_id=previous, item=item))
        await self._emit(
            ConversationItemInputAudioTranscriptionCompleted(
                item_id=item_id, content_index=0, transcript=heard
            )
        )

    # ------------------------------------------------------------------ conversation items

    async def _item_create(self, event: ConversationItemCreate) -> None:
        item = event.item
        if isinstance(item, ForceMessageItem):
            await self._force_message(item, event.event_id)
            return
        item_id = item.id or new_id("item")
        if item_id in self._conversation:
            await self._error(
                "invalid_request_error",
                "item_id_duplicate",
                f"an item with id {item_id!r} already exists",
                param="item.id",
                event_id=event.event_id,
            )
            return
        heard = self._heard_in(item)
        reported = from_client_item(item_id, item, heard)
        try:
            previous = self._conversation.add(reported, event.previous_item_id)
        except UnknownItemError:
            await self._error(
                "invalid_request_error",
                "item_not_found",
                f"previous_item_id {event.previous_item_id!r} does not exist",
                param="previous_item_id",
                event_id=event.event_id,
            )
            return
        match item:
            case MessageItem(role="user"):
                self._conversation.add_user_turn(heard or "")
            case FunctionCallOutputItem(call_id=call_id, output=output):
                self._conversation.add_output(call_id, output)
            case MessageItem() | FunctionCallItem():
                pass
        await self._emit(ConversationItemAdded(previous_item_id=previous, item=reported))

    def _heard_in(
        self, item: MessageItem | FunctionCallItem | FunctionCallOutputItem
    ) -> str | None:
        if not isinstance(item, MessageItem):
            return None
        heard: list[str] = []
        codec = self._session.input_codec
        for part in item.content:
            if isinstance(part, InputText):
                heard.append(part.text)
            elif isinstance(part, InputAudio):
                try:
                    n_bytes = len(base64.b64decode(part.audio))
                except (binascii.Error, ValueError):
                    n_bytes = 0
                heard.append(heard_placeholder(codec.duration_ms(n_bytes)))
        return " ".join(heard)

    async def _force_message(self, item: ForceMessageItem, event_id: str | None) -> None:
        if self.active_response is not None:
            await self._active_error(event_id)
            return
        text = " ".join(part.text for part in item.content)
        await self._start(ResponsePlan(speech=text, metadata=None))

    async def _item_delete(self, event: ConversationItemDelete) -> None:
        try:
            self._conversation.delete(event.item_id)
        except UnknownItemError:
            await self._error(
                "invalid_request_error",
                "item_not_found",
                f"item {event.item_id!r} does not exist",
                param="item_id",
                event_id=event.event_id,
            )
            return
        await self._emit(ConversationItemDeleted(item_id=event.item_id))

    async def _item_truncate(self, event: ConversationItemTruncate) -> None:
        audio = self._conversation.audio(event.item_id)
        if audio is None:
            known = event.item_id in self._conversation
            await self._error(
                "invalid_request_error",
                "invalid_value" if known else "item_not_found",
                f"item {event.item_id!r} "
                + ("has no assistant audio to truncate" if known else "does not exist"),
                param="item_id",
                event_id=event.event_id,
            )
            return
        # One millisecond of slack: clients compute played time from byte counts and round.
        if event.audio_end_ms > audio.sent_ms + 1:
            await self._error(
                "invalid_request_error",
                "invalid_value",
                f"audio_end_ms {event.audio_end_ms} is longer than the "
                f"{audio.sent_ms:.0f} ms of audio sent for item {event.item_id!r}",
                param="audio_end_ms",
                event_id=event.event_id,
            )
            return
        transcript = audio.utterance.transcript_until(event.audio_end_ms)
        item = self._conversation.get(event.item_id)
        self._conversation.replace(
            item.model_copy(update={"content": [ContentPart(type="audio", transcript=transcript)]})
        )
        await self._emit(
            ConversationItemTruncated(
                item_id=event.item_id,
                content_index=event.content_index,
                audio_end_ms=event.audio_end_ms,
                transcript=transcript,
            )
        )

    # ------------------------------------------------------------------ responses

    async def _response_create(self, event: ResponseCreate) -> None:
        if self.active_response is not None:
            await self._active_error(event.event_id)
            return
        metadata = event.response.metadata if event.response is not None else None
        await self._respond(metadata=metadata)

    async def _response_cancel(self, event: ResponseCancel) -> None:
        active = self.active_response
        if active is None or (event.response_id is not None and event.response_id != active.id):
            await self._error(
                "invalid_request_error",
                "response_cancel_not_active",
                "Cancellation failed: no active response found",
                event_id=event.event_id,
            )
            return
        await self._streamer.cancel(active, "client_cancelled")

    async def _respond(self, *, metadata: dict[str, str] | None) -> None:
        """Answer pending tool outputs or user input with the brain, as a new response."""
        outputs = self._conversation.take_outputs()
        if outputs:
            await self._start(
                ResponsePlan(speech=self._brain.after_tool(outputs), metadata=metadata)
            )
            return
        turn = self._conversation.take_user_turn()
        if turn is None:
            await self._start(ResponsePlan(speech=GREETING, metadata=metadata))
            return
        decision = self._brain.decide(turn.heard, turn.index)
        speech = decision.preamble if decision.calls else decision.reply
        await self._start(ResponsePlan(speech=speech, calls=decision.calls, metadata=metadata))

    async def _start(self, plan: ResponsePlan) -> None:
        assert self._tasks is not None, "open() first"
        run = await self._streamer.begin(plan)
        self._active = run
        run.task = self._tasks.create_task(
            self._streamer.stream(run, self._session), name=f"{self._name}-{run.id}"
        )

    # ------------------------------------------------------------------ errors

    async def _active_error(self, event_id: str | None) -> None:
        active = self.active_response
        await self._error(
            "invalid_request_error",
            "conversation_already_has_active_response",
            "Conversation already has an active response"
            + (f" in progress: {active.id}" if active else "")
            + ". Wait until the response is finished before creating a new one.",
            event_id=event_id,
        )

    async def _error(
        self,
        error_type: str,
        code: str,
        message: str,
        *,
        param: str | None = None,
        event_id: str | None = None,
    ) -> None:
        logger.debug("%s: error %s/%s: %s", self._name, error_type, code, message)
        await self._emit(
            ErrorEvent(
                error=ErrorDetail(
                    type=error_type, code=code, message=message, param=param, event_id=event_id
                )
            )
        )
