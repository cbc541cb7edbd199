"""Server → client events (protocol reference §5), one lenient model per wire ``type``.

Leniency is deliberate and documented by observation: indexes (``output_index``,
``content_index``) are sometimes missing, ``output_index`` sometimes arrives as
``output_item_index``, ``response.content_part.done`` may lack ``part``, ``status_details`` may
be a string, and ``ping`` frames appear without documentation. Unknown fields are ignored, an
unknown ``type`` becomes :class:`UnknownServerEvent`, and only frames that cannot be understood
at all raise :class:`~voxray.actors.errors.ProtocolError`.

The simulator builds the same models and sends ``encode_server_event(event)``: fields it set
are sent (explicit ``None`` as ``null``), fields it left unset are omitted, which is how the
simulator reproduces the missing-index quirks.

Response events live in :mod:`~voxray.actors.realtime.response_events` and nested payloads in
:mod:`~voxray.actors.realtime.server_payloads`; both are re-exported here, so every server event
can be
imported from this module.
"""

from __future__ import annotations

import binascii
import json
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Final, Literal

import pydantic_core
from pydantic import Field, TypeAdapter, ValidationError
from voxray.actors.realtime.base import (
    LENIENT,
    EventParseError,
    load_json_object,
    validation_error_to_protocol_error,
)
from voxray.actors.realtime.items import ServerItem
from voxray.actors.realtime.response_events import (
    McpListToolsCompleted,
    McpListToolsFailed,
    McpListToolsInProgress,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseMcpCallArgumentsDelta,
    ResponseMcpCallArgumentsDone,
    ResponseMcpCallCompleted,
    ResponseMcpCallFailed,
    ResponseMcpCallInProgress,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseOutputTextDelta,
    ResponseOutputTextDone,
    ResponseTextDelta,
    ResponseTextDone,
)
from voxray.actors.realtime.server_payloads import (
    ContentEventBase,
    ConversationInfo,
    ErrorDetail,
    ItemEventBase,
    McpCallEventBase,
    McpError,
    ResponseInfo,
    ServerEventBase,
    TranscriptionUsage,
    Usage,
)
from voxray.actors.realtime.session_params import SessionState

__all__ = [
    "ContentEventBase",
    "ConversationCreated",
    "ConversationInfo",
    "ConversationItemAdded",
    "ConversationItemCreated",
    "ConversationItemDeleted",
    "ConversationItemInputAudioTranscriptionCompleted",
    "ConversationItemInputAudioTranscriptionUpdated",
    "ConversationItemTruncated",
    "ErrorDetail",
    "ErrorEvent",
    "InputAudioBufferCleared",
    "InputAudioBufferCommitted",
    "InputAudioBufferDtmfEventReceived",
    "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped",
    "InputAudioBufferTimeoutTriggered",
    "ItemEventBase",
    "KnownServerEvent",
    "McpCallEventBase",
    "McpError",
    "McpListToolsCompleted",
    "McpListToolsFailed",
    "McpListToolsInProgress",
    "OutputAudio",
    "OutputAudioBufferCleared",
    "OutputAudioBufferStarted",
    "OutputAudioBufferStopped",
    "Ping",
    "ResponseContentPartAdded",
    "ResponseContentPartDone",
    "ResponseCreated",
    "ResponseDone",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseFunctionCallArgumentsDone",
    "ResponseInfo",
    "ResponseMcpCallArgumentsDelta",
    "ResponseMcpCallArgumentsDone",
    "ResponseMcpCallCompleted",
    "ResponseMcpCallFailed",
    "ResponseMcpCallInProgress",
    "ResponseOutputAudioDelta",
    "ResponseOutputAudioDone",
    "ResponseOutputAudioTranscriptDelta",
    "ResponseOutputAudioTranscriptDone",
    "ResponseOutputItemAdded",
    "ResponseOutputItemDone",
    "ResponseOutputTextDelta",
    "ResponseOutputTextDone",
    "ResponseTextDelta",
    "ResponseTextDone",
    "ServerEvent",
    "ServerEventBase",
    "SessionCreated",
    "SessionUpdated",
    "TranscriptionUsage",
    "UnknownServerEvent",
    "Usage",
    "encode_server_event",
    "parse_server_event",
    "parse_server_frame",
]


