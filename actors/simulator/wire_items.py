"""Builders of the :class:`ServerItem` shapes the simulator reports, in one place.

Shapes follow the protocol reference §5: user audio items carry ``input_audio`` parts with a
``transcript``; assistant messages carry ``audio`` parts (not GA ``output_audio``), like the
live service.
"""

from __future__ import annotations

from voxray.actors.realtime.items import (
    ContentPart,
    ForceMessageItem,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudio,
    InputText,
    MessageItem,
    OutputAudio,
    OutputText,
    ServerItem,
)

__all__ = [
    "assistant_message",
    "from_client_item",
    "function_call",
    "user_audio_message",
]


def user_audio_message(item_id: str, transcript: str) -> ServerItem:
    """A committed user audio turn, with what the simulator heard as its transcript."""
    return ServerItem(
        id=item_id,
        type="message",
        status="completed",
        role="user",
        content=[ContentPart(type="input_audio", transcript=transcript)],
    )


def assistant_message(
    item_id: str, status: str, said: str | None = None, *, kind: str = "audio"
) -> ServerItem:
    """An assistant message: no content while in progress, then its ``audio`` part (with the
    transcript) or its ``text`` part (text-only sessions)."""
    content: list[ContentPart] = []
    if said is not None:
        part = ContentPart(type="audio", transcript=said)
        if kind == "text":
            part = ContentPart(type="text", text=said)
        content.append(part)
    return ServerItem(id=item_id, type="message", status=status, role="assistant", content=content)


def function_call(
    item_id: str, call_id: str, name: str, status: str, arguments: str | None = None
) -> ServerItem:
    """A function call item; ``arguments`` only once the call is complete."""
    item = ServerItem(id=item_id, type="function_call", status=status, call_id=call_id, name=name)
    if arguments is not None:
        item.arguments = arguments
    return item


def _part(
    part: InputText | InputAudio | OutputText | OutputAudio, heard: str | None
) -> ContentPart:
    match part:
        case InputText(text=text):
            return ContentPart(type="input_text", text=text)
        case InputAudio():
            # The audio itself is not echoed back: it can be megabytes of base64.
            return ContentPart(type="input_audio", transcript=heard)
        case OutputText(type=kind, text=text):
            return ContentPart(type=kind, text=text)
        case OutputAudio(type=kind, transcript=transcript):
            return ContentPart(type=kind, transcript=transcript)


def from_client_item(
    item_id: str,
    item: MessageItem | FunctionCallItem | FunctionCallOutputItem | ForceMessageItem,
    heard: str | None = None,
) -> ServerItem:
    """How a ``conversation.item.create`` item is reported in ``conversation.item.added``.

    ``heard`` is the transcript given to ``input_audio`` parts.
    """
    match item:
        case MessageItem(role=role, content=content):
            return ServerItem(
                id=item_id,
                type="message",
                status="completed",
                role=role,
                content=[_part(part, heard) for part in content],
            )
        case FunctionCallItem(call_id=call_id, name=name, arguments=arguments):
            return function_call(item_id, call_id, name, "completed", arguments)
        case FunctionCallOutputItem(call_id=call_id, output=output):
            return ServerItem(
                id=item_id,
                type="function_call_output",
                status="completed",
                call_id=call_id,
                output=output,
            )
        case ForceMessageItem():
            return assistant_message(item_id, "in_progress")
