"""Payload shapes nested in server events, and the field sets events share.

Everything here is lenient (:class:`InboundModel`): xAI leaves fields out and adds new ones.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AliasChoices, Field
from voxray.actors.realtime.base import InboundModel
from voxray.actors.realtime.items import ServerItem

__all__ = [
    "ContentEventBase",
    "ConversationInfo",
    "ErrorDetail",
    "ItemEventBase",
    "McpCallEventBase",
    "McpError",
    "ResponseInfo",
    "ServerEventBase",
    "TranscriptionUsage",
    "Usage",
]


class ConversationInfo(InboundModel):
    """``conversation.created.conversation``; ``id`` is the resumption key."""

    emit_defaults: ClassVar[tuple[str, ...]] = ("object",)

    id: str
    object: str = "realtime.conversation"


class Usage(InboundModel):
    """Token usage of a response. xAI sometimes sends it empty, so every field is optional."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    input_token_details: dict[str, Any] | None = None
    output_token_details: dict[str, Any] | None = None


class TranscriptionUsage(InboundModel):
    """Usage on a transcription event: token-based or duration-based; often missing."""

    type: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    seconds: float | None = None


class ResponseInfo(InboundModel):
    """The ``response`` object of ``response.created`` / ``response.done``.

    ``status``: ``in_progress``, then ``completed``/``cancelled``/``incomplete`` (or ``failed``).
    ``status_details`` is an object (OpenAI shape, e.g. ``{"error": {...}}``) or a bare string
    such as ``"unimplemented"`` (observed on xAI). ``metadata`` echoes ``response.create`` and is
    ``null`` for server-VAD auto-responses and force messages.
    """

    emit_defaults: ClassVar[tuple[str, ...]] = ("object", "output")

    id: str
    object: str = "realtime.response"
    status: str | None = None
    status_details: dict[str, Any] | str | None = None
    output: list[ServerItem] = Field(default_factory=list)
    usage: Usage | None = None
    metadata: dict[str, Any] | None = None


class ErrorDetail(InboundModel):
    """``error.error``. ``type`` is one of ``invalid_request_error``, ``invalid_event``,
    ``internal_error``, ``timeout``, ``max_duration``; ``event_id`` echoes the client event.
    ``message`` defaults to empty so an error is never lost to a parse failure."""

    type: str
    code: str | None = None
    message: str = ""
    param: str | None = None
    event_id: str | None = None


class McpError(InboundModel):
    """The ``error`` of a failed MCP listing or call."""

    type: str | None = None
    code: str | int | None = None
    message: str | None = None


# ---------------------------------------------------------------- event bases


class ServerEventBase(InboundModel):
    """Fields of every server event. ``event_id`` is always set by the simulator."""

    type: str
    event_id: str | None = None


class ItemEventBase(ServerEventBase):
    """An event about an item of a response. ``output_index`` may be missing or renamed."""

    response_id: str
    item_id: str
    output_index: int | None = Field(
        default=None, validation_alias=AliasChoices("output_index", "output_item_index")
    )


class ContentEventBase(ItemEventBase):
    """An event about one content part of a response item. Indexes may be missing."""

    content_index: int | None = None


class McpCallEventBase(ServerEventBase):
    """An event about one MCP call of a response."""

    response_id: str | None = None
    item_id: str
    output_index: int | None = None
