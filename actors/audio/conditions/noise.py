"""Background noise mixed into the caller's audio at a signal-to-noise ratio.

Kinds: ``white``, ``pink`` (1/f power, like rain or a fan), ``brown`` (1/f², road and engine
rumble), ``babble`` (several espeak-ng talkers at once, like a café) and ``file`` (your own
WAV). Nothing is downloaded: the coloured noises are shaped from seeded white noise in the
frequency domain over a loop, which makes the loop seamless; babble is synthesised; a file is
resampled with soxr and looped.

SNR is defined against the caller's *active speech*: the mean power of the utterance's 20 ms
frames that are within 35 dB of its loudest frame (pauses between words do not count, in the
spirit of ITU-T P.56), divided by the long-term power of the noise. The noise level is set from
each utterance as it is queued and held between utterances (the café does not fall silent
when the caller does); before the first utterance it assumes speech at -26 dBFS, the P.56
nominal level.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from voxray.actors.audio.conditions.stream import FloatArray
from voxray.actors.audio.pcm import downmix_to_mono, pcm16_to_float
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.audio.speech import SpeechSynthesizer
from voxray.actors.audio.wav import read_wav

__all__ = ["NoiseConfig", "NoiseStage", "active_speech_power", "noise_bed"]

NoiseKind = Literal["white", "pink", "brown", "babble", "file"]

_LOOP_S = 12.0
_ACTIVE_RANGE_DB = 35.0
_NOMINAL_SPEECH_POWER = 10.0 ** (-26.0 / 10.0)
_LOW_CUT_HZ = 20.0  # below hearing: coloured noise would otherwise drift like DC
_BABBLE_VOICES = (
    "en-us+m3",
    "en-gb+f2",
    "en-us+f4",
    "en-gb-scotland+m1",
    "en-029+f1",
    "en-us-nyc+m2",
    "en-gb-x-rp+f3",
    "en+m5",
)
_BABBLE_TEXT = (
    "I told her we would meet at the station around six, but the train was late again. "
    "Could you pass the sugar please, and one of those little spoons as well. "
    "The new place on the corner has better coffee, though the music is far too loud. "
    "He said the report would be ready by Friday, which honestly I doubt. "
    "We should book the tickets now before the prices go up for the summer. "
    "My sister moved to the coast last year and she has never looked back since. "
)


class NoiseConfig(BaseModel):
    """Background noise at a signal-to-noise ratio."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: NoiseKind = Field(description="white, pink, brown, babble, or file (your own WAV).")
    snr_db: float = Field(ge=-20, le=80, description="Active speech power over noise power, dB.")
    path: Path | None = Field(
        None, description="kind=file: the noise WAV (any rate/channels), looped."
    )
    talkers: int = Field(6, ge=2, le=len(_BABBLE_VOICES), description="kind=babble: voices.")

    @model_validator(mode="after")
    def _path_for_file(self) -> Self:
        if self.kind == "file" and self.path is None:
            raise ValueError("noise kind `file` needs `path` (a WAV file)")
        if self.kind != "file" and self.path is not None:
            raise ValueError(f"`path` is for noise kind `file`, not {self.kind!r}")
        return self


