"""An energy voice-activity detector on the input audio timeline.

Everything is measured in samples received, never in wall-clock time, so the simulator's turn
decisions are the same whatever pace the client streams at.

Threshold mapping. xAI's ``turn_detection.threshold`` (0.1..0.9, default 0.85) is a model
probability; an energy VAD needs a level instead. The threshold maps linearly onto a start level
in dBFS of a 10 ms frame's RMS::

    start_dbfs = -46 + 20 * threshold        0.1 -> -44 dBFS (RMS ~206 of 32768)
                                             0.5 -> -36 dBFS (RMS ~519)
                                             0.85 -> -29 dBFS (RMS ~1163)
                                             0.9 -> -28 dBFS (RMS ~1305)

espeak-ng speech at its normal amplitude has frame RMS around 1,800 (median) to 4,700 (90th
percentile), overall about -21 dBFS, so it starts a turn at every allowed threshold, while
silence and low noise (RMS 100, -50 dBFS) never do. Once speech has started, frames count as
speech down to ``start - 9 dB`` (hysteresis, so quiet consonants do not split a turn) but never
below -44 dBFS, so low noise after a turn cannot keep it open. Speech starts after
``_ONSET_FRAMES`` loud frames in a row (a single click is not a turn) and stops after
``silence_duration_ms`` of non-speech frames (the hangover).

Background noise. A real server's VAD is a model that tells a voice from a café or a street;
an energy VAD has to be told the noise level. So the detector follows the noise floor
(:mod:`.noise_floor`: minimum statistics over the last 5 s), and speech must also stand
``_START_OVER_FLOOR_DB`` (10 dB) above that floor to start a turn and ``_KEEP_OVER_FLOOR_DB``
(10 dB) above it to keep one open. The simulator turns this on per scenario
(``BrainScript.track_noise``, set by the driver when the caller condition adds noise); a bare
:class:`EnergyVad` judges levels alone. Over digital
silence or low noise the floor is far below the levels above and nothing changes; under
steady noise loud enough to hold a turn open forever, a turn still ends when the caller
stops. A short, loud sound (an "uh-huh" over the agent) still starts a turn, as on the real
service: the threshold decides, not the length.

Reported times follow the OpenAI/xAI convention: ``audio_start_ms`` includes
``prefix_padding_ms`` before the onset, ``audio_end_ms`` is where the hangover ended (the end of
the audio committed for the turn).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from voxray.actors.simulator.noise_floor import NoiseFloor

__all__ = [
    "EnergyVad",
    "SpeechStarted",
    "SpeechStopped",
    "VadEvent",
    "threshold_to_dbfs",
]

_FRAME_MS = 10
_ONSET_FRAMES = 3
_HYSTERESIS_DB = 9.0
_FLOOR_DBFS = -44.0
_FULL_SCALE = 32768.0
_START_OVER_FLOOR_DB = 10.0
_KEEP_OVER_FLOOR_DB = 10.0
_START_OVER_FLOOR = 10.0 ** (_START_OVER_FLOOR_DB / 10.0)
_KEEP_OVER_FLOOR = 10.0 ** (_KEEP_OVER_FLOOR_DB / 10.0)


def threshold_to_dbfs(threshold: float) -> float:
    """The frame RMS level (dBFS) at which speech starts for an xAI ``threshold``."""
    return -46.0 + 20.0 * threshold


def _dbfs_to_rms(dbfs: float) -> float:
    return float(_FULL_SCALE * 10.0 ** (dbfs / 20.0))


@dataclass(frozen=True)
class SpeechStarted:
    """Speech began; ``audio_start_ms`` includes the prefix padding."""

    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    """Speech ended; ``audio_end_ms`` includes the hangover, ``speech_ms`` does not."""

    audio_start_ms: int
    audio_end_ms: int
    speech_ms: int


VadEvent = SpeechStarted | SpeechStopped


class EnergyVad:
    """Frame-energy VAD with onset confirmation, hysteresis and a silence hangover.

    Feed int16 mono samples in order with :meth:`feed`; chunks may have any length.
    ``origin_ms`` is where this VAD's timeline starts (when it replaces one at another rate).
    """

    def __init__(
        self,
        rate: int,
        threshold: float = 0.85,
        prefix_padding_ms: int = 333,
        silence_duration_ms: int = 500,
        *,
        origin_ms: int = 0,
        track_noise: bool = False,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self._rate = rate
        self._frame = max(1, rate * _FRAME_MS // 1000)
        self._pending: NDArray[np.int16] = np.zeros(0, dtype=np.int16)
        # The timeline may start later than 0 when the VAD is rebuilt for a new input rate.
        self._frames_seen = max(0, origin_ms) // _FRAME_MS
        self._in_speech = False
        self._loud_run = 0
        self._onset_frame = 0
        self._last_speech_frame = 0
        self._start_ms = 0
        self._noise = NoiseFloor(_FRAME_MS, self._frames_seen) if track_noise else None
        self._floor = 0.0  # the noise floor at the last frame analysed (frame energy)
        self.configure(threshold, prefix_padding_ms, silence_duration_ms)

    def configure(self, threshold: float, prefix_padding_ms: int, silence_duration_ms: int) -> None:
        """Change the settings mid-stream (session.update) without restarting the timeline."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within 0..1, got {threshold}")
        start_dbfs = threshold_to_dbfs(threshold)
        # Compared with a frame's energy (sum of squares): rms >= r  <=>  energy >= r² · n.
        self._start_energy = _dbfs_to_rms(start_dbfs) ** 2 * self._frame
        keep_rms = _dbfs_to_rms(max(start_dbfs - _HYSTERESIS_DB, _FLOOR_DBFS))
        self._keep_energy = keep_rms**2 * self._frame
        self._prefix_ms = max(0, prefix_padding_ms)
        self._hangover_frames = math.ceil(max(0, silence_duration_ms) / _FRAME_MS)

    @property
    def rate(self) -> int:
        """Sample rate of the audio fed."""
        return self._rate

    @property
    def in_speech(self) -> bool:
        """Whether a speech segment is open."""
        return self._in_speech

    @property
    def position_ms(self) -> int:
        """Milliseconds of audio analysed so far (whole frames)."""
        return self._frames_seen * _FRAME_MS

    def reset(self) -> None:
        """Forget any open speech (input_audio_buffer.clear); the timeline keeps running."""
        self._in_speech = False
        self._loud_run = 0

    @property
    def noise_floor_dbfs(self) -> float:
        """The noise level the detector has learnt (frame RMS, dBFS; -inf over silence)."""
        if self._floor <= 0.0:
            return -math.inf
        return 20.0 * math.log10(math.sqrt(self._floor / self._frame) / _FULL_SCALE)

    def feed(self, samples: NDArray[np.int16]) -> list[VadEvent]:
        """Analyse the next samples; returns the events they complete, in order."""
        data = np.concatenate((self._pending, samples)) if self._pending.size else samples
        whole = data.size // self._frame
        self._pending = data[whole * self._frame :].copy()
        if whole == 0:
            return []
        usable = data[: whole * self._frame]
        if not usable.any():  # digital silence, what a microphone streams between turns
            energy = np.zeros(whole, dtype=np.float32)
            floors = self._floors(energy)
            if not self._in_speech:
                self._loud_run = 0
                self._frames_seen += whole
                return []
        else:
            block = usable.reshape(whole, self._frame).astype(np.float32)
            energy = np.einsum("ij,ij->i", block, block)
            floors = self._floors(energy)
        # Where the noise rivals the thresholds, each frame has its own; elsewhere (silence,
        # low noise) the fast paths below decide whole chunks at once.
        if floors is not None and (
            float(floors.max()) * _START_OVER_FLOOR >= self._start_energy
            or float(floors.max()) * _KEEP_OVER_FLOOR >= self._keep_energy
        ):
            return self._walk(energy, floors)
        # Most chunks change nothing (silence stays silence, speech stays speech): decide
        # those on the whole chunk at once; walk frame by frame only around a transition.
        last = self._frames_seen + whole - 1
        if not self._in_speech:
            if float(energy.max()) < self._start_energy:
                self._loud_run = 0
                self._frames_seen += whole
                return []
        elif float(energy.min()) >= self._keep_energy:
            self._last_speech_frame = last
            self._frames_seen += whole
            return []
        elif (
            float(energy.max()) < self._keep_energy
            and last - self._last_speech_frame < self._hangover_frames
        ):
            self._frames_seen += whole
            return []
        return self._walk(energy, floors)

    def _floors(self, energy: NDArray[np.float32]) -> NDArray[np.float64] | None:
        if self._noise is None:
            return None
        floors = self._noise.floors(energy)
        self._floor = float(floors[-1])
        return floors

    def _walk(
        self, energy: NDArray[np.float32], floors: NDArray[np.float64] | None
    ) -> list[VadEvent]:
        events: list[VadEvent] = []
        levels = floors.tolist() if floors is not None else [0.0] * energy.size
        for level, floor in zip(energy.tolist(), levels, strict=True):
            event = self._step(level, floor)
            if event is not None:
                events.append(event)
            self._frames_seen += 1
        return events

    def _step(self, energy: float, floor: float = 0.0) -> VadEvent | None:
        index = self._frames_seen
        start = max(self._start_energy, floor * _START_OVER_FLOOR)
        keep = max(self._keep_energy, floor * _KEEP_OVER_FLOOR)
        if not self._in_speech:
            self._loud_run = self._loud_run + 1 if energy >= start else 0
            if self._loud_run < _ONSET_FRAMES:
                return None
            self._in_speech = True
            self._onset_frame = index - _ONSET_FRAMES + 1
            self._last_speech_frame = index
            self._start_ms = max(0, self._onset_frame * _FRAME_MS - self._prefix_ms)
            return SpeechStarted(audio_start_ms=self._start_ms)
        if energy >= keep:
            self._last_speech_frame = index
            return None
        if index - self._last_speech_frame < self._hangover_frames:
            return None
        self._in_speech = False
        self._loud_run = 0
        speech_end = (self._last_speech_frame + 1) * _FRAME_MS
        return SpeechStopped(
            audio_start_ms=self._start_ms,
            audio_end_ms=(index + 1) * _FRAME_MS,
            speech_ms=speech_end - self._onset_frame * _FRAME_MS,
        )
