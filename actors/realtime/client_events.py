"""Client → server events (protocol reference §4), one model per wire ``type``.

The client builds these and sends ``encode_client_event(event)``; the simulator reads frames
with :func:`parse_client_event`, leniently by default because real clients add OpenAI fields
xAI ignores (``max_output_tokens``, ``tool_choice``, ``tracing``, ...).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import Field, TypeAdapter, ValidationError, field_validator
from voxray.actors.realtime.base import LENIENT, OutboundModel, validation_error_to_protocol_error
from voxray.actors.realtime.items import ConversationItemParam
from voxray.actors.realtime.session_params import Modality, SessionParams

__all__ = [
    "ClientEvent",
    "ConversationItemCreate",
    "ConversationItemDelete",
    "ConversationItemRetrieve",
    "ConversationItemTruncate",
    "InputAudioBufferAppend",
    "InputAudioBufferClear",
    "InputAudioBufferCommit",
    "Pong",
    "ResponseCancel",
    "ResponseCreate",
    "ResponseParams",
    "SessionUpdate",
    "encode_client_event",
    "parse_client_event",
]

_MAX_METADATA_PAIRS: Final = 16
_MAX_METADATA_KEY_CHARS: Final = 64
_MAX_METADATA_VALUE_CHARS: Final = 512


class SessionUpdate(OutboundModel):
    """Change the session configuration; acknowledged by ``session.updated``."""

    type: Literal["session.update"] = "session.update"
    event_id: str | None = None
    session: SessionParams


class InputAudioBufferAppend(OutboundModel):
    """Append base64 audio (session input format) to the input buffer. ~100 ms per append."""

    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    event_id: str | None = None
    audio: str


class InputAudioBufferCommit(OutboundModel):
    """Commit the buffer as a user turn. Only allowed with manual turns (no server VAD)."""

    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"
    event_id: str | None = None


class InputAudioBufferClear(OutboundModel):
    """Discard the input buffer; acknowledged by ``input_audio_buffer.cleared``."""

    type: Literal["input_audio_buffer.clear"] = "input_audio_buffer.clear"
    event_id: str | None = None


class ConversationItemCreate(OutboundModel):
    """Add an item to the conversation; acknowledged by ``conversation.item.added``."""

    type: Literal["conversation.item.create"] = "conversation.item.create"
    event_id: str | None = None
    previous_item_id: str | None = None
    item: ConversationItemParam


class ConversationItemDelete(OutboundModel):
    """Remove an item. Support on xAI is shaky (§4 quirks)."""

    type: Literal["conversation.item.delete"] = "conversation.item.delete"
    event_id: str | None = None
    item_id: str


class ConversationItemTruncate(OutboundModel):
    """Cut an assistant item's audio at what was actually played (after a barge-in)."""

    emit_defaults: ClassVar[tuple[str, ...]] = ("type", "content_index")

    type: Literal["conversation.item.truncate"] = "conversation.item.truncate"
    event_id: str | None = None
    item_id: str
    content_index: int = Field(default=0, ge=0)
    audio_end_ms: int = Field(ge=0)


class ConversationItemRetrieve(OutboundModel):
    """Exists on the OpenAI wire; xAI rejects it. Modelled so the simulator can refuse it."""

    type: Literal["conversation.item.retrieve"] = "conversation.item.retrieve"
    event_id: str | None = None
    item_id: str


class ResponseParams(OutboundModel):
    """Per-response options of ``response.create`` (§4.2).

    ``instructions`` replace the session's for this response only; ``metadata`` is echoed on
    ``response.created``/``response.done`` (at most 16 pairs, keys ≤64, values ≤512 chars).
    """

    instructions: str | None = None
    metadata: dict[str, str] | None = None
    modalities: list[Modality] | None = None
    output_modalities: list[Modality] | None = None

    @field_validator("metadata")
    @classmethod
    def _check_metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return value
        if len(value) > _MAX_METADATA_PAIRS:
            raise ValueError(f"at most {_MAX_METADATA_PAIRS} pairs, got {len(value)}")
        for key, item in value.items():
            if len(key) > _MAX_METADATA_KEY_CHARS:
                raise ValueError(f"key {key[:20]!r}… longer than {_MAX_METADATA_KEY_CHARS}")
            if len(item) > _MAX_METADATA_VALUE_CHARS:
                raise ValueError(f"value of {key!r} longer than {_MAX_METADATA_VALUE_CHARS}")
        return value


class ResponseCreate(OutboundModel):
    """Ask for a response. Only one may be active; a second one gets an ``error``."""

    type: Literal["response.create"] = "response.create"
    event_id: str | None = None
    response: ResponseParams | None = None


class ResponseCancel(OutboundModel):
    """Cancel the active response (or the named one); answered by ``response.done`` cancelled."""

    type: Literal["response.cancel"] = "response.cancel"
    event_id: str | None = None
    response_id: str | None = None


class Pong(OutboundModel):
    """Answer to the undocumented ``ping``; harmless and probably unnecessary."""

    type: Literal["pong"] = "pong"
    event_id: str | None = None


ClientEvent = Annotated[
    SessionUpdate
    | InputAudioBufferAppend
    | InputAudioBufferCommit
    | InputAudioBufferClear
    | ConversationItemCreate
    | ConversationItemDelete
    | ConversationItemTruncate
    | ConversationItemRetrieve
    | ResponseCreate
    | ResponseCancel
    | Pong,
    Field(discriminator="type"),
]
"""Any client event, discriminated on ``type``."""

_CLIENT_EVENTS: Final[TypeAdapter[ClientEvent]] = TypeAdapter(ClientEvent)
_STRICT: Final[dict[str, Any]] = {"lenient": False}


def parse_client_event(data: str | bytes | dict[str, Any], *, lenient: bool = True) -> ClientEvent:
    """Parse one client frame (JSON text or an already-decoded object).

    With ``lenient`` (the default, for the simulator) keys a model does not declare are dropped;
    otherwise they are an error.

    Raises:
        EventParseError: a :class:`~voxray.actors.errors.ProtocolError` whose ``reason`` says what
        was
            wrong (malformed JSON, not an object, missing or unknown ``type``, invalid fields)
            and which carries the frame's ``event_type`` and ``event_id`` when it had them.
    """
    context = LENIENT if lenient else _STRICT
    try:
        if isinstance(data, dict):
            return _CLIENT_EVENTS.validate_python(data, context=context)
        return _CLIENT_EVENTS.validate_json(data, context=context)
    except ValidationError as error:
        raise validation_error_to_protocol_error(error, data, direction="client") from error


def encode_client_event(event: ClientEvent) -> str:
    """The JSON text to send for ``event`` (set fields only; explicit ``None`` as ``null``)."""
    return event.to_json()
