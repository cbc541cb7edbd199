"""What the simulated server does with each client event (no sockets here).

:class:`SimProtocol` owns one session's state (configuration, conversation, input buffer, the
active response) and turns client frames into server events through an ``emit`` callback.
:mod:`actors.simulator.connection` pumps a websocket into it. Handlers refuse an event by
raising :class:`~actors.simulator.refusal.Refusal`, which becomes one ``error`` event.
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
from actors.realtime.items import ForceMessageItem
from actors.realtime.server_events import (
    ConversationCreated,
    ConversationInfo,
    ConversationItemAdded,
    ConversationItemInputAudioTranscriptionCompleted,
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
from actors.simulator.conversation import Conversation
from actors.simulator.ids import new_id
from actors.simulator.input_audio import InputAudioBuffer
from actors.simulator.item_ops import ItemOps, heard_placeholder
from actors.simulator.refusal import Refusal
from actors.simulator.responses import Emit, ResponsePlan, ResponseRun, ResponseStreamer
from actors.simulator.session import SessionUpdateRejected, SimSession
from actors.simulator.vad import SpeechStarted, SpeechStopped
from actors.simulator.voice import VoiceBank
from actors.simulator.wire_items import user_audio_message

__all__ = ["GREETING", "SimProtocol"]

logger = logging.getLogger("voxray.simulator")

GREETING = "Hello! How can I help you today?"
"""What the simulator says when asked to respond with no user input to answer."""


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
        self._items = ItemOps(self._conversation, emit, lambda: self._session.input_codec)
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
        conversation = ConversationInfo(id=self._conversation.id)
        await self._emit(ConversationCreated(conversation=conversation))

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
            unknown = getattr(exc, "reason", None) == "unknown_type"
            refusal = Refusal(
                exc.message,
                code="unknown_event" if unknown else "invalid_event_payload",
                error_type="invalid_event" if unknown else "invalid_request_error",
            )
            await self._refuse(refusal, getattr(exc, "event_id", None))
            return
        try:
            await self._dispatch(event)
        except Refusal as refusal:
            await self._refuse(refusal, event.event_id)
        except Exception:  # a simulator bug must not end the client's session
            logger.exception("%s: failed to handle %s", self._name, event.type)
            failure = Refusal(
                f"failed to handle {event.type}", code="internal_error", error_type="internal_error"
            )
            await self._refuse(failure, event.event_id)

    async def on_binary(self, data: bytes) -> None:
        """A binary frame: raw input audio in the session's input format."""
        try:
            await self._append_audio(data)
        except Refusal as refusal:
            await self._refuse(refusal, None)

    # ------------------------------------------------------------------ dispatch

    async def _dispatch(self, event: ClientEvent) -> None:
        match event:
            case SessionUpdate():
                await self._session_update(event)
            case InputAudioBufferAppend():
                try:
                    data = base64.b64decode(event.audio, validate=True)
                except (binascii.Error, ValueError):
                    raise Refusal(
                        "audio is not valid base64", code="invalid_audio", param="audio"
                    ) from None
                await self._append_audio(data)
            case InputAudioBufferCommit():
                await self._commit()
            case InputAudioBufferClear():
                self._input.clear()
                self._speech_item_id = None
                await self._emit(InputAudioBufferCleared())
            case ConversationItemCreate(item=item):
                if isinstance(item, ForceMessageItem):
                    await self._force_message(item)
                else:
                    await self._items.create(event, item)
            case ConversationItemDelete():
                await self._items.delete(event)
            case ConversationItemTruncate():
                await self._items.truncate(event)
            case ConversationItemRetrieve():
                raise Refusal(
                    "conversation.item.retrieve is not supported",
                    code="unsupported_event",
                    error_type="invalid_event",
                )
            case ResponseCreate():
                if self.active_response is not None:
                    raise self._already_active()
                metadata = event.response.metadata if event.response is not None else None
                await self._respond(metadata=metadata)
            case ResponseCancel():
                await self._cancel(event.response_id)
            case Pong():
                pass
            case _:
                assert_never(event)

    async def _force_message(self, item: ForceMessageItem) -> None:
        # xAI's scripted utterance: a full response lifecycle without response.create (§6.7).
        if self.active_response is not None:
            raise self._already_active()
        text = " ".join(part.text for part in item.content)
        await self._start(ResponsePlan(speech=text, metadata=None))

    async def _session_update(self, event: SessionUpdate) -> None:
        try:
            updated = self._session.apply(event.session)
        except SessionUpdateRejected as exc:
            raise Refusal(exc.message, code="invalid_session_config", param=exc.param) from None
        self._session = updated
        self._input.configure(updated.input_codec, updated.vad)
        await self._emit(SessionUpdated(session=updated.state()))

    # ------------------------------------------------------------------ input audio

    async def _append_audio(self, data: bytes) -> None:
        try:
            events = self._input.append(data)
        except AudioError as exc:
            raise Refusal(exc.message, code="invalid_audio", param="audio") from None
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
                    if active is not None:  # barge-in: the user talks over the response
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

    async def _commit(self) -> None:
        if self._session.vad is not None:
            raise Refusal(
                "input_audio_buffer.commit is only available when turn_detection is null",
                code="invalid_request_error",
            )
        buffered_ms = self._input.commit()
        if buffered_ms <= 0:
            raise Refusal(
                "Error committing input audio buffer: the buffer is empty",
                code="input_audio_buffer_commit_empty",
            )
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

    # ------------------------------------------------------------------ responses

    async def _cancel(self, response_id: str | None) -> None:
        active = self.active_response
        if active is None or (response_id is not None and response_id != active.id):
            raise Refusal(
                "Cancellation failed: no active response found", code="response_cancel_not_active"
            )
        await self._streamer.cancel(active, "client_cancelled")

    async def _respond(self, *, metadata: dict[str, str] | None) -> None:
        """Answer pending tool outputs, else pending user input, with a new response."""
        outputs = self._conversation.take_outputs()
        if outputs:
            answer = self._brain.after_tool(outputs)
            await self._start(ResponsePlan(speech=answer, metadata=metadata))
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

    def _already_active(self) -> Refusal:
        active = self.active_response
        in_progress = f" in progress: {active.id}" if active is not None else ""
        return Refusal(
            f"Conversation already has an active response{in_progress}. Wait until the "
            "response is finished before creating a new one.",
            code="conversation_already_has_active_response",
        )

    async def _refuse(self, refusal: Refusal, event_id: str | None) -> None:
        logger.debug("%s: error %s: %s", self._name, refusal.code, refusal.message)
        detail = ErrorDetail(
            type=refusal.error_type,
            code=refusal.code,
            message=refusal.message,
            param=refusal.param,
            event_id=event_id,
        )
        await self._emit(ErrorEvent(error=detail))
