"""Conversation items: what ``conversation.item.create`` sends, and what the server reports.

Outbound items (protocol reference §4.1) are strict :class:`OutboundModel`\\ s discriminated on
``type``. Assistant history may be seeded with content type ``text`` (xAI docs) or
``output_text`` (GA clients); both are accepted and the spelling given is kept.

Inbound, the server describes items in ``conversation.item.added``, ``response.output_item.*``
and ``response.done``; :class:`ServerItem` is one lenient shape for all item types, because xAI
mixes GA and beta spellings (e.g. assistant content parts typed ``audio``, not ``output_audio``).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field
from voxray.actors.realtime.base import InboundModel, OutboundModel

__all__ = [
    "ContentPart",
    "ConversationItemParam",
    "ForceMessageItem",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "InputAudio",
    "InputText",
    "MessageContent",
    "MessageItem",
    "OutputAudio",
    "OutputText",
    "ServerItem",
]


class InputText(OutboundModel):
    """User text content."""

    type: Literal["input_text"] = "input_text"
    text: str


class InputAudio(OutboundModel):
    """User audio content: base64 in the session's input format (billed as audio)."""

    type: Literal["input_audio"] = "input_audio"
    audio: str


class OutputText(OutboundModel):
    """Assistant text content: GA ``output_text`` or xAI-documented ``text``."""

    type: Literal["output_text", "text"] = "output_text"
    text: str


class OutputAudio(OutboundModel):
    """Assistant audio content for history seeding: ``audio`` (xAI) or ``output_audio`` (GA)."""

    type: Literal["audio", "output_audio"] = "audio"
    audio: str | None = None
    transcript: str | None = None


MessageContent = Annotated[
    InputText | InputAudio | OutputText | OutputAudio, Field(discriminator="type")
]


class MessageItem(OutboundModel):
    """A message (user input, or seeded assistant/system history). ``id`` is client-chosen."""

    id: str | None = None
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system"]
    content: list[MessageContent]


class FunctionCallItem(OutboundModel):
    """A past function call, for seeding tool-use history."""

    id: str | None = None
    type: Literal["function_call"] = "function_call"
    call_id: str
    name: str
    arguments: str


class FunctionCallOutputItem(OutboundModel):
    """The result of a function call. ``output`` is a string, usually JSON. Not billed."""

    id: str | None = None
    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str


class ForceMessageItem(OutboundModel):
    """xAI extension: make the assistant say exactly ``content``. Do not send ``response.create``.

    With ``interruptible=False`` caller audio is ignored until the utterance has played.
    """

    emit_defaults: ClassVar[tuple[str, ...]] = ("type", "role", "interruptible")

    type: Literal["force_message"] = "force_message"
    role: Literal["assistant"] = "assistant"
    interruptible: bool = True
    content: list[OutputText] = Field(min_length=1)


ConversationItemParam = Annotated[
    MessageItem | FunctionCallItem | FunctionCallOutputItem | ForceMessageItem,
    Field(discriminator="type"),
]


class ContentPart(InboundModel):
    """One content part as the server reports it (``audio``/``text``/``input_audio``/...)."""

    type: str
    text: str | None = None
    transcript: str | None = None
    audio: str | None = None


class ServerItem(InboundModel):
    """A conversation item as the server reports it; fields depend on ``type``.

    ``message`` items carry ``role`` and ``content``; ``function_call`` items carry ``call_id``,
    ``name`` and (once done) ``arguments``; ``function_call_output`` items carry ``output``.
    """

    emit_defaults: ClassVar[tuple[str, ...]] = ("object",)

    id: str | None = None
    object: str = "realtime.item"
    type: str
    status: str | None = None
    role: str | None = None
    content: list[ContentPart] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None