def active_speech_power(samples: FloatArray, rate: int) -> float | None:
    """Mean power of the active 20 ms frames of ``samples`` (see the module doc); None if silent."""
    frame = max(1, rate // 50)
    whole = samples.size // frame
    if whole == 0:
        return None
    power = np.mean(samples[: whole * frame].reshape(whole, frame).astype(np.float64) ** 2, axis=1)
    loudest = float(power.max())
    if loudest <= 0.0:
        return None
    active = power[power >= loudest * 10.0 ** (-_ACTIVE_RANGE_DB / 10.0)]
    return float(active.mean())


def _coloured(kind: NoiseKind, size: int, rate: int, rng: np.random.Generator) -> FloatArray:
    white = rng.standard_normal(size)
    if kind == "white":
        return white.astype(np.float32)
    spectrum = np.fft.rfft(white)
    frequencies = np.fft.rfftfreq(size, 1.0 / rate)
    exponent = 0.5 if kind == "pink" else 1.0  # amplitude ∝ f^-1/2 (pink) or f^-1 (brown)
    shape = np.zeros_like(frequencies)
    audible = frequencies >= _LOW_CUT_HZ
    shape[audible] = frequencies[audible] ** -exponent
    return np.fft.irfft(spectrum * shape, n=size).astype(np.float32)


def _babble(size: int, rate: int, talkers: int, rng: np.random.Generator) -> FloatArray:
    mix = np.zeros(size, dtype=np.float64)
    sentences = [s.strip() + "." for s in _BABBLE_TEXT.split(".") if s.strip()]
    for index in range(talkers):
        order = rng.permutation(len(sentences))
        text = " ".join(sentences[i] for i in order)
        speech = SpeechSynthesizer(voice=_BABBLE_VOICES[index], words_per_minute=160 + 10 * index)
        audio = speech.synthesize(text)
        resampler = StreamResampler(audio.rate, rate)
        track = pcm16_to_float(
            np.concatenate((resampler.process(audio.samples), resampler.flush()))
        )
        if not track.size:
            continue
        track = np.resize(track, size)  # repeat (or cut) to the loop
        mix += np.roll(track, int(rng.integers(0, size)))
    return mix.astype(np.float32)


def _from_file(path: Path, size: int, rate: int) -> FloatArray:
    wav = read_wav(path)
    interleaved = wav.samples.reshape(-1)
    mono = downmix_to_mono(interleaved, wav.channels) if wav.channels > 1 else interleaved
    resampler = StreamResampler(wav.rate, rate)
    samples = pcm16_to_float(np.concatenate((resampler.process(mono), resampler.flush())))
    if not samples.size:
        samples = np.zeros(size, dtype=np.float32)
    return samples  # the file's own length is its loop


@functools.lru_cache(maxsize=16)
def noise_bed(config: NoiseConfig, rate: int, seed: int) -> FloatArray:
    """A loop of the noise at unit power (full scale 1.0), the same for the same arguments.

    Cached: a packed host running many conversations under one condition builds it once.
    """
    rng = np.random.default_rng(seed)
    size = int(_LOOP_S * rate)
    match config.kind:
        case "babble":
            bed = _babble(size, rate, config.talkers, rng)
        case "file":
            assert config.path is not None
            bed = _from_file(config.path, size, rate)
        case _:
            bed = _coloured(config.kind, size, rate, rng)
    bed = bed - np.float32(bed.mean())
    power = float(np.mean(bed.astype(np.float64) ** 2))
    if power > 0:
        bed = bed / np.float32(np.sqrt(power))
    bed.setflags(write=False)
    return bed


class NoiseStage:
    """Adds the looping noise bed, scaled to ``snr_db`` below the latest utterance."""

    def __init__(self, config: NoiseConfig, rate: int, seed: int) -> None:
        self._bed = noise_bed(config, rate, seed)
        self._rate = rate
        self._snr_db = config.snr_db
        self._position = int(np.random.default_rng(seed + 1).integers(0, self._bed.size))
        self._gain = self._gain_for(_NOMINAL_SPEECH_POWER)

    def _gain_for(self, speech_power: float) -> np.float32:
        return np.float32(np.sqrt(speech_power / 10.0 ** (self._snr_db / 10.0)))

    def hear_utterance(self, samples: FloatArray) -> None:
        """Set the noise level from an utterance about to be spoken."""
        power = active_speech_power(samples, self._rate)
        if power is not None:
            self._gain = self._gain_for(power)

    def process(self, samples: FloatArray) -> FloatArray:
        size = self._bed.size
        indexes = (self._position + np.arange(samples.size)) % size
        self._position = (self._position + samples.size) % size
        return samples + self._bed[indexes] * self._gain
