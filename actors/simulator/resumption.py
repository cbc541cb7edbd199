"""Conversations kept for resumption (``resumption.enabled`` + ``?conversation_id=``).

A session that enabled resumption registers its conversation here while it is open; when the
socket closes the conversation stays available for ``ttl_s`` (xAI: 30 min of inactivity). A
later connection that names it with ``?conversation_id=`` and also enables resumption gets its
items replayed as ``conversation.item.created`` and continues it (protocol reference §6.10).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from voxray.actors.simulator.conversation import SimulatedConversation

__all__ = ["ConversationStore"]


@dataclass
class _Entry:
    conversation: SimulatedConversation
    closed_at: float | None = None  # monotonic seconds; None while a session holds it


class ConversationStore:
    """Resumable conversations of one simulator, by conversation id."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        self._purge()
        return len(self._entries)

    def keep(self, conversation: SimulatedConversation) -> None:
        """``conversation`` is live and resumable (its session enabled resumption)."""
        self._purge()
        self._entries[conversation.id] = _Entry(conversation)

    def release(self, conversation: SimulatedConversation) -> None:
        """Its session ended: keep it for ``ttl_s`` from now (if it was resumable)."""
        entry = self._entries.get(conversation.id)
        if entry is not None and entry.conversation is conversation:
            entry.closed_at = self._clock()

    def find(self, conversation_id: str) -> SimulatedConversation | None:
        """The resumable conversation ``conversation_id``, or None (unknown or expired)."""
        self._purge()
        entry = self._entries.get(conversation_id)
        return entry.conversation if entry is not None else None

    def _purge(self) -> None:
        now = self._clock()
        stale = [
            key
            for key, entry in self._entries.items()
            if entry.closed_at is not None and now - entry.closed_at > self._ttl_s
        ]
        for key in stale:
            del self._entries[key]
