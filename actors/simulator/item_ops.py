"""Client edits of the conversation: ``conversation.item.create`` / ``.delete`` / ``.truncate``.

Force messages are not handled here: they start a response, which is the protocol layer's job.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from actors.realtime.client_events import (
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemTruncate,
)
from actors.realtime.items import (
    ContentPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudio,
    InputText,
    MessageItem,
)
from actors.realtime.server_events import (
    ConversationItemAdded,
    ConversationItemDeleted,
    ConversationItemTruncated,
)
from actors.simulator.codec import WireCodec
from actors.simulator.conversation import Conversation, UnknownItemError
from actors.simulator.ids import new_id
from actors.simulator.refusal import Refusal
from actors.simulator.responses import Emit
from actors.simulator.wire_items import from_client_item

__all__ = ["ItemOps", "heard_placeholder"]

# Clients compute the played time from byte counts and round; allow that much past the end.
_TRUNCATE_SLACK_MS = 1.0


def heard_placeholder(speech_ms: float) -> str:
    """What the simulator "heard" in user audio until real transcription exists."""
    return f"[speech {speech_ms / 1000:.1f} s]"


class ItemOps:
    """Applies client item events to a :class:`Conversation` and acknowledges them."""

    def __init__(
        self, conversation: Conversation, emit: Emit, input_codec: Callable[[], WireCodec]
    ) -> None:
        self._conversation = conversation
        self._emit = emit
        self._input_codec = input_codec

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
        heard = self._heard_in(item)
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
            case FunctionCallOutputItem(call_id=call_id, output=output):
                self._conversation.add_output(call_id, output)
            case MessageItem() | FunctionCallItem():
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

    def _heard_in(
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
                    n_bytes = len(base64.b64decode(part.audio))
                except (binascii.Error, ValueError):
                    n_bytes = 0
                heard.append(heard_placeholder(self._input_codec().duration_ms(n_bytes)))
        return " ".join(heard)

    @staticmethod
    def _not_found(item_id: str) -> Refusal:
        return Refusal(f"item {item_id!r} does not exist", code="item_not_found", param="item_id")
