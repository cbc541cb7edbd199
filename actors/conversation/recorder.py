"""A time-aligned stereo recording of a conversation: the user left, the agent right.

Each side keeps its audio as it crossed the wire — the codec bytes sent in appends, the bytes
each delta carried — placed on the audio timeline; nothing is decoded, resampled or mixed per
frame. :meth:`StereoRecorder.to_recording` does that once, at the end: each side's runs are
decoded, resampled to the recording's rate with one stream per run, and mixed. When barge-in
clears the agent's queued playback, the agent channel is cut at the same instant, so the
recording holds what a listener heard, not what the server sent.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.conversation.agent import AudioFormatConfig
from voxray.actors.conversation.audio_paths import decode_wire, sample_bytes
from voxray.actors.conversation.result import Recording
from voxray.actors.errors import AudioError

__all__ = ["StereoRecorder"]


class _Run:
    """Audio that plays without a gap: parts back to back from sample ``start`` to ``end``."""

    __slots__ = ("end", "parts", "start")

    def __init__(self, start: int, data: bytes, samples: int) -> None:
        self.start = start
        self.end = start + samples
        self.parts = [data]

    def data(self) -> bytes:
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)


class _Channel:
    # Parts that continue the previous one join its run, so rendering loops over a few runs
    # (about one per utterance) and not over every 20 ms frame: at 1,500 frames (30 s) a
    # per-frame loop took 16 ms under the GIL, which stalled every other conversation of a
    # packed host as sessions ended.
    def __init__(self, rate: int, encoding: str) -> None:
        self.rate = rate
        self.encoding = encoding
        self.sample_bytes = sample_bytes(encoding)
        self.runs: list[_Run] = []

    def add(self, at_ms: float, data: bytes) -> None:
        if not data:
            return
        samples = len(data) // self.sample_bytes
        start = round(at_ms * self.rate / 1000)
        runs = self.runs
        if runs and runs[-1].end == start:
            last = runs[-1]
            last.parts.append(data)
            last.end += samples
        else:
            runs.append(_Run(start, data, samples))

    def cut(self, from_ms: float) -> None:
        cut_at = round(from_ms * self.rate / 1000)
        kept: list[_Run] = []
        for run in self.runs:
            if run.start >= cut_at:
                continue
            if run.end > cut_at:
                head = run.data()[: (cut_at - run.start) * self.sample_bytes]
                kept.append(_Run(run.start, head, cut_at - run.start))
            else:
                kept.append(run)
        self.runs = kept

    def rendered_runs(self, rate: int) -> list[tuple[int, NDArray[np.int16]]]:
        """Each run decoded and resampled to ``rate``, with its start in samples of ``rate``."""
        rendered: list[tuple[int, NDArray[np.int16]]] = []
        for run in sorted(self.runs, key=lambda r: r.start):
            samples = decode_wire(run.data(), self.encoding)
            start = run.start
            if rate != self.rate:
                # One stream per run, flushed: the filter spans the run, never its gaps.
                resampler = StreamResampler(self.rate, rate)
                samples = np.concatenate((resampler.process(samples), resampler.flush()))
                start = round(run.start * rate / self.rate)
            rendered.append((start, samples))
        return rendered


def _length(runs: list[tuple[int, NDArray[np.int16]]]) -> int:
    return max((start + len(samples) for start, samples in runs), default=0)


def _render_into(out: NDArray[np.int16], runs: list[tuple[int, NDArray[np.int16]]]) -> None:
    """Write a channel's runs into ``out`` (zeros, at least as long as the runs reach)."""
    reach = 0
    overlapping = False
    for start, samples in runs:
        overlapping = overlapping or start < reach
        reach = max(reach, start + len(samples))
    if not overlapping:  # the usual case: place each run, nothing to mix
        for start, samples in runs:
            out[start : start + len(samples)] = samples
        return
    mixed = np.zeros(reach, dtype=np.int32)
    for start, samples in runs:
        mixed[start : start + len(samples)] += samples
    out[:reach] = np.clip(mixed, -32768, 32767)


class StereoRecorder:
    """Collects both sides of a conversation on one timeline; renders them at ``rate``.

    Args:
        rate: sample rate of the rendered recording.
        user: the wire format of the user's audio (what :meth:`add_user` receives); PCM16 at
            ``rate`` when not given.
        agent: the same for the agent's audio (what :meth:`add_agent` receives).

    Raises:
        AudioError: ``rate`` is not a positive sample rate.
    """

    def __init__(
        self,
        rate: int,
        *,
        user: AudioFormatConfig | None = None,
        agent: AudioFormatConfig | None = None,
    ) -> None:
        if rate <= 0:
            raise AudioError(f"recording rate must be a positive sample rate, got {rate} Hz")
        self._rate = rate
        self._user = _Channel(user.rate, user.encoding) if user else _Channel(rate, "pcm")
        self._agent = _Channel(agent.rate, agent.encoding) if agent else _Channel(rate, "pcm")

    def add_user(self, data: bytes, at_ms: float) -> None:
        """Wire bytes the user's side sent, starting at ``at_ms``."""
        self._user.add(at_ms, data)

    def add_agent(self, data: bytes, at_ms: float) -> None:
        """Wire bytes of agent audio scheduled to play from ``at_ms``."""
        self._agent.add(at_ms, data)

    def cut_agent(self, from_ms: float) -> None:
        """Barge-in cleared playback at ``from_ms``: the listener heard nothing after it."""
        self._agent.cut(from_ms)

    def to_recording(self) -> Recording:
        """Decode, resample and mix both channels into one interleaved stereo recording."""
        user = self._user.rendered_runs(self._rate)
        agent = self._agent.rendered_runs(self._rate)
        stereo = np.zeros((max(_length(user), _length(agent)), 2), dtype=np.int16)
        _render_into(stereo[:, 0], user)
        _render_into(stereo[:, 1], agent)
        return Recording(rate=self._rate, pcm=stereo.tobytes())
