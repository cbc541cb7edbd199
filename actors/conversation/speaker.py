"""The agent's side of the audio: decode in order, schedule playback, record what was heard.

Deltas are turned into samples synchronously in arrival order and placed on the playback
timeline; the recording's agent channel keeps the delta's bytes on the same timeline. Barge-in
clears what was still queued, cuts the recording at that instant, and reports how much of the
item had actually been heard — the figure ``conversation.item.truncate`` needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from voxray.actors.conversation.agent import AudioFormatConfig
from voxray.actors.conversation.audio_paths import OutputAudioPath
from voxray.actors.conversation.playback import PlaybackTimeline
from voxray.actors.conversation.recorder import StereoRecorder

__all__ = ["Cut", "Scheduled", "Speaker"]


@dataclass(frozen=True)
class Scheduled:
    """A delta, decoded and placed on the timeline."""

    start_ms: float
    samples: NDArray[np.int16]
    wire_ms: float
    encoded: bytes


@dataclass(frozen=True)
class Cut:
    """What barge-in interrupted: the item, the ms of it heard, the ms never played."""

    item_id: str | None
    played_ms: int
    dropped_ms: float


class Speaker:
    """Plays (on the audio timeline) and records the agent's audio."""

    def __init__(
        self, wire: AudioFormatConfig, *, consumer_rate: int, recorder: StereoRecorder
    ) -> None:
        self.playback = PlaybackTimeline()
        self._output = OutputAudioPath(wire, consumer_rate=consumer_rate)
        self._recorder = recorder
        self._recorded_until_ms = 0.0
        self.audio_ms = 0.0

    @property
    def rate(self) -> int:
        """Sample rate of the decoded audio handed to consumers."""
        return self._output.consumer_rate

    def play(self, item_id: str, encoded: bytes, now_ms: float) -> Scheduled:
        """Schedule one delta (its wire bytes, decoded from base64) after what is queued."""
        samples = self._output.decode(encoded)
        wire_ms = len(encoded) / self._output.bytes_per_ms
        start = self.playback.schedule(item_id, wire_ms, now_ms)
        self.audio_ms += wire_ms
        # Laid end to end from where playback started (never over audio recorded already).
        at_ms = max(start, self._recorded_until_ms)
        self._recorder.add_agent(encoded, at_ms)
        self._recorded_until_ms = at_ms + wire_ms
        return Scheduled(start, samples, wire_ms, encoded)

    def is_playing(self, now_ms: float) -> bool:
        """Whether agent audio is audible or queued at ``now_ms``."""
        return self.playback.is_playing(now_ms)

    def interrupt(self, now_ms: float, *, fallback_item: str | None) -> Cut:
        """Stop now: drop what is queued, cut the recording, report what was heard."""
        item_id = self.playback.playing_item(now_ms) or fallback_item
        dropped = self.playback.clear(now_ms)
        self._recorder.cut_agent(now_ms)
        self._recorded_until_ms = now_ms
        self._output.reset()
        played = self.playback.played_ms(item_id, now_ms) if item_id else 0
        return Cut(item_id, played, dropped)