# ---------------------------------------------------------------- session and input buffer


class SessionCreated(ServerEventBase):
    """First event on connect: the default session (voice ``xai_ara``, manual turns)."""

    type: Literal["session.created"] = "session.created"
    session: SessionState


class SessionUpdated(ServerEventBase):
    """Acknowledges ``session.update`` with a normalized echo of the session."""

    type: Literal["session.updated"] = "session.updated"
    session: SessionState


class ConversationCreated(ServerEventBase):
    """Second event on connect; keep ``conversation.id`` to resume later."""

    type: Literal["conversation.created"] = "conversation.created"
    conversation: ConversationInfo


class InputAudioBufferSpeechStarted(ServerEventBase):
    """Server VAD heard speech start (barge-in signal). ``audio_start_ms`` may be missing."""

    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    item_id: str
    audio_start_ms: int | None = None


class InputAudioBufferSpeechStopped(ServerEventBase):
    """Server VAD heard speech end."""

    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    item_id: str
    audio_end_ms: int | None = None


class InputAudioBufferCommitted(ServerEventBase):
    """The input buffer became the user item ``item_id``."""

    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None = None


class InputAudioBufferCleared(ServerEventBase):
    """Acknowledges ``input_audio_buffer.clear``."""

    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class InputAudioBufferTimeoutTriggered(ServerEventBase):
    """The idle timer fired: a silent user turn was committed and a check-in response follows."""

    type: Literal["input_audio_buffer.timeout_triggered"] = "input_audio_buffer.timeout_triggered"
    item_id: str
    previous_item_id: str | None = None
    audio_start_ms: int | None = None
    audio_end_ms: int | None = None


class InputAudioBufferDtmfEventReceived(ServerEventBase):
    """A DTMF key on a SIP call: ``event`` is the digit (``0-9*#``), ``received_at`` unix s."""

    type: Literal["input_audio_buffer.dtmf_event_received"] = (
        "input_audio_buffer.dtmf_event_received"
    )
    event: str
    received_at: int | float


# ---------------------------------------------------------------- output audio buffer (SIP)


class OutputAudioBufferStarted(ServerEventBase):
    """SIP only: the agent's audio of ``response_id`` started playing to the caller."""

    type: Literal["output_audio_buffer.started"] = "output_audio_buffer.started"
    response_id: str | None = None


class OutputAudioBufferStopped(ServerEventBase):
    """SIP only: the caller has heard all of the agent's audio of ``response_id``."""

    type: Literal["output_audio_buffer.stopped"] = "output_audio_buffer.stopped"
    response_id: str | None = None


class OutputAudioBufferCleared(ServerEventBase):
    """SIP only: audio not yet played to the caller was dropped (a barge-in)."""

    type: Literal["output_audio_buffer.cleared"] = "output_audio_buffer.cleared"
    response_id: str | None = None


# ---------------------------------------------------------------- conversation items


class ConversationItemAdded(ServerEventBase):
    """An item joined the conversation. May repeat for the same function call."""

    type: Literal["conversation.item.added"] = "conversation.item.added"
    previous_item_id: str | None = None
    item: ServerItem


class ConversationItemCreated(ServerEventBase):
    """Same shape as ``.added``; only seen when resumed history is replayed."""

    type: Literal["conversation.item.created"] = "conversation.item.created"
    previous_item_id: str | None = None
    item: ServerItem


class ConversationItemDeleted(ServerEventBase):
    """Acknowledges ``conversation.item.delete``. ``item_id`` may be ``""``."""

    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str


