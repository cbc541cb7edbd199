"""The simulated conversation: ordered items, user turns awaiting an answer, open tool calls.

Bounded: at most ``max_items`` items are kept; past that the oldest are forgotten (a session
that long only loses the ability to truncate or delete very old items).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from voxray.actors.realtime.items import ServerItem
from voxray.actors.simulator.brain import PlannedCall
from voxray.actors.simulator.voice import Utterance

__all__ = ["AssistantAudio", "SimulatedConversation", "UnknownItemError", "UserTurn"]


class UnknownItemError(KeyError):
    """An item id the conversation does not hold."""


@dataclass
class AssistantAudio:
    """The audio of one assistant item: what was rendered and how much of it was sent."""

    utterance: Utterance
    sent_ms: float = 0.0


@dataclass(frozen=True)
class UserTurn:
    """User input that has not been answered yet: everything heard, and the turn's index."""

    heard: str
    index: int


@dataclass
class _PendingCalls:
    calls: dict[str, PlannedCall] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)


class SimulatedConversation:
    """Items in order, plus the bookkeeping the brain needs to answer turns and tool outputs."""

    def __init__(self, conversation_id: str, *, max_items: int = 4096) -> None:
        self.id = conversation_id
        self._max_items = max_items
        self._items: OrderedDict[str, ServerItem] = OrderedDict()
        self._audio: dict[str, AssistantAudio] = {}
        self._unanswered: list[str] = []
        self._user_turns = 0
        self._pending = _PendingCalls()

    # ------------------------------------------------------------------ items

    @property
    def last_item_id(self) -> str | None:
        """Id of the newest item, the ``previous_item_id`` of the next one appended."""
        return next(reversed(self._items), None)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def get(self, item_id: str) -> ServerItem:
        """The item ``item_id``; raises :class:`UnknownItemError`."""
        try:
            return self._items[item_id]
        except KeyError:
            raise UnknownItemError(item_id) from None

    def add(self, item: ServerItem, previous_item_id: str | None = None) -> str | None:
        """Insert ``item`` after ``previous_item_id`` (``"root"``: first; None: last).

        Returns the id of the item now before it. Raises :class:`UnknownItemError` when
        ``previous_item_id`` names no item.
        """
        assert item.id is not None
        if previous_item_id is None or previous_item_id == self.last_item_id:
            before = self.last_item_id
            self._items[item.id] = item
        else:
            if previous_item_id != "root" and previous_item_id not in self._items:
                raise UnknownItemError(previous_item_id)
            before = None if previous_item_id == "root" else previous_item_id
            entries = list(self._items.items())
            at = 0 if before is None else [key for key, _ in entries].index(before) + 1
            entries.insert(at, (item.id, item))
            self._items = OrderedDict(entries)
        while len(self._items) > self._max_items:
            oldest, _ = self._items.popitem(last=False)
            self._audio.pop(oldest, None)
        return before

    def replace(self, item: ServerItem) -> None:
        """Store the newer state of an existing item (e.g. an assistant message once done)."""
        assert item.id is not None
        if item.id in self._items:
            self._items[item.id] = item

    def delete(self, item_id: str) -> None:
        """Remove ``item_id``; raises :class:`UnknownItemError`."""
        if item_id not in self._items:
            raise UnknownItemError(item_id)
        del self._items[item_id]
        self._audio.pop(item_id, None)

    def items(self) -> list[ServerItem]:
        """Every item, in conversation order."""
        return list(self._items.values())

    def adopt(self, other: SimulatedConversation) -> list[ServerItem]:
        """Continue ``other`` (resumption): its items go first, its open bookkeeping comes too.

        Returns the adopted items in order, for the ``conversation.item.created`` replay.
        """
        adopted = [item for key, item in other._items.items() if key not in self._items]
        merged: OrderedDict[str, ServerItem] = OrderedDict(
            (item.id, item) for item in adopted if item.id is not None
        )
        merged.update(self._items)
        self._items = merged
        self._audio = {**other._audio, **self._audio}
        self._unanswered = [*other._unanswered, *self._unanswered]
        self._user_turns += other._user_turns
        self._pending.calls = {**other._pending.calls, **self._pending.calls}
        self._pending.outputs = {**other._pending.outputs, **self._pending.outputs}
        return adopted

    def text_chars(self) -> int:
        """Characters of text and transcripts in the conversation (for plausible token usage)."""
        total = 0
        for item in self._items.values():
            for part in item.content or ():
                total += len(part.text or "") + len(part.transcript or "")
            total += len(item.arguments or "") + len(item.output or "")
        return total

    # ------------------------------------------------------------------ assistant audio

    def set_audio(self, item_id: str, utterance: Utterance) -> AssistantAudio:
        """Remember the rendered audio of an assistant item (for truncation)."""
        audio = AssistantAudio(utterance)
        self._audio[item_id] = audio
        return audio

    def audio(self, item_id: str) -> AssistantAudio | None:
        """The audio record of ``item_id``, if it is an assistant item that spoke."""
        return self._audio.get(item_id)

    # ------------------------------------------------------------------ user turns

    def add_user_turn(self, heard: str) -> None:
        """A user message or committed audio turn joined; the next response answers it."""
        self._user_turns += 1
        self._unanswered.append(heard)

    def answered(self) -> None:
        """An assistant message joined (seeded history): earlier input counts as answered."""
        self._unanswered.clear()
        self._pending.outputs.clear()

    def take_user_turn(self) -> UserTurn | None:
        """The unanswered user input (joined), consuming it; None if everything was answered."""
        if not self._unanswered:
            return None
        heard = " ".join(text.strip() for text in self._unanswered if text.strip())
        self._unanswered.clear()
        return UserTurn(heard=heard, index=self._user_turns)

    # ------------------------------------------------------------------ function calls

    def open_call(self, call_id: str, call: PlannedCall) -> None:
        """The simulated model made ``call``; its output is expected."""
        self._pending.calls[call_id] = call

    def add_output(self, call_id: str, output: str) -> None:
        """A ``function_call_output`` arrived for ``call_id``."""
        self._pending.outputs[call_id] = output

    def take_outputs(self) -> list[tuple[PlannedCall, str]]:
        """Outputs received so far, in call order, paired with their calls; consumes them.

        An output for a call the simulator never made (seeded history) is paired with a
        stand-in call named ``unknown``.
        """
        if not self._pending.outputs:
            return []
        pairs: list[tuple[PlannedCall, str]] = []
        for call_id, call in self._pending.calls.items():
            if call_id in self._pending.outputs:
                pairs.append((call, self._pending.outputs.pop(call_id)))
        for output in self._pending.outputs.values():
            pairs.append((PlannedCall(name="unknown", arguments={}), output))
        self._pending = _PendingCalls()
        return pairs
