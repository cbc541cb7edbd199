"""A time-aligned stereo recording of a conversation: the user left, the agent right.

Each side is stored as segments placed on the audio timeline and mixed once at the end. When
barge-in clears the agent's queued playback, the agent channel is cut at the same instant, so
the recording holds what a listener heard, not what the server sent.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from actors.conversation.result import Recording

__all__ = ["StereoRecorder"]


class _Channel:
    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.segments: list[tuple[int, NDArray[np.int16]]] = []

    def add(self, at_ms: float, samples: NDArray[np.int16]) -> None:
        if samples.size:
            self.segments.append((round(at_ms * self.rate / 1000), samples))

    def cut(self, from_ms: float) -> None:
        cut_at = round(from_ms * self.rate / 1000)
        self.segments = [
            (start, samples[: cut_at - start]) for start, samples in self.segments if start < cut_at
        ]

    def render(self) -> NDArray[np.int16]:
        length = max((start + len(s) for start, s in self.segments), default=0)
        out = np.zeros(length, dtype=np.int32)
        for start, samples in self.segments:
            out[start : start + len(samples)] += samples
        return np.clip(out, -32768, 32767).astype(np.int16)


class StereoRecorder:
    """Collects both sides of a conversation on one timeline, at one sample rate.

    Callers resample with persistent streams before recording: resampling each segment on its
    own would put a seam at every boundary.
    """

    def __init__(self, rate: int) -> None:
        self._rate = rate
        self._user = _Channel(rate)
        self._agent = _Channel(rate)

    def add_user(self, samples: NDArray[np.int16], at_ms: float) -> None:
        """Audio the user's microphone sent, starting at ``at_ms``, at the recorder's rate."""
        self._user.add(at_ms, samples)

    def add_agent(self, samples: NDArray[np.int16], at_ms: float) -> None:
        """Agent audio scheduled to play from ``at_ms``, at the recorder's rate."""
        self._agent.add(at_ms, samples)

    def cut_agent(self, from_ms: float) -> None:
        """Barge-in cleared playback at ``from_ms``: the listener heard nothing after it."""
        self._agent.cut(from_ms)

    def to_recording(self) -> Recording:
        """Mix both channels into one interleaved stereo recording."""
        left = self._user.render()
        right = self._agent.render()
        length = max(len(left), len(right))
        stereo = np.zeros((length, 2), dtype=np.int16)
        stereo[: len(left), 0] = left
        stereo[: len(right), 1] = right
        return Recording(rate=self._rate, pcm=stereo.tobytes())