class ConversationItemTruncated(ServerEventBase):
    """Acknowledges a truncate; xAI adds ``transcript``: the text up to the cut."""

    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: int | None = None
    audio_end_ms: int
    transcript: str | None = None


class ConversationItemInputAudioTranscriptionUpdated(ServerEventBase):
    """xAI-only streaming transcript of user audio: **cumulative**, may revise earlier text."""

    type: Literal["conversation.item.input_audio_transcription.updated"] = (
        "conversation.item.input_audio_transcription.updated"
    )
    item_id: str
    content_index: int | None = None
    transcript: str


class ConversationItemInputAudioTranscriptionCompleted(ServerEventBase):
    """Final user transcript. May arrive several times per item (``status`` may say interim)."""

    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: int | None = None
    transcript: str
    status: str | None = None
    usage: TranscriptionUsage | None = None


# ---------------------------------------------------------------- errors, keepalive, unknown


class ErrorEvent(ServerEventBase):
    """An ``error``. Most are recoverable: the session stays open (§7)."""

    type: Literal["error"] = "error"
    error: ErrorDetail


class Ping(ServerEventBase):
    """Undocumented application keepalive (``timestamp`` in ms). Ignoring it is fine."""

    type: Literal["ping"] = "ping"
    timestamp: int | None = None


class UnknownServerEvent(ServerEventBase):
    """Any event whose ``type`` this module does not know. ``raw`` is the whole frame."""

    raw: dict[str, Any]


KnownServerEvent = Annotated[
    SessionCreated
    | SessionUpdated
    | ConversationCreated
    | InputAudioBufferSpeechStarted
    | InputAudioBufferSpeechStopped
    | InputAudioBufferCommitted
    | InputAudioBufferCleared
    | InputAudioBufferTimeoutTriggered
    | InputAudioBufferDtmfEventReceived
    | OutputAudioBufferStarted
    | OutputAudioBufferStopped
    | OutputAudioBufferCleared
    | ConversationItemAdded
    | ConversationItemCreated
    | ConversationItemDeleted
    | ConversationItemTruncated
    | ConversationItemInputAudioTranscriptionUpdated
    | ConversationItemInputAudioTranscriptionCompleted
    | ResponseCreated
    | ResponseDone
    | ResponseOutputItemAdded
    | ResponseOutputItemDone
    | ResponseContentPartAdded
    | ResponseContentPartDone
    | ResponseOutputAudioDelta
    | ResponseOutputAudioDone
    | ResponseOutputAudioTranscriptDelta
    | ResponseOutputAudioTranscriptDone
    | ResponseTextDelta
    | ResponseOutputTextDelta
    | ResponseTextDone
    | ResponseOutputTextDone
    | ResponseFunctionCallArgumentsDelta
    | ResponseFunctionCallArgumentsDone
    | McpListToolsInProgress
    | McpListToolsCompleted
    | McpListToolsFailed
    | ResponseMcpCallArgumentsDelta
    | ResponseMcpCallArgumentsDone
    | ResponseMcpCallInProgress
    | ResponseMcpCallCompleted
    | ResponseMcpCallFailed
    | ErrorEvent
    | Ping,
    Field(discriminator="type"),
]
"""Every server event type this module knows, discriminated on ``type``."""

ServerEvent = KnownServerEvent | UnknownServerEvent
"""What :func:`parse_server_event` returns."""

_KNOWN_SERVER_EVENTS: Final[TypeAdapter[KnownServerEvent]] = TypeAdapter(KnownServerEvent)


