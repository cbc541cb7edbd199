"""Client edits of the conversation: ``conversation.item.create`` / ``.delete`` / ``.truncate``.

Force messages are not handled here: they start a response, which is the protocol layer's job.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

from voxray.actors.realtime.client_events import (
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemTruncate,
)
from voxray.actors.realtime.items import (
    ContentPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudio,
    InputText,
    MessageItem,
)
from voxray.actors.realtime.server_events import (
    ConversationItemAdded,
    ConversationItemDeleted,
    ConversationItemTruncated,
    KnownServerEvent,
)
from voxray.actors.simulator.brain import PlannedCall
from voxray.actors.simulator.conversation import SimulatedConversation, UnknownItemError
from voxray.actors.simulator.ids import new_id
from voxray.actors.simulator.refusal import Refusal
from voxray.actors.simulator.transcription import heard_placeholder
from voxray.actors.simulator.wire_items import from_client_item

__all__ = ["Emit", "ItemOps", "heard_placeholder"]

Emit = Callable[[KnownServerEvent], Awaitable[None]]
"""Queue one server event for sending (blocks while the outbound queue is full)."""

# Clients compute the played time from byte counts and round; allow that much past the end.
_TRUNCATE_SLACK_MS = 1.0


class ItemOps:
    """Applies client item events to a :class:`SimulatedConversation` and acknowledges them."""

    def __init__(
        self,
        conversation: SimulatedConversation,
        emit: Emit,
        hear_clip: Callable[[bytes], Awaitable[str]],
    ) -> None:
        self._conversation = conversation
        self._emit = emit
        self._hear_clip = hear_clip

    async def create(
        self,
        event: ConversationItemCreate,
        item: MessageItem | FunctionCallItem | FunctionCallOutputItem,
    ) -> None:
        """Add the event's ``item`` (not a force message) and send ``conversation.item.added``."""
        item_id = item.id or new_id("item")
        if item_id in self._conversation:
            raise Refusal(
                f"an item with id {item_id!r} already exists",
                code="item_id_duplicate",
                param="item.id",
            )
        heard = await self._heard_in(item)
        reported = from_client_item(item_id, item, heard)
        try:
            previous = self._conversation.add(reported, event.previous_item_id)
        except UnknownItemError:
            raise Refusal(
                f"previous_item_id {event.previous_item_id!r} does not exist",
                code="item_not_found",
                param="previous_item_id",
            ) from None
        match item:
            case MessageItem(role="user"):
                self._conversation.add_user_turn(heard or "")
            case MessageItem(role="assistant"):
                # Seeded history (e.g. after a reconnect): what came before was answered.
                self._conversation.answered()
            case FunctionCallItem(call_id=call_id, name=name, arguments=arguments):
                self._conversation.open_call(call_id, PlannedCall(name, _arguments(arguments)))
            case FunctionCallOutputItem(call_id=call_id, output=output):
                self._conversation.add_output(call_id, output)
            case MessageItem():
                pass
        await self._emit(ConversationItemAdded(previous_item_id=previous, item=reported))

    async def delete(self, event: ConversationItemDelete) -> None:
        """Remove the item and send ``conversation.item.deleted``."""
        try:
            self._conversation.delete(event.item_id)
        except UnknownItemError:
            raise self._not_found(event.item_id) from None
        await self._emit(ConversationItemDeleted(item_id=event.item_id))

    async def truncate(self, event: ConversationItemTruncate) -> None:
        """Cut an assistant item's audio at ``audio_end_ms``; the ack carries what was heard."""
        audio = self._conversation.audio(event.item_id)
        if audio is None:
            if event.item_id not in self._conversation:
                raise self._not_found(event.item_id)
            raise Refusal(
                f"item {event.item_id!r} has no assistant audio to truncate",
                code="invalid_value",
                param="item_id",
            )
        if event.audio_end_ms > audio.sent_ms + _TRUNCATE_SLACK_MS:
            raise Refusal(
                f"audio_end_ms {event.audio_end_ms} is longer than the {audio.sent_ms:.0f} ms "
                f"of audio sent for item {event.item_id!r}",
                code="invalid_value",
                param="audio_end_ms",
            )
        transcript = audio.utterance.transcript_until(event.audio_end_ms)
        item = self._conversation.get(event.item_id)
        part = ContentPart(type="audio", transcript=transcript)
        self._conversation.replace(item.model_copy(update={"content": [part]}))
        await self._emit(
            ConversationItemTruncated(
                item_id=event.item_id,
                content_index=event.content_index,
                audio_end_ms=event.audio_end_ms,
                transcript=transcript,
            )
        )

    async def _heard_in(
        self, item: MessageItem | FunctionCallItem | FunctionCallOutputItem
    ) -> str | None:
        if not isinstance(item, MessageItem):
            return None
        heard: list[str] = []
        for part in item.content:
            if isinstance(part, InputText):
                heard.append(part.text)
            elif isinstance(part, InputAudio):
                try:
                    data = base64.b64decode(part.audio)
                except (binascii.Error, ValueError):
                    data = b""
                heard.append(await self._hear_clip(data) if data else heard_placeholder(0))
        return " ".join(heard)

    @staticmethod
    def _not_found(item_id: str) -> Refusal:
        return Refusal(f"item {item_id!r} does not exist", code="item_not_found", param="item_id")


def _arguments(arguments: str) -> dict[str, Any]:
    """Seeded call arguments as a mapping (anything but a JSON object becomes empty)."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
