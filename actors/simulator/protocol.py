"""What the simulated server does with each client event (no sockets here).

:class:`SimProtocol` owns one session's state (configuration, conversation, input buffer, the
active response, the idle timer) and turns client frames into server events through its
:class:`~voxray.actors.simulator.context.Outbox`. :mod:`voxray.actors.simulator.connection` pumps a
websocket
into it. Handlers refuse an event by raising :class:`~voxray.actors.simulator.refusal.Refusal`,
which
becomes one ``error`` event; the session stays open.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import random
import time
from collections.abc import Coroutine
from typing import Any, Final, assert_never

from voxray.actors.audio.g711 import mulaw_decode
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.errors import ProtocolError
from voxray.actors.realtime.client_events import (
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
from voxray.actors.realtime.items import ForceMessageItem
from voxray.actors.realtime.server_events import (
    ConversationCreated,
    ConversationInfo,
    ConversationItemCreated,
    ErrorDetail,
    ErrorEvent,
    InputAudioBufferDtmfEventReceived,
    InputAudioBufferTimeoutTriggered,
    McpListToolsCompleted,
    McpListToolsInProgress,
    SessionCreated,
    SessionUpdated,
)
from voxray.actors.simulator.context import Outbox, ServerContext, SessionSetup
from voxray.actors.simulator.conversation import SimulatedConversation
from voxray.actors.simulator.hearing import Hearing
from voxray.actors.simulator.idle import IdleTimer
from voxray.actors.simulator.ids import new_id
from voxray.actors.simulator.input_tally import InputTally
from voxray.actors.simulator.item_ops import ItemOps
from voxray.actors.simulator.refusal import Refusal
from voxray.actors.simulator.responses import ResponsePlan, ResponseRun, ResponseStreamer
from voxray.actors.simulator.session import SessionUpdateRejected, SimSession
from voxray.actors.simulator.user_audio import UserAudio

__all__ = ["GREETING", "SimProtocol"]

logger = logging.getLogger("voxray.simulator")

GREETING = "Hello! How can I help you today?"
"""What the simulator says when asked to respond with no user input to answer."""

# The hot inbound event, spelt as compact clients (voxray among them) send it.
_APPEND_HEAD: Final = '{"type":"input_audio_buffer.append","audio":"'
_APPEND_TAIL: Final = '"}'


class SimProtocol:
    """The protocol behaviour of one simulated session."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        context: ServerContext,
        setup: SessionSetup,
        rng: random.Random,
        name: str,
    ) -> None:
        self._out = outbox
        self._context = context
        self._brain = setup.brain
        self._name = name
        self._call = setup.call
        self._phone_resampler: StreamResampler | None = None
        self._session = SimSession(model=setup.model, reasoning_effort=setup.reasoning_effort)
        self._resumable: SimulatedConversation | None = None
        self._missing_conversation: str | None = None
        if setup.conversation_id is not None:
            self._resumable = context.conversations.find(setup.conversation_id)
            if self._resumable is None:
                self._missing_conversation = setup.conversation_id
        resumed_id = self._resumable.id if self._resumable is not None else None
        self._conversation = SimulatedConversation(resumed_id or new_id("conv"))
        self._user = UserAudio(
            outbox=outbox,
            conversation=self._conversation,
            hearing=Hearing(context.transcriber, self._session.input_codec.rate),
            session=lambda: self._session,
            listener=self,
            track_noise=self._brain.script.track_noise,
        )
        self._items = ItemOps(self._conversation, outbox.send, self._user.hear_clip)
        self._streamer = ResponseStreamer(
            outbox=outbox,
            voices=context.voices,
            config=context.config,
            conversation=self._conversation,
            rng=rng,
            latency=setup.latency,
            phone=setup.call,
        )
        self._idle = IdleTimer(self._idle_expired, speed=context.config.speed)
        self._active: ResponseRun | None = None
        self._tasks: asyncio.TaskGroup | None = None

    @property
    def session(self) -> SimSession:
        """The current session configuration."""
        return self._session

    @property
    def input_tally(self) -> InputTally:
        """What the caller appended so far (frames, bytes, an order-sensitive digest)."""
        return self._user.tally

    @property
    def conversation(self) -> SimulatedConversation:
        """The conversation of this session."""
        return self._conversation

    @property
    def active_response(self) -> ResponseRun | None:
        """The response in flight, if one is not yet final."""
        active = self._active
        return active if active is not None and not active.final else None

    async def open(self, tasks: asyncio.TaskGroup) -> None:
        """Greet the client (``session.created``, ``conversation.created``).

        Responses and the idle timer run as tasks of ``tasks``, sharing the connection's fate.
        """
        self._tasks = tasks
        self._idle.start(tasks)
        await self._out.send(SessionCreated(session=self._session.state()))
        conversation = ConversationInfo(id=self._conversation.id)
        await self._out.send(ConversationCreated(conversation=conversation))
        if self._missing_conversation is not None:
            await self._refuse(
                Refusal(
                    f"conversation {self._missing_conversation!r} cannot be resumed: unknown or "
                    "expired; a new conversation was started",
                    code="conversation_not_found",
                    param="conversation_id",
                ),
                None,
            )

    def abort(self) -> None:
        """The connection is going away: stop the active response and timers, no events."""
        self._idle.close()
        if self._active is not None and self._active.task is not None:
            self._active.task.cancel()

    def closed(self) -> None:
        """The connection is over: a resumable conversation stays available for a while."""
        self._context.conversations.release(self._conversation)

    # ------------------------------------------------------------------ frames

    async def on_text(self, data: str) -> None:
        """Handle one JSON text frame; malformed or unknown events get an ``error``."""
        if data.startswith(_APPEND_HEAD) and data.endswith(_APPEND_TAIL):
            # Skip the generic parser for the one event sent ten times a second. Whatever
            # sits between head and tail must be strict base64 (no quote, no escape), else
            # it is not this shape after all and the generic path decides. (strict_mode: the
            # check of b64decode(validate=True) without its regular-expression pass.)
            try:
                audio = binascii.a2b_base64(data[len(_APPEND_HEAD) : -2], strict_mode=True)
            except (binascii.Error, ValueError):
                pass
            else:
                await self._guarded(self._client_audio(audio), "input_audio_buffer.append", None)
                return
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
        await self._guarded(self._dispatch(event), event.type, event.event_id)

    async def on_binary(self, data: bytes) -> None:
        """A binary frame: raw input audio in the session's input format."""
        await self._guarded(self._client_audio(data), "input_audio_buffer.append", None)

    async def _client_audio(self, data: bytes) -> None:
        self._refuse_client_audio_on_a_call()
        await self._user.append(data)

    def _refuse_client_audio_on_a_call(self) -> None:
        if self._call is not None:
            raise Refusal(
                f"this session is attached to SIP call {self._call.call_id}: its input audio "
                "comes from the phone line",
                code="invalid_request_error",
            )

    # ------------------------------------------------------------------ the phone line (SIP)

    async def caller_audio(self, mulaw: bytes) -> None:
        """Audio from the attached call's phone line (μ-law 8 kHz) into the model's input."""
        codec = self._session.input_codec
        if codec.type == "audio/pcmu":
            data = mulaw
        else:
            resampler = self._phone_resampler
            if resampler is None or resampler.out_rate != codec.rate:
                resampler = self._phone_resampler = StreamResampler(8000, codec.rate)
            data = codec.encode(resampler.process(mulaw_decode(mulaw)))
        await self._guarded(self._user.append(data), "SIP caller audio", None)

    async def dtmf(self, digit: str) -> None:
        """The caller pressed a key: reported to the client (xAI also gives it to the model)."""
        event = InputAudioBufferDtmfEventReceived(event=digit, received_at=int(time.time()))
        await self._out.send(event)

    async def _guarded(
        self, handler: Coroutine[Any, Any, None], event_type: str, event_id: str | None
    ) -> None:
        try:
            await handler
        except Refusal as refusal:
            await self._refuse(refusal, event_id)
        except Exception:  # a simulator bug must not end the client's session
            logger.exception("%s: failed to handle %s", self._name, event_type)
            failure = Refusal(
                f"failed to handle {event_type}", code="internal_error", error_type="internal_error"
            )
            await self._refuse(failure, event_id)

    # ------------------------------------------------------------------ dispatch

    async def _dispatch(self, event: ClientEvent) -> None:
        match event:
            case SessionUpdate():
                await self._session_update(event)
            case InputAudioBufferAppend():
                self._refuse_client_audio_on_a_call()
                await self._user.append_b64(event.audio)
            case InputAudioBufferCommit():
                await self._user.commit()
            case InputAudioBufferClear():
                await self._user.clear()
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
            case ResponseCreate(response=params):
                if self.active_response is not None:
                    raise self._already_active()
                if params is None:
                    await self._respond(metadata=None)
                else:
                    modalities = params.output_modalities or params.modalities
                    await self._respond(
                        metadata=params.metadata,
                        instructions=params.instructions,
                        modalities=tuple(modalities) if modalities else None,
                    )
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
        plan = ResponsePlan(speech=text, interruptible=item.interruptible)
        await self._start(plan)

    async def _session_update(self, event: SessionUpdate) -> None:
        before = self._session
        try:
            updated = before.apply(event.session)
        except SessionUpdateRejected as exc:
            raise Refusal(exc.message, code=exc.code, param=exc.param) from None
        self._session = updated
        self._user.configure(before, updated)
        await self._out.send(SessionUpdated(session=updated.state()))
        await self._list_mcp_tools(before, updated)
        if updated.resumption:
            self._context.conversations.keep(self._conversation)
            if self._resumable is not None:
                await self._replay(self._resumable)
                self._resumable = None
        self._rearm_idle()

    async def _list_mcp_tools(self, before: SimSession, after: SimSession) -> None:
        # The service lists a remote MCP server's tools once it is configured (§6.6).
        known = {str(t.get("server_label")) for t in before.tools if t.get("type") == "mcp"}
        for tool in after.tools:
            if tool.get("type") == "mcp" and str(tool.get("server_label")) not in known:
                item_id = new_id("mcp")
                await self._out.send(McpListToolsInProgress(item_id=item_id))
                await self._out.send(McpListToolsCompleted(item_id=item_id))

    async def _replay(self, resumed: SimulatedConversation) -> None:
        # Resumption (§6.10): the earlier connection's items, before any new turn.
        previous: str | None = None
        for item in self._conversation.adopt(resumed):
            await self._out.send(ConversationItemCreated(previous_item_id=previous, item=item))
            previous = item.id

    # ------------------------------------------------------------------ user side (TurnListener)

    @property
    def caller_muted(self) -> bool:
        """Whether caller audio is dropped (an uninterruptible force message is playing)."""
        active = self.active_response
        return active is not None and not active.plan.interruptible

    async def speech_started(self) -> None:
        """The user started talking: no idle check-in; a response in flight is cut off."""
        self._idle.stop()
        active = self.active_response
        if active is not None:  # barge-in: the user talks over the response
            await self._streamer.cancel(active, "turn_detected")

    async def turn_ended(self) -> None:
        """A VAD turn was committed: answer it (server VAD creates the response itself)."""
        if self.active_response is None:
            await self._respond(metadata=None)

    # ------------------------------------------------------------------ idle timeout

    def _rearm_idle(self) -> None:
        vad = self._session.vad
        if vad is None or vad.idle_timeout_ms is None:
            self._idle.stop()
        elif self.active_response is None and not self._user.input.in_speech:
            self._idle.arm(vad.idle_timeout_ms, self._user.input.position_ms)

    async def _idle_expired(self, armed_at_ms: float) -> None:
        vad = self._session.vad
        if vad is None or vad.idle_timeout_ms is None or self.active_response is not None:
            return
        item_id = new_id("item")
        previous = self._conversation.last_item_id
        end_ms = max(self._user.input.position_ms, armed_at_ms + vad.idle_timeout_ms)
        await self._out.send(
            InputAudioBufferTimeoutTriggered(
                item_id=item_id,
                previous_item_id=previous,
                audio_start_ms=int(armed_at_ms),
                audio_end_ms=int(end_ms),
            )
        )
        self._user.input.commit()
        await self._user.commit_turn(item_id, "", end_ms - armed_at_ms)
        decision = self._brain.match(None, None, self._session.instructions)
        speech = decision.reply if decision is not None else None
        await self._start(ResponsePlan(speech=speech or self._brain.script.idle_reply))

    # ------------------------------------------------------------------ responses

    async def _cancel(self, response_id: str | None) -> None:
        active = self.active_response
        if active is None or (response_id is not None and response_id != active.id):
            raise Refusal(
                "Cancellation failed: no active response found", code="response_cancel_not_active"
            )
        await self._streamer.cancel(active, "client_cancelled")
        self._rearm_idle()

    async def _respond(
        self,
        *,
        metadata: dict[str, str] | None,
        instructions: str | None = None,
        modalities: tuple[str, ...] | None = None,
    ) -> None:
        """Answer pending tool outputs, else pending user input, with a new response.

        ``instructions`` and ``modalities`` are ``response.create``'s own, for this response.
        """
        effective = instructions if instructions is not None else self._session.instructions
        base = ResponsePlan(metadata=metadata, instructions=effective, modalities=modalities)
        outputs = self._conversation.take_outputs()
        if outputs:
            answer = self._brain.after_tool(outputs)
            await self._start(base.but(speech=answer))
            return
        turn = self._conversation.take_user_turn()
        if turn is None:
            decision = self._brain.match(None, None, effective)
            if decision is None:
                await self._start(base.but(speech=GREETING))
                return
        else:
            decision = self._brain.decide(turn.heard, turn.index, effective)
        speech = decision.preamble if decision.calls else decision.reply
        await self._start(base.but(speech=speech, calls=decision.calls))

    async def _start(self, plan: ResponsePlan) -> None:
        assert self._tasks is not None, "open() first"
        self._idle.stop()
        run = await self._streamer.begin(plan)
        self._active = run
        run.task = self._tasks.create_task(self._run(run), name=f"{self._name}-{run.id}")

    async def _run(self, run: ResponseRun) -> None:
        await self._streamer.stream(run, self._session)
        self._rearm_idle()

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
        await self._out.send(ErrorEvent(error=detail))
