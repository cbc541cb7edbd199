"""Text to speech for the simulator and for scripted user turns.

:class:`SpeechSynthesizer` speaks with espeak-ng (from the ``espeakng-loader`` wheel). Where
the library cannot load, it falls back to a speech-timed tone so conversations still run,
and says so once per process in a warning on the ``voxray.audio.speech`` logger.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from voxray.actors.audio import _espeak, _tone
from voxray.actors.errors import AudioError, ConfigError

__all__ = ["SpeechAudio", "SpeechEngine", "SpeechSynthesizer", "WordMark", "available_voices"]

logger = logging.getLogger("voxray.audio.speech")

SpeechEngine = Literal["auto", "espeak", "tone"]
"""``auto``: espeak-ng, else the tone; ``espeak``: espeak-ng or :class:`AudioError`;
``tone``: always the tone (tests, machines without espeak-ng)."""

_MIN_WPM, _MAX_WPM = 80, 450  # espeak-ng's supported speaking rates


@dataclass(frozen=True)
class WordMark:
    """Where a word of the synthesized text starts in the audio.

    Attributes:
        text: the word as written in the input (whitespace-separated, punctuation kept).
        start_sample: index of the word's first sample in :attr:`SpeechAudio.samples`.
    """

    text: str
    start_sample: int


@dataclass(frozen=True, eq=False)
class SpeechAudio:
    """Synthesized speech. ``eq=False``: compare ``samples`` with ``np.array_equal``.

    Attributes:
        samples: mono int16 samples.
        rate: sample rate in Hz (22050 for espeak-ng and the tone alike).
        words: one mark per spoken word of the input, in increasing ``start_sample`` order.
        engine: which engine produced the audio.
    """

    samples: NDArray[np.int16]
    rate: int
    words: tuple[WordMark, ...]
    engine: Literal["espeak-ng", "tone"] = "espeak-ng"

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return self.samples.size / self.rate


class _WarnOnce:
    """Logs its first message only; espeak being unavailable is a per-process fact."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False

    def warning(self, message: str, *args: object) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        logger.warning(message, *args)


_TONE_WARNING = _WarnOnce()


class SpeechSynthesizer:
    """Turns text into mono int16 speech with word timings.

    Thread-safe and blocking (espeak-ng synthesizes far faster than real time); from asyncio
    call it through ``asyncio.to_thread``. Construction loads nothing; the engine is loaded
    on the first :meth:`synthesize`.

    Args:
        voice: an espeak-ng voice: a language code such as ``en-us`` or ``en-gb``, optionally
            with a variant (``en-us+f3``, ``en+m2``); see :func:`available_voices`.
        words_per_minute: speaking rate, 80 to 450.
        pitch: base pitch, 0 to 100 (50 is the voice's normal pitch).
        engine: which engine to use; see :data:`SpeechEngine`.
    """

    def __init__(
        self,
        *,
        voice: str = "en-us",
        words_per_minute: int = 175,
        pitch: int = 50,
        engine: SpeechEngine = "auto",
    ) -> None:
        if not _MIN_WPM <= words_per_minute <= _MAX_WPM:
            raise ConfigError(
                f"words_per_minute must be {_MIN_WPM}..{_MAX_WPM}, got {words_per_minute}",
                location="speech",
            )
        if not 0 <= pitch <= 100:
            raise ConfigError(f"pitch must be 0..100, got {pitch}", location="speech")
        if engine not in ("auto", "espeak", "tone"):
            raise ConfigError(f"unknown speech engine {engine!r}", location="speech")
        self.voice = voice
        self.words_per_minute = words_per_minute
        self.pitch = pitch
        self.engine = engine

    def synthesize(self, text: str) -> SpeechAudio:
        """Speak ``text``. Empty or blank text gives empty audio.

        Raises:
            ConfigError: espeak-ng has no voice named :attr:`voice`.
            AudioError: ``engine="espeak"`` and espeak-ng cannot be loaded, or it failed.
        """
        espeak = self._espeak_or_none()
        if espeak is None:
            samples, marks = _tone.synthesize_tone(
                text, voice=self.voice, words_per_minute=self.words_per_minute, pitch=self.pitch
            )
            return _speech(samples, _tone.TONE_RATE, marks, "tone")
        if not text.strip():
            return _speech(np.zeros(0, dtype=np.int16), espeak.rate, [], "espeak-ng")
        samples, marks = espeak.synthesize(
            text, voice=self.voice, words_per_minute=self.words_per_minute, pitch=self.pitch
        )
        return _speech(samples, espeak.rate, marks, "espeak-ng")

    def _espeak_or_none(self) -> _espeak.EspeakEngine | None:
        if self.engine == "tone":
            _TONE_WARNING.warning("speech uses a tone instead of espeak-ng: engine='tone' chosen")
            return None
        try:
            return _espeak.get_engine()
        except AudioError as exc:
            if self.engine == "espeak":
                raise
            _TONE_WARNING.warning("speech uses a tone instead of espeak-ng: %s", exc)
            return None


def _speech(
    samples: NDArray[np.int16],
    rate: int,
    marks: list[tuple[str, int]],
    engine: Literal["espeak-ng", "tone"],
) -> SpeechAudio:
    words = tuple(WordMark(text=word, start_sample=start) for word, start in marks)
    return SpeechAudio(samples=samples, rate=rate, words=words, engine=engine)


def available_voices() -> list[str]:
    """Language codes of the installed espeak-ng voices (``en-us``, ``fr-fr``, ...).

    Any of them takes a variant suffix such as ``+f3`` or ``+m2``.

    Raises:
        AudioError: espeak-ng cannot be loaded.
    """
    return _espeak.get_engine().voices()
