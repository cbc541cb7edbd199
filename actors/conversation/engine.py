"""The conversation engine: one realtime session, plain asyncio, testable without Ray.

It owns the websocket transport, the two audio paths, the simulated playback timeline, the
stereo recorder and the tool executor, and turns server events into consumer events. The Ray
actor around it (``actors/session.py``) is a thin shell.

What it fixes against the starting point: ``?model=`` is sent; exactly one ``session.update``
carries the configured instructions, VAD and tools; audio captured before ``session.updated`` is
buffered and flushed in order; deltas are decoded in order; barge-in cancels the response and
truncates (or deletes) the item at the milliseconds actually heard; ``response.create`` is never
sent while a response is active; every function call gets an output — errors included — and the
follow-up response is always requested; metrics and recording are per session.

Audio, per frame, does only what must happen per frame: input is resampled (when the caller's
rate is not the wire's), encoded and sent; agent deltas arrive from the transport's fast path
(``OutputAudio``: base64 decoded once, no model validation) and become samples that are views
of those bytes. The recording keeps both sides as they crossed the wire and renders them once,
when asked for. ``audio.{input,output}.transport: binary`` sends and receives raw codec bytes
in websocket binary frames instead of base64 in JSON.

Telephone passthrough (a caller on a phone line, formats ``pcmu``/``pcma`` at 8 kHz):
:meth:`Conversation.send_wire_audio` takes the caller's μ-law bytes and appends them as they
came; each :class:`AgentAudio` carries ``encoded``, the provider's μ-law bytes to play, and its
samples stay at 8 kHz (never resampled); :meth:`Conversation.add_wire_audio_listener` hands the
deltas' base64 as it came, for a bridge that speaks base64 (Twilio). The recording decodes and
resamples both sides once, at the end.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import time
from collections import deque
from collections.abc import Callable
from enum import Enum

import numpy as np
from numpy.typing import NDArray
from voxray.actors.cancel import cancel_and_wait
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.audio_paths import InputAudioPath
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.events import (
    AgentAudio,
    AgentSpeechEnded,
    AgentSpeechStarted,
    AgentTranscript,
    ConversationEvent,
    DtmfReceived,
    ErrorOccurred,
    Interrupted,
    ResponseFinished,
    ToolCallFinished,
    ToolCallStarted,
    UserSpeechEnded,
    UserSpeechStarted,
    UserTranscript,
)
from voxray.actors.conversation.history import ConversationHistory
from voxray.actors.conversation.passthrough import PlaybackProbe
from voxray.actors.conversation.phone_audio import PhoneAudio
from voxray.actors.conversation.reconnect import Reconnector
from voxray.actors.conversation.recorder import StereoRecorder
from voxray.actors.conversation.responses import ResponseRecord, ResponseTracker
from voxray.actors.conversation.session_update import build_session_update
from voxray.actors.conversation.speaker import Cut, Speaker
from voxray.actors.errors import (
    ConnectionLostError,
    ConnectTimeoutError,
    ProtocolError,
    ProviderError,
    VoxrayError,
)
from voxray.actors.realtime.client_events import (
    ClientEvent,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemTruncate,
    InputAudioBufferCommit,
    ResponseCancel,
    ResponseCreate,
)
from voxray.actors.realtime.frame_tap import FrameTap
from voxray.actors.realtime.items import (
    ForceMessageItem,
    FunctionCallOutputItem,
    InputText,
    MessageItem,
    OutputText,
)
from voxray.actors.realtime.server_events import (
    ConversationItemAdded,
    ConversationItemCreated,
    ConversationItemDeleted,
    ConversationItemInputAudioTranscriptionCompleted,
    ConversationItemInputAudioTranscriptionUpdated,
    ConversationItemTruncated,
    ErrorEvent,
    InputAudioBufferDtmfEventReceived,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    OutputAudio,
    OutputAudioBufferCleared,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputItemAdded,
    ServerEvent,
    SessionUpdated,
)
from voxray.actors.realtime.transport import (
    Inbound,
    RealtimeTransport,
    SocketClosed,
    TransportState,
)
from voxray.actors.tools.executor import ToolExecutor
from voxray.actors.tools.outcome import ToolOutcome

__all__ = ["Conversation", "EngineState"]

logger = logging.getLogger("voxray.conversation")

# Errors the protocol produces in normal races (barge-in vs. a response ending on its own);
# matched on the message because xAI's codes for them are not documented.
_BENIGN_ERROR_MARKERS = ("no active response", "already has an active response", "truncat")
_FATAL_ERROR_TYPES = frozenset({"max_duration", "timeout"})
_NORMAL_CLOSE = 1000

Listener = Callable[[ConversationEvent], None]
WireAudioListener = Callable[[str, str, str], None]
"""(response_id, item_id, base64 delta) of each agent audio delta, as it came off the wire."""


class EngineState(Enum):
    """Where a conversation is in its life."""

    NEW = "new"
    CONNECTING = "connecting"
    READY = "ready"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"
    FAILED = "failed"


class Conversation:
    """One realtime voice conversation.

    Args:
        agent: the session configuration.
        endpoint: where to connect, with the bearer key.
        tuning: engine knobs (timeouts, chunking, queue bounds, pacing).
        tools: the executor that runs function calls (a client of the tool pool).
        session_id: names tasks and log lines.
        clock: a monotonic clock in seconds (injected for tests).
        frame_tap: sees every frame of every connection (recording a cassette).
    """

    def __init__(
        self,
        agent: AgentConfig,
        endpoint: ProviderEndpoint,
        tuning: EngineTuning,
        tools: ToolExecutor,
        *,
        session_id: str,
        clock: Callable[[], float] = time.monotonic,
        frame_tap: FrameTap | None = None,
    ) -> None:
        self.agent = agent
        self._frame_tap = frame_tap
        self.session_id = session_id
        self._tuning = tuning
        self._tools = tools
        self._clock = clock
        self._endpoint = endpoint
        self._transport = self._new_transport()
        self._history = ConversationHistory(max_items=tuning.history_items)
        self._reconnector = Reconnector(
            agent, tuning, self._history, self._new_transport, clock=clock
        )
        self._deferred: list[ClientEvent] = []
        self._resume_response = False
        self._rolling_over: RealtimeTransport | None = None
        """The connection a planned rollover is closing: its close is not a drop."""
        self._input = InputAudioPath(agent.input_audio, chunk_ms=tuning.append_chunk_ms)
        self._input_bytes_per_ms = self._input.sample_bytes * agent.input_audio.rate / 1000
        self._responses = ResponseTracker()
        # The recording keeps both sides as they crossed the wire; it is decoded, resampled
        # and mixed once, when asked for (never per frame).
        self.recorder = StereoRecorder(
            tuning.recording_rate, user=agent.input_audio, agent=agent.output_audio
        )
        self._speaker = Speaker(
            agent.output_audio, consumer_rate=tuning.recording_rate, recorder=self.recorder
        )
        self._listeners: list[Listener] = []
        self._wire_audio_listeners: list[WireAudioListener] = []
        self._playback_probe: PlaybackProbe | None = None
        self._ready = asyncio.Event()
        self._closed = asyncio.Event()
        self._released = False
        self._early_audio: deque[bytes] = deque(
            maxlen=max(1, tuning.ready_buffer_ms // tuning.append_chunk_ms)
        )
        self._dispatch_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._t0: float | None = None
        self._user_audio_ms = 0.0
        self._phone_audio = PhoneAudio()  # SIP: agent audio the provider played to the phone
        self.failure: VoxrayError | None = None
        self.state = EngineState.NEW

    # --- lifecycle -----------------------------------------------------------------------

    def _new_transport(self) -> RealtimeTransport:
        return RealtimeTransport(
            self._endpoint,
            self.agent.model,
            name=f"session-{self.session_id}",
            connect_timeout_s=self._tuning.connect_timeout_s,
            max_queued_audio=self._tuning.input_queue_frames,
            on_event=self._on_inbound,
            binary_audio=self.agent.input_audio.transport == "binary",
            frame_tap=self._frame_tap,
        )

    async def start(self) -> None:
        """Connect, send the one ``session.update``, and wait for ``session.updated``."""
        if self.state is not EngineState.NEW:
            raise RuntimeError(f"conversation is {self.state.value}; start() runs once")
        self.state = EngineState.CONNECTING
        try:
            await self._transport.connect()
            self._reconnector.connected()
            self._dispatch_task = asyncio.create_task(
                self._dispatch_loop(), name=f"session-{self.session_id}-events"
            )
            self._transport.send_nowait(build_session_update(self.agent))
            await asyncio.wait_for(self._ready.wait(), timeout=self._tuning.connect_timeout_s)
        except TimeoutError:
            self._fail(
                ConnectTimeoutError(
                    f"no session.updated within {self._tuning.connect_timeout_s:g} s"
                )
            )
            raise self.failure from None  # type: ignore[misc]
        except VoxrayError as error:
            self._fail(error)
            raise
        if self.failure is not None:
            raise self.failure

    async def aclose(self) -> None:
        """Cancel tools and tasks, close the socket and the HTTP session. Idempotent.

        Runs its cleanup once, whatever state the conversation ended in: a failed session
        still has a socket, an HTTP session and tasks to release.
        """
        if self._released:
            return
        self._released = True
        if self.state is not EngineState.FAILED:
            self.state = EngineState.CLOSED
        self._closed.set()
        await self._tools.aclose()
        await cancel_and_wait(*self._background, self._dispatch_task)
        await self._transport.aclose()

    async def wait_closed(self) -> None:
        """Wait until the conversation ended (closed by us, or failed)."""
        await self._closed.wait()

    def add_listener(self, listener: Listener) -> None:
        """Receive every :class:`ConversationEvent`, synchronously, in order."""
        self._listeners.append(listener)

    def add_wire_audio_listener(self, listener: WireAudioListener) -> None:
        """Receive each agent audio delta as sent on the wire (base64, the output format), in
        order, before its :class:`AgentAudio`: a phone ingress passes it through untouched."""
        self._wire_audio_listeners.append(listener)

    def report_playback(self, probe: PlaybackProbe | None) -> None:
        """Let the caller's player say what was heard: barge-in then truncates at what
        ``probe`` reports (e.g. Twilio's acknowledged marks), not at the engine's estimate."""
        self._playback_probe = probe

    # --- clock ------------------------------------------------------------------------------

    def now_ms(self) -> float:
        """The audio timeline: ms since the session became ready, scaled by the pacing speed."""
        if self._t0 is None:
            return 0.0
        return (self._clock() - self._t0) * 1000.0 * self._tuning.speed

    @property
    def user_audio_ms(self) -> float:
        """How much microphone audio has been sent (its position on the timeline). On a SIP
        call, the call's length so far: the phone line carries the caller for the whole call."""
        if self._endpoint.call_id is not None:
            return self.now_ms()
        return self._user_audio_ms

    @property
    def playback_end_ms(self) -> float:
        """When the agent audio scheduled so far finishes playing."""
        return self._speaker.playback.end_ms

    @property
    def agent_audio_ms(self) -> float:
        """How much agent audio has arrived (on a SIP call: has played on the phone line, from
        ``output_audio_buffer.started`` to ``.stopped``/``.cleared``)."""
        return self._speaker.audio_ms + self._phone_audio.played_ms(self.now_ms())

    @property
    def idle(self) -> bool:
        """No response active or requested, no tool call running or awaiting its follow-up,
        and no reconnect under way (which may still owe the answer to a dropped response)."""
        return (
            self._responses.idle
            and self.state is not EngineState.RECONNECTING
            and not self._resume_response
        )

    @property
    def responses_done(self) -> int:
        """How many responses have ended so far."""
        return self._responses.done_count

    @property
    def agent_chunk_ms(self) -> int:
        """Audio per ``input_audio_buffer.append``."""
        return self._tuning.append_chunk_ms

    @property
    def response_ids(self) -> list[str]:
        """Every response seen so far, in the order they were created."""
        return self._responses.order

    def response_records(self) -> list[ResponseRecord]:
        """What each response produced, in creation order."""
        return [self._responses.records[r] for r in self._responses.order]

    @property
    def dropped_audio_chunks(self) -> int:
        """Outbound audio chunks dropped because the send queue was full."""
        return self._transport.statistics().dropped_audio

    @property
    def reconnects(self) -> int:
        """Replacement connections opened so far (drops and rollovers)."""
        return self._reconnector.count

    @property
    def usage(self) -> tuple[int, int]:
        """(input, output) tokens over all responses."""
        return self._responses.input_tokens, self._responses.output_tokens

    # --- input ------------------------------------------------------------------------------

    def send_audio(self, samples: NDArray[np.int16], *, rate: int, channels: int) -> None:
        """Send microphone audio. The caller states its rate and channel count."""
        self._sent_wire_audio(self._input.push(samples, rate=rate, channels=channels))

    def send_wire_audio(self, data: bytes) -> None:
        """Send audio already in the input wire format (``agent.input_audio``): μ-law bytes at
        8 kHz from a phone line for ``pcmu``, PCM16 LE at the wire rate for ``pcm``.

        Telephone passthrough: no decode, resample or re-encode; gathered into appends of
        ``append_chunk_ms``. The recording keeps the bytes and decodes them at the end.

        Raises:
            AudioError: bytes that are not whole samples of the wire encoding.
        """
        self._input.push_encoded(data)
        self._sent_wire_audio(data)

    def _sent_wire_audio(self, data: bytes) -> None:
        if data:
            self.recorder.add_user(data, self._user_audio_ms)
            self._user_audio_ms += len(data) / self._input_bytes_per_ms
        for payload in self._input.take_chunks():
            self._send_audio_payload(payload)

    def _send_audio_payload(self, payload: bytes) -> None:
        if self._ready.is_set() and self._transport.state is TransportState.OPEN:
            self._transport.send_audio_frame_nowait(payload)
        elif self.state in (EngineState.CLOSED, EngineState.FAILED):
            raise ConnectionLostError(f"session {self.session_id} has ended")
        else:
            # Connecting, or the socket has just gone and the dispatcher has yet to start
            # the reconnect: kept for the next connection (bounded: the oldest drops).
            self._early_audio.append(payload)

    def commit_audio(self) -> None:
        """End a manual (push-to-talk) turn and ask for the answer. Manual mode only."""
        if self.agent.turn_detection is not None:
            raise VoxrayError("commit_audio() is for manual turns; server VAD commits itself")
        for payload in self._input.take_chunks(final=True):
            self._transport.send_audio_frame_nowait(payload)
        self._send(InputAudioBufferCommit())
        self._request_response()

    def send_text(self, text: str) -> None:
        """A typed user turn: the item, then a response. No commit, even in VAD mode."""
        item = MessageItem(role="user", content=[InputText(text=text)])
        self._send(ConversationItemCreate(item=item))
        self._request_response()

    def say(self, text: str, *, interruptible: bool = True) -> None:
        """Speak ``text`` verbatim (xAI ``force_message``); the server starts the response.

        No ``response.create`` follows: the server runs the response lifecycle itself. With
        ``interruptible=False`` the caller's audio is ignored until the utterance ends.
        """
        item = ForceMessageItem(interruptible=interruptible, content=[OutputText(text=text)])
        self._send(ConversationItemCreate(item=item))

    # --- internals -------------------------------------------------------------------------

    def _send(self, event: ClientEvent) -> None:
        # A connection that has just closed (a rollover, a drop the dispatch loop has yet to
        # see) is about to be replaced: the event waits for the new one like any other.
        replacing = self.state is EngineState.RECONNECTING or (
            self.state is EngineState.READY and self._transport.state is not TransportState.OPEN
        )
        if replacing:
            self._deferred.append(event)  # sent, in order, once the new connection is ready
        else:
            self._transport.send_nowait(event)

    def _emit(self, event: ConversationEvent) -> None:
        for listener in self._listeners:
            listener(event)

    def _request_response(self) -> None:
        if self._responses.want_response():
            self._send(ResponseCreate())

    def _fail(self, error: VoxrayError) -> None:
        if self.failure is None:
            self.failure = error
            self._emit(ErrorOccurred(self.now_ms(), error.message, None, fatal=True))
        self.state = EngineState.FAILED
        self._ready.set()  # a start() still waiting for session.updated raises the failure now
        self._closed.set()

    async def _dispatch_loop(self) -> None:
        """Watch the connection's end: reconnect, roll over, or finish."""
        # aclose() marks the conversation closed before it cancels this loop: checked before
        # each wait too, so a replacement opened just as the close came is not waited on.
        while self.state not in (EngineState.CLOSED, EngineState.FAILED):
            transport = self._transport
            closed = await transport.closed()
            if self.state in (EngineState.CLOSED, EngineState.FAILED):
                return
            if self._endpoint.call_id is not None:
                self._end_call(closed)
                return
            cause: VoxrayError = (
                self._responses.fatal_error
                or closed.error
                or ConnectionLostError("the server closed the session")
            )
            self._responses.fatal_error = None
            # Planned only if this very connection was the one rolled over: a flag alone was
            # once taken by the close of an older connection, and the planned close of the new
            # one then counted as a drop.
            planned = self._rolling_over is transport
            self._rolling_over = None
            if not await self._recover(cause, planned=planned):
                return

    def _end_call(self, closed: SocketClosed) -> None:
        """A SIP call's socket closed: the call is over (there is nothing to re-attach to).

        A normal close (1000) is the caller hanging up; a provider error before it, or any
        other close, is the call's failure.
        """
        self._phone_audio.stopped(self.now_ms())  # nothing plays on a line that hung up
        fatal: VoxrayError | None = self._responses.fatal_error
        if fatal is None and closed.error is not None and closed.code != _NORMAL_CLOSE:
            fatal = closed.error
        if fatal is not None:
            self._fail(fatal)
            return
        self.state = EngineState.CLOSED
        self._closed.set()

    def _on_inbound(self, inbound: Inbound) -> None:
        """Every inbound item, called by the transport's reader, in order."""
        if self.state is EngineState.FAILED:
            return
        if isinstance(inbound, ProtocolError):
            # A malformed frame is reported and skipped; the session goes on.
            logger.warning("session %s: %s", self.session_id, inbound.message)
            self._emit(ErrorOccurred(self.now_ms(), inbound.message, "malformed_frame", False))
            return
        try:
            if isinstance(inbound, OutputAudio):  # most frames: straight to the speaker
                self._on_audio(self.now_ms(), inbound)
            else:
                self._handle(inbound)
        except VoxrayError as error:
            logger.warning("session %s: %s", self.session_id, error.message)
            self._emit(ErrorOccurred(self.now_ms(), error.message, None, fatal=False))
        except Exception as error:  # a bug must end this conversation visibly, never hang it
            logger.exception("session %s: handling %s failed", self.session_id, inbound.type)
            self._fail(
                VoxrayError(f"internal error on {inbound.type}: {type(error).__name__}: {error}")
            )

    def _handle(self, event: ServerEvent) -> None:
        now = self.now_ms()
        match event:
            case SessionUpdated():
                if not self._ready.is_set():
                    if self._t0 is None:
                        self._t0 = self._clock()
                    self.state = EngineState.READY
                    self._ready.set()
                    if not self._flush_waiting():
                        return
                    if self._resume_response:
                        self._resume_response = False
                        self._request_response()
            case InputAudioBufferSpeechStarted(item_id=item_id):
                self._emit(UserSpeechStarted(now, item_id or ""))
                if self._endpoint.call_id is None:
                    self._barge_in(now)
                else:
                    self._call_barge_in(now)
            case InputAudioBufferSpeechStopped(item_id=item_id):
                self._emit(UserSpeechEnded(now, item_id or ""))
            case ConversationItemInputAudioTranscriptionUpdated(item_id=item_id, transcript=text):
                self._emit(UserTranscript(now, item_id or "", text or "", final=False))
            case ConversationItemInputAudioTranscriptionCompleted(item_id=item_id, transcript=text):
                self._history.set_text(item_id or "", text or "")
                self._emit(UserTranscript(now, item_id or "", text or "", final=True))
            case ResponseCreated(response=response):
                self._responses.created(response.id or "", now)
            case ResponseOutputItemAdded(item=item):
                if item.type == "message" and item.id:
                    self._responses.message_item(item.id)
            case ConversationItemAdded(item=item) | ConversationItemCreated(item=item):
                self._history.added(item)
            case ConversationItemTruncated(item_id=item_id, transcript=text):
                self._history.set_text(item_id or "", text or "")
            case ConversationItemDeleted(item_id=item_id):
                self._history.deleted(item_id or "")
            case ResponseOutputAudioDelta(response_id=response_id, item_id=item_id, delta=delta):
                # Deltas come as OutputAudio from the transport's fast path; a model is handled
                # the same way.
                audio = OutputAudio(response_id, item_id, binascii.a2b_base64(delta), delta)
                self._on_audio(now, audio)
            case ResponseOutputAudioTranscriptDelta(response_id=response_id, delta=delta):
                self._responses.transcript_delta(response_id or "", delta or "", now)
                self._emit(AgentTranscript(now, response_id or "", delta or "", final=False))
            case ResponseOutputAudioTranscriptDone(
                response_id=response_id, item_id=item_id, transcript=text
            ):
                final = self._responses.transcript_done(response_id or "", text)
                self._history.set_text(item_id or "", final)
                self._emit(AgentTranscript(now, response_id or "", final, final=True))
            case ResponseFunctionCallArgumentsDone():
                self._start_tool_call(now, event)
            case ResponseDone(response=response):
                self._on_response_done(
                    now, response.id or "", response.status or "completed", response.usage
                )
            case ErrorEvent(error=detail):
                self._on_error(now, detail.type or "", detail.code, detail.message or "")
            case InputAudioBufferDtmfEventReceived(event=digit, received_at=received_at):
                self._emit(DtmfReceived(now, digit, float(received_at)))
            case OutputAudioBufferStarted(response_id=response_id):
                # SIP: the provider plays the audio to the phone and says when it starts.
                self._phone_audio.started(now)
                if self._responses.audio_scheduled(response_id or "", now, 0.0):
                    self._emit(AgentSpeechStarted(now, response_id or ""))
            case OutputAudioBufferStopped() | OutputAudioBufferCleared():
                self._phone_audio.stopped(now)
            case _:
                # ping, item added/created/deleted/truncated, content parts, MCP events and
                # unknown types carry nothing this engine acts on.
                pass

    def _on_audio(self, now: float, audio: OutputAudio) -> None:
        responses = self._responses
        # A binary frame names no response or item: it is the current one's.
        response_id = audio.response_id
        if response_id is None:
            response_id = responses.active_id or ""
        item_id = audio.item_id
        if item_id is None:
            item_id = responses.current_item or ""
        if responses.is_cancelled(response_id):
            return  # audio of a response we cut off must never play
        if self._wire_audio_listeners:
            delta = audio.base64
            if delta is None:
                delta = binascii.b2a_base64(audio.audio, newline=False).decode("ascii")
            for wire_listener in self._wire_audio_listeners:
                wire_listener(response_id, item_id, delta)
        scheduled = self._speaker.play(item_id, audio.audio, now)
        if responses.audio_scheduled(response_id, scheduled.start_ms, scheduled.wire_ms):
            self._emit(AgentSpeechStarted(scheduled.start_ms, response_id))
        self._emit(
            AgentAudio(
                scheduled.start_ms,
                response_id,
                scheduled.samples,
                self._speaker.rate,
                scheduled.encoded,
            )
        )

    def _call_barge_in(self, now: float) -> None:
        # On a SIP call the provider plays the audio and cuts it itself when the caller speaks:
        # there is nothing here to cancel or truncate, only the interruption to report.
        active = self._responses.active_id
        if active is not None:
            self._emit(Interrupted(now, active, 0, 0.0))

    def _barge_in(self, now: float) -> None:
        active = self._responses.active_id
        probe = self._playback_probe
        playing = probe.playing() if probe is not None else self._speaker.is_playing(now)
        if not playing and active is None:
            return
        cut = self._speaker.interrupt(now, fallback_item=self._responses.current_item)
        if probe is not None:
            # The caller's player knows what was heard; the timeline only guessed it.
            heard_item, heard_ms = probe.heard()
            item_id = heard_item or cut.item_id
            cut = Cut(item_id, heard_ms if heard_item else 0, cut.dropped_ms)
        if active is not None:
            self._send(ResponseCancel(response_id=active))
            self._responses.cancelled(active)
        if cut.item_id:
            if cut.played_ms > 0:
                self._send(
                    ConversationItemTruncate(
                        item_id=cut.item_id, content_index=0, audio_end_ms=cut.played_ms
                    )
                )
            else:
                self._send(ConversationItemDelete(item_id=cut.item_id))
        self._emit(Interrupted(now, active, cut.played_ms, cut.dropped_ms))

    def _start_tool_call(self, now: float, event: ResponseFunctionCallArgumentsDone) -> None:
        call_id = event.call_id or ""
        name = event.name or ""
        arguments = event.arguments or ""
        self._history.set_arguments(event.item_id or call_id, call_id, name, arguments)
        self._emit(ToolCallStarted(now, call_id, name, arguments))
        task = asyncio.create_task(
            self._tools.run(name, call_id, arguments),
            name=f"session-{self.session_id}-tool-{call_id}",
        )
        self._responses.tool_started(event.response_id or "", call_id, arguments, task)

    def _on_response_done(self, now: float, response_id: str, status: str, usage: object) -> None:
        calls = self._responses.finished(response_id, usage, now, status)
        self._emit(AgentSpeechEnded(self._speaker.playback.end_ms, response_id))
        input_tokens, output_tokens = self._responses.last_usage
        self._emit(ResponseFinished(now, response_id, status, input_tokens, output_tokens))
        if calls:
            task = asyncio.create_task(
                self._send_tool_outputs(calls), name=f"session-{self.session_id}-tool-outputs"
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        elif self._responses.take_queued_request():
            self._send(ResponseCreate())
        elif self.idle and self._reconnector.rollover_due():
            self._roll_over()

    async def _send_tool_outputs(
        self, calls: list[tuple[str, str, asyncio.Task[ToolOutcome]]]
    ) -> None:
        # Every call gets an output (errors included), then ONE response.create — whether or
        # not the model spoke before calling. Outputs keep the order the calls were made in.
        for _call_id, arguments, task in calls:
            outcome = await task
            self._emit(ToolCallFinished(self.now_ms(), outcome, arguments))
            item = FunctionCallOutputItem(call_id=outcome.call_id, output=outcome.output)
            self._send(ConversationItemCreate(item=item))
        self._responses.tool_outputs_sent()
        self._request_response()

    # --- resilience ------------------------------------------------------------------------

    def _roll_over(self) -> None:
        """Between turns, before the provider's maximum duration: move to a fresh connection."""
        transport = self._transport
        if self._endpoint.call_id is not None:
            return  # a SIP call lives on its one socket: closing it would hang up
        if self.state is not EngineState.READY or self._rolling_over is transport:
            # A reconnect is under way, or this connection is being replaced already (a late
            # event of the old connection must not close the new one).
            return
        self._rolling_over = transport
        task = asyncio.create_task(transport.aclose(), name=f"session-{self.session_id}-rollover")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _flush_waiting(self) -> bool:
        """Send what waited for this connection, in order; False if it closed meanwhile.

        The reader still delivers what arrived before a close, so a connection can be closed
        by the time its ``session.updated`` is handled: what did not go waits for the next
        connection instead of being lost.
        """
        deferred, self._deferred = self._deferred, []
        try:
            while deferred:
                self._transport.send_nowait(deferred[0])
                deferred.pop(0)
            while self._early_audio:
                self._transport.send_audio_frame_nowait(self._early_audio[0])
                self._early_audio.popleft()
        except ConnectionLostError:
            self._deferred = deferred + self._deferred
            self._ready.clear()
            self.state = EngineState.RECONNECTING  # the dispatch loop sees the close next
            return False
        return True

    async def _recover(self, cause: VoxrayError, *, planned: bool) -> bool:
        """Reconnect after a drop (or a planned rollover); False when the session had to end.

        Until the new connection is configured, events wait and go out in order; a response
        that was in flight is asked for again once the history has been re-seeded.
        """
        now = self.now_ms()
        try:
            if not planned:
                self._reconnector.check_retry(cause)
                self._emit(
                    ErrorOccurred(now, f"{cause.message}; reconnecting", "reconnecting", False)
                )
            self.state = EngineState.RECONNECTING
            self._ready.clear()
            self._resume_response = self._responses.abandon(now) or self._resume_response
            transport = await self._reconnector.reconnect(cause, planned=planned)
        except VoxrayError as error:
            self._fail(error)
            return False
        old, self._transport = self._transport, transport
        await old.aclose()
        return True  # the dispatch loop resumes; session.updated flushes what waited

    def _on_error(self, now: float, error_type: str, code: str | None, message: str) -> None:
        lowered = message.lower()
        if any(marker in lowered for marker in _BENIGN_ERROR_MARKERS):
            logger.debug("session %s: benign race: %s", self.session_id, message)
            if "already has an active response" in lowered:
                self._responses.requeue_after_conflict()
            return
        fatal = error_type in _FATAL_ERROR_TYPES
        if fatal:
            self._responses.fatal_error = ProviderError(
                f"the provider ended the session: {message}",
                error_type=error_type,
                code=code,
                retryable=error_type == "max_duration",
            )
        logger.warning("session %s: provider error %s: %s", self.session_id, error_type, message)
        self._emit(ErrorOccurred(now, message, code or error_type, fatal=fatal))
