"""A speech-shaped tone: the stand-in voice when espeak-ng is unavailable.

It is not speech, but it is timed like speech, which is what voice-activity detection, turn
taking and transcript alignment need: each character takes a fixed time, words are trains of
syllable-sized bursts, and the space between words is quiet.
"""

from __future__ import annotations

import re
import zlib

import numpy as np
from numpy.typing import NDArray
from voxray.actors.audio.pcm import float_to_pcm16

__all__ = ["TONE_RATE", "synthesize_tone"]

TONE_RATE = 22050
"""Sample rate of the tone, equal to espeak-ng's so callers see one rate either way."""

_MS_PER_CHAR_AT_175_WPM = 60.0
_CHARS_PER_SYLLABLE = 3
_PEAK = 0.3  # about -10 dBFS: clearly above an energy VAD's threshold, never clipping
_HARMONICS = (1.0, 0.5, 0.25, 0.12)  # a buzzy, voice-like spectrum rather than a pure beep
_WORD = re.compile(r"\S+")


def _fundamental_hz(voice: str, pitch: int) -> float:
    # espeak's pitch 0..100 spans roughly 80..320 Hz; the voice name nudges it by up to
    # ±15 % (stably, via crc32) so two voices at the same pitch still sound apart.
    nudge = (zlib.crc32(voice.encode("utf-8")) % 301 - 150) / 1000.0
    return (80.0 + 2.4 * pitch) * (1.0 + nudge)


def synthesize_tone(
    text: str, *, voice: str, words_per_minute: int, pitch: int
) -> tuple[NDArray[np.int16], list[tuple[str, int]]]:
    """Render ``text`` as syllable bursts at :data:`TONE_RATE`.

    Returns mono samples and ``(word, start_sample)`` for every whitespace-separated word,
    each word starting where its first character falls on the evenly spaced character grid.
    """
    samples_per_char = round(
        TONE_RATE * _MS_PER_CHAR_AT_175_WPM / 1000.0 * 175.0 / max(words_per_minute, 1)
    )
    words = [match.span() for match in _WORD.finditer(text)]
    if not words:
        return np.zeros(0, dtype=np.int16), []
    n_samples = len(text.rstrip()) * samples_per_char
    envelope = np.zeros(n_samples, dtype=np.float64)
    for start_char, end_char in words:
        n_syllables = -(-(end_char - start_char) // _CHARS_PER_SYLLABLE)
        word_start = start_char * samples_per_char
        syllable_len = (end_char - start_char) * samples_per_char // n_syllables
        for index in range(n_syllables):
            # A Hann burst over 80 % of the slot leaves a dip between syllables.
            burst = np.hanning(int(syllable_len * 0.8))
            offset = word_start + index * syllable_len
            envelope[offset : offset + burst.size] = burst
    t = np.arange(n_samples) / TONE_RATE
    f0 = _fundamental_hz(voice, pitch)
    carrier = sum(
        weight * np.sin(2.0 * np.pi * f0 * harmonic * t)
        for harmonic, weight in enumerate(_HARMONICS, start=1)
    )
    signal = _PEAK / sum(_HARMONICS) * envelope * carrier
    marks = [(text[start:end], start * samples_per_char) for start, end in words]
    return float_to_pcm16(signal), marks