def parse_server_event(raw: str | bytes | dict[str, Any]) -> ServerEvent:
    """Parse one server frame (JSON text or an already-decoded object).

    An unknown ``type`` returns :class:`UnknownServerEvent`, never raises.

    Raises:
        EventParseError: a :class:`~voxray.actors.errors.ProtocolError` for malformed JSON, a frame
            that is not an object or has no string ``type``, or a known type whose fields are
            invalid (the message names the type and the field).
    """
    try:
        if isinstance(raw, dict):
            return _KNOWN_SERVER_EVENTS.validate_python(raw, context=LENIENT)
        return _KNOWN_SERVER_EVENTS.validate_json(raw, context=LENIENT)
    except ValidationError as error:
        failure = validation_error_to_protocol_error(error, raw, direction="server")
        if failure.reason != "unknown_type" or failure.event_type is None:
            raise failure from error
        frame = load_json_object(raw)
        if frame is None:  # pragma: no cover - classified as unknown_type only for objects
            raise failure from error
        return UnknownServerEvent(type=failure.event_type, event_id=failure.event_id, raw=frame)


@dataclass(frozen=True, slots=True)
class OutputAudio:
    """Agent audio, parsed on the hot path: a ``response.output_audio.delta`` with its base64
    decoded once, or a binary frame of raw codec bytes (``audio.output.transport: binary``),
    which names no response or item (``None``: the client's current one).

    Audio is most of what a server sends (50 deltas a second at 20 ms), so its frames skip the
    models' validation: :func:`parse_server_frame` reads the few fields it carries, and hands
    anything it cannot read that way to :func:`parse_server_event`, whose errors name the field.
    """

    response_id: str | None
    item_id: str | None
    audio: bytes
    base64: str | None = None
    """The delta's base64 text as it came (``None`` for a binary frame): a bridge that wants
    base64 (a Twilio media message) forwards it without encoding the audio again."""
    type: ClassVar[str] = "response.output_audio.delta"


_AUDIO_DELTA_TYPE: Final = "response.output_audio.delta"
_AUDIO_DELTA_MARK: Final = f'"{_AUDIO_DELTA_TYPE}"'


def parse_server_frame(data: str) -> ServerEvent | OutputAudio:
    """:func:`parse_server_event` for a text frame, with audio deltas on a fast path.

    An audio delta whose ids and ``delta`` are strings becomes :class:`OutputAudio` (its other
    fields — indexes, ``event_id`` — are not read); any other frame, or a delta with a field
    missing or mistyped, is parsed and checked in full.

    Raises:
        EventParseError: what :func:`parse_server_event` raises, or an audio delta whose
            ``delta`` is not base64.
    """
    if _AUDIO_DELTA_MARK in data:  # a substring scan: far cheaper than any parse
        audio = _audio_delta(data)
        if audio is not None:
            return audio
    return parse_server_event(data)


def _audio_delta(data: str) -> OutputAudio | None:
    try:
        frame = pydantic_core.from_json(data)
    except ValueError:
        return None  # the full parse reports the malformed JSON
    if not isinstance(frame, dict) or frame.get("type") != _AUDIO_DELTA_TYPE:
        return None
    response_id, item_id, delta = frame.get("response_id"), frame.get("item_id"), frame.get("delta")
    if not (isinstance(response_id, str) and isinstance(item_id, str) and isinstance(delta, str)):
        return None
    try:
        audio = binascii.a2b_base64(delta)
    except (binascii.Error, ValueError) as error:
        event_id = frame.get("event_id")
        raise EventParseError(
            f"{_AUDIO_DELTA_TYPE}: delta is not valid base64 ({error})",
            reason="invalid_payload",
            event_type=_AUDIO_DELTA_TYPE,
            event_id=event_id if isinstance(event_id, str) else None,
        ) from error
    return OutputAudio(response_id, item_id, audio, delta)


def encode_server_event(event: ServerEvent) -> str:
    """The JSON text the simulator sends for ``event``.

    Set fields are sent (an explicit ``None`` as ``null``); unset fields are omitted, never
    invented. :class:`UnknownServerEvent` is sent as its ``raw`` frame.
    """
    if isinstance(event, UnknownServerEvent):
        return json.dumps(event.raw, separators=(",", ":"), ensure_ascii=False)
    return event.model_dump_json(by_alias=True, exclude_unset=True)
