"""The conversation's items, kept locally so a new connection can be re-seeded with them.

Built only from what the server confirmed (``conversation.item.added`` and the events that fill
items in), so it mirrors the server's view: truncated items keep only what was heard, deleted
items are gone, repeated ``added`` events for one item count once. On reconnect,
:meth:`ConversationHistory.seed_events` turns it back into ``conversation.item.create`` events:
user audio becomes its transcript (the audio itself is not kept), assistant speech its text.
"""

from __future__ import annotations

from dataclasses import dataclass

from voxray.actors.realtime.client_events import ConversationItemCreate
from voxray.actors.realtime.items import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InputText,
    MessageItem,
    OutputText,
    ServerItem,
)

__all__ = ["ConversationHistory", "HistoryItem"]


@dataclass
class HistoryItem:
    """One item of the conversation as the server holds it."""

    item_id: str
    kind: str  # "user", "assistant", "function_call", "function_call_output"
    text: str = ""
    call_id: str = ""
    name: str = ""
    arguments: str = ""


class ConversationHistory:
    """Items in conversation order, bounded to the most recent ``max_items``."""

    def __init__(self, *, max_items: int = 200) -> None:
        self._items: dict[str, HistoryItem] = {}
        self._max_items = max_items

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[HistoryItem]:
        """The items, oldest first."""
        return list(self._items.values())

    def added(self, item: ServerItem) -> None:
        """``conversation.item.added`` / ``.created`` (idempotent per item id)."""
        if not item.id or item.id in self._items:
            return
        entry = _from_server_item(item)
        if entry is None:
            return
        self._items[item.id] = entry
        while len(self._items) > self._max_items:
            del self._items[next(iter(self._items))]

    def set_text(self, item_id: str, text: str) -> None:
        """A transcript arrived (user transcription, agent transcript, truncation)."""
        entry = self._items.get(item_id)
        if entry is not None and text:
            entry.text = text

    def set_arguments(self, item_id: str, call_id: str, name: str, arguments: str) -> None:
        """A function call's arguments are complete."""
        entry = self._items.get(item_id)
        if entry is None:
            entry = self._items[item_id] = HistoryItem(item_id, "function_call")
        entry.call_id, entry.name, entry.arguments = call_id, name, arguments

    def deleted(self, item_id: str) -> None:
        """``conversation.item.deleted``."""
        self._items.pop(item_id, None)

    def seed_events(self) -> list[ConversationItemCreate]:
        """The items as ``conversation.item.create`` events for a fresh connection."""
        events: list[ConversationItemCreate] = []
        for entry in self._items.values():
            item: MessageItem | FunctionCallItem | FunctionCallOutputItem
            match entry.kind:
                case "user" if entry.text:
                    item = MessageItem(role="user", content=[InputText(text=entry.text)])
                case "assistant" if entry.text:
                    item = MessageItem(
                        role="assistant", content=[OutputText(type="text", text=entry.text)]
                    )
                case "function_call" if entry.call_id and entry.name:
                    item = FunctionCallItem(
                        call_id=entry.call_id, name=entry.name, arguments=entry.arguments or "{}"
                    )
                case "function_call_output" if entry.call_id:
                    item = FunctionCallOutputItem(call_id=entry.call_id, output=entry.text)
                case _:
                    continue  # nothing the new connection could use (e.g. unheard audio)
            events.append(ConversationItemCreate(item=item))
        return events


def _from_server_item(item: ServerItem) -> HistoryItem | None:
    assert item.id is not None
    if item.type == "message" and item.role in ("user", "assistant"):
        text = " ".join(
            part.text or part.transcript or "" for part in item.content or () if part is not None
        ).strip()
        return HistoryItem(item.id, item.role, text=text)
    if item.type == "function_call":
        return HistoryItem(
            item.id,
            "function_call",
            call_id=item.call_id or "",
            name=item.name or "",
            arguments=item.arguments or "",
        )
    if item.type == "function_call_output":
        return HistoryItem(
            item.id, "function_call_output", call_id=item.call_id or "", text=item.output or ""
        )
    return None
