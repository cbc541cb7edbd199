"""What a Twilio caller has heard, from mark acknowledgements.

Agent audio sent to Twilio is followed by a ``mark`` every ``mark_every_ms`` of it (100 ms: a
mark per 20 ms chunk would double the messages both ways for no audible precision), at the end
of each item, and when a response finishes; Twilio echoes a mark once the audio before it has
played. So the last acknowledged mark says exactly how much of which item
the caller heard: that, not what was sent, is where barge-in truncates. After a ``clear``,
Twilio echoes the marks still pending; they were forgotten when the clear was sent, so they
change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MarkLedger"]

_MULAW_BYTES_PER_MS = 8


@dataclass(frozen=True)
class _Pending:
    item_id: str
    end_ms: int


class MarkLedger:
    """Marks sent and acknowledged for one stream; a :class:`PlaybackProbe`."""

    def __init__(self, mark_every_ms: float = 100.0) -> None:
        self._mark_every_ms = mark_every_ms
        self._unmarked_ms = 0.0  # audio of the last item sent since its last mark
        self._pending: dict[str, _Pending] = {}
        self._sent_ms: dict[str, float] = {}
        self._last_item: str | None = None
        self._heard: _Pending | None = None
        self._seq = 0
        self.acknowledged = 0
        self.ignored = 0

    def before(self, item_id: str) -> str | None:
        """Audio of ``item_id`` is about to go out: the mark closing the previous item's
        unmarked tail, to send first, if there is one."""
        if self._last_item is not None and self._last_item != item_id:
            return self.flush()
        return None

    def sent(self, item_id: str, audio_bytes: int) -> str | None:
        """Audio of ``item_id`` went out; the name of a mark to send after it, when due."""
        ms = audio_bytes / _MULAW_BYTES_PER_MS
        self._sent_ms[item_id] = self._sent_ms.get(item_id, 0.0) + ms
        self._last_item = item_id
        self._unmarked_ms += ms
        if self._unmarked_ms >= self._mark_every_ms:
            return self.flush()
        return None

    def flush(self) -> str | None:
        """A mark for the audio sent since the last one (a response ended); None if none."""
        item_id = self._last_item
        if item_id is None or self._unmarked_ms <= 0:
            return None
        self._seq += 1
        self._unmarked_ms = 0.0
        name = f"voxray-{self._seq}"
        self._pending[name] = _Pending(item_id, int(self._sent_ms[item_id]))
        return name

    def acknowledged_mark(self, name: str) -> bool:
        """Twilio echoed ``name``; False when it is unknown or was cleared (ignored)."""
        pending = self._pending.pop(name, None)
        if pending is None:
            self.ignored += 1
            return False
        self.acknowledged += 1
        self._heard = pending
        # Marks are played in order: any still pending before this one were played too.
        for earlier in [key for key in self._pending if _seq_of(key) < _seq_of(name)]:
            del self._pending[earlier]
        return True

    def cleared(self) -> int:
        """A ``clear`` was sent: pending marks will be echoed but mean nothing; how many."""
        dropped = len(self._pending)
        self._pending.clear()
        self._unmarked_ms = 0.0
        # The cut item is finished (truncated or deleted): a later barge-in before new audio
        # must not cut it again (the provider would answer "item does not exist").
        self._last_item = None
        self._heard = None
        return dropped

    # --- PlaybackProbe ----------------------------------------------------------------------

    def playing(self) -> bool:
        """Audio was sent whose mark has not come back (or is not sent yet)."""
        return bool(self._pending) or self._unmarked_ms > 0

    def heard(self) -> tuple[str | None, int]:
        """The item last sent, and the ms of it the caller acknowledged hearing."""
        if self._last_item is None:
            return None, 0
        if self._heard is not None and self._heard.item_id == self._last_item:
            return self._last_item, self._heard.end_ms
        return self._last_item, 0


def _seq_of(name: str) -> int:
    return int(name.rsplit("-", 1)[1])
