"""The playback timeline: when each chunk of the agent's audio is heard.

A realtime client plays the agent's audio as it arrives, back to back. voxray runs without a real
loudspeaker, so this models the playback (:mod:`.speaker` decodes and records the agent's side
and places its chunks here): each chunk starts when it arrives or when the previous chunk ends,
whichever is later. From it come what barge-in needs — how much of an item was actually heard,
and what was still queued — and the first-audio time that response latency is measured to.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PlaybackTimeline", "ScheduledAudio"]


@dataclass
class ScheduledAudio:
    """A stretch of agent audio placed on the timeline (deltas that play back to back)."""

    item_id: str
    start_ms: float
    end_ms: float


class PlaybackTimeline:
    """Where each chunk of agent audio plays; what was heard; what is still queued."""

    def __init__(self) -> None:
        self._chunks: list[ScheduledAudio] = []
        self._end_ms = 0.0

    @property
    def end_ms(self) -> float:
        """When the last scheduled chunk finishes playing."""
        return self._end_ms

    def schedule(self, item_id: str, duration_ms: float, now_ms: float) -> float:
        """Place a chunk that arrived at ``now_ms``; returns where it starts playing."""
        start = max(now_ms, self._end_ms)
        end = start + duration_ms
        chunks = self._chunks
        last = chunks[-1] if chunks else None
        if last is not None and last.end_ms == start and last.item_id == item_id:
            # Back to back with the last chunk of the same item: one span per stretch of
            # speech, not one object per 20 ms delta (barge-in walks this list).
            last.end_ms = end
        else:
            chunks.append(ScheduledAudio(item_id, start, end))
        self._end_ms = end
        return start

    def is_playing(self, now_ms: float) -> bool:
        """Whether agent audio is audible (or queued) at ``now_ms``."""
        return now_ms < self._end_ms

    def played_ms(self, item_id: str, now_ms: float) -> int:
        """How many ms of ``item_id`` had been heard by ``now_ms``."""
        heard = 0.0
        for chunk in self._chunks:
            if chunk.item_id == item_id and chunk.start_ms < now_ms:
                heard += min(chunk.end_ms, now_ms) - chunk.start_ms
        return int(heard)

    def playing_item(self, now_ms: float) -> str | None:
        """The item audible at ``now_ms``, else the last item scheduled after it."""
        for chunk in reversed(self._chunks):
            if chunk.start_ms <= now_ms < chunk.end_ms:
                return chunk.item_id
        queued = [c for c in self._chunks if c.start_ms >= now_ms]
        return queued[0].item_id if queued else None

    def clear(self, now_ms: float) -> float:
        """Drop everything not yet heard at ``now_ms``; returns the ms of audio dropped."""
        dropped = 0.0
        kept: list[ScheduledAudio] = []
        for chunk in self._chunks:
            if chunk.start_ms >= now_ms:
                dropped += chunk.end_ms - chunk.start_ms
                continue
            if chunk.end_ms > now_ms:
                dropped += chunk.end_ms - now_ms
                chunk.end_ms = now_ms
            kept.append(chunk)
        self._chunks = kept
        self._end_ms = min(self._end_ms, now_ms)
        return dropped
