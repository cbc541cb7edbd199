"""A time-aligned stereo recording of a conversation: the user left, the agent right.

Each side is stored as segments placed on the audio timeline and mixed once at the end. When
barge-in clears the agent's queued playback, the agent channel is cut at the same instant, so
the recording holds what a listener heard, not what the server sent.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from voxray.actors.conversation.result import Recording

__all__ = ["StereoRecorder"]


class _Run:
    """Audio that plays without a gap: parts back to back from sample ``start`` to ``end``."""

    __slots__ = ("end", "parts", "start")

    def __init__(self, start: int, samples: NDArray[np.int16]) -> None:
        self.start = start
        self.end = start + len(samples)
        self.parts = [samples]

    def samples(self) -> NDArray[np.int16]:
        return self.parts[0] if len(self.parts) == 1 else np.concatenate(self.parts)


class _Channel:
    # Frames that continue the previous one join its run, so mixing loops over a few runs
    # (about one per utterance) and not over every 20 ms frame: at 1,500 frames (30 s) the
    # per-frame loop took 16 ms under the GIL, which stalled every other conversation of a
    # packed host as sessions ended.
    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.runs: list[_Run] = []

    def add(self, at_ms: float, samples: NDArray[np.int16]) -> None:
        if not samples.size:
            return
        start = round(at_ms * self.rate / 1000)
        if self.runs and self.runs[-1].end == start:
            last = self.runs[-1]
            last.parts.append(samples)
            last.end += len(samples)
        else:
            self.runs.append(_Run(start, samples))

    def cut(self, from_ms: float) -> None:
        cut_at = round(from_ms * self.rate / 1000)
        kept: list[_Run] = []
        for run in self.runs:
            if run.start >= cut_at:
                continue
            kept.append(
                run if run.end <= cut_at else _Run(run.start, run.samples()[: cut_at - run.start])
            )
        self.runs = kept

    @property
    def length(self) -> int:
        return max((run.end for run in self.runs), default=0)

    def render_into(self, out: NDArray[np.int16]) -> None:
        """Write the channel into ``out`` (zeros, at least ``length`` long)."""
        runs = sorted(self.runs, key=lambda run: run.start)
        reach = 0
        overlapping = False
        for run in runs:
            overlapping = overlapping or run.start < reach
            reach = max(reach, run.end)
        if not overlapping:  # the usual case: place each run, nothing to mix
            for run in runs:
                np.concatenate(run.parts, out=out[run.start : run.end])
            return
        mixed = np.zeros(reach, dtype=np.int32)
        for run in runs:
            mixed[run.start : run.end] += run.samples()
        out[:reach] = np.clip(mixed, -32768, 32767)


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
        stereo = np.zeros((max(self._user.length, self._agent.length), 2), dtype=np.int16)
        self._user.render_into(stereo[:, 0])
        self._agent.render_into(stereo[:, 1])
        return Recording(rate=self._rate, pcm=stereo.tobytes())
