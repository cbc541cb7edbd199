"""The simulator's voice: reply text -> output-format audio chunks with aligned transcript deltas.

Each session voice name (``ara``, ``rex``, ... or ``xai_ara`` as echoed) maps to its own espeak
voice variant and pitch, so two simulated voices sound different in recordings. The whole reply
is rendered before streaming starts (replies are a sentence or two), then cut into
``output_chunk_ms`` chunks; a word's text rides on the chunk in which the word starts, so the
transcript a client has received always matches the audio it has received.

The session's ``replace`` map changes what is spoken but not the transcript
(:mod:`voxray.actors.simulator.replace`). Chunks carry their base64 form, computed once per
rendering:
rendered utterances are cached and shared by every session that says the same line.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import dataclasses
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.audio.speech import SpeechAudio, SpeechSynthesizer
from voxray.actors.simulator.codec import WireCodec
from voxray.actors.simulator.replace import spoken_form

__all__ = [
    "SpokenChunk",
    "Utterance",
    "VoiceBank",
    "VoiceStyle",
    "align_words",
    "voice_style",
]


@dataclass(frozen=True)
class VoiceStyle:
    """How one session voice sounds in espeak-ng."""

    espeak_voice: str
    pitch: int
    words_per_minute: int = 175


# Female voices get female variants and higher pitches, male ones male variants; the classic
# five are hand-picked, the rest derive from a hash so each id still sounds stable and distinct.
_STYLES: Final[dict[str, VoiceStyle]] = {
    "ara": VoiceStyle("en-us+f3", 55, 170),
    "eve": VoiceStyle("en-us+f4", 68, 185),
    "rex": VoiceStyle("en-us+m3", 40, 175),
    "leo": VoiceStyle("en-gb-x-rp+m1", 32, 165),
    "sal": VoiceStyle("en-us", 50, 175),
}
_FEMALE: Final = frozenset(
    {"aurora", "carina", "celeste", "iris", "liora", "luna", "lux", "ursa", "zenith"}
)
_FEMALE_VARIANTS: Final = (
    "en-us+f1",
    "en-us+f2",
    "en-us+f5",
    "en-gb-x-rp+f3",
    "en-gb-x-rp+f4",
    "en-gb-scotland+f2",
)
_MALE_VARIANTS: Final = (
    "en-us+m1",
    "en-us+m2",
    "en-us+m4",
    "en-gb-x-rp+m3",
    "en-us-nyc+m2",
    "en-us+m6",
)


def voice_style(name: str, speed: float = 1.0) -> VoiceStyle:
    """The espeak style of a session voice name; ``xai_`` prefixes and case are ignored.

    ``speed`` is ``audio.output.speed`` (0.7-1.5): it scales the speaking rate.
    """
    style = _base_style(name)
    if speed != 1.0:
        style = dataclasses.replace(style, words_per_minute=round(style.words_per_minute * speed))
    return style


def _base_style(name: str) -> VoiceStyle:
    bare = name.removeprefix("xai_").removeprefix("XAI_").lower()
    style = _STYLES.get(bare)
    if style is not None:
        return style
    digest = hashlib.sha256(bare.encode()).digest()
    if bare in _FEMALE:
        return VoiceStyle(_FEMALE_VARIANTS[digest[0] % len(_FEMALE_VARIANTS)], 58 + digest[1] % 15)
    return VoiceStyle(_MALE_VARIANTS[digest[0] % len(_MALE_VARIANTS)], 30 + digest[1] % 20)


@dataclass(frozen=True)
class SpokenChunk:
    """One output delta: encoded audio (and its base64) and the transcript starting within it."""

    audio: bytes
    transcript_delta: str
    start_ms: float
    duration_ms: float
    audio_b64: str = ""


@dataclass(frozen=True)
class Utterance:
    """A rendered reply: its chunks, total duration and word timing for truncation."""

    text: str
    chunks: tuple[SpokenChunk, ...]
    duration_ms: float
    word_starts_ms: tuple[float, ...]
    word_ends: tuple[int, ...]
    """For each word, the text offset where the transcript up to and including it ends."""

    def transcript_until(self, audio_end_ms: float) -> str:
        """The words that had started by ``audio_end_ms`` (what a listener heard of them)."""
        count = bisect.bisect_left(self.word_starts_ms, audio_end_ms)
        if count == 0:
            return ""
        return self.text[: self.word_ends[count - 1]].strip()


_WORD = re.compile(r"\S+")


def align_words(
    text: str, marks: Sequence[tuple[str, float]], duration_ms: float
) -> list[tuple[float, int]]:
    """Start time and text offset of each word of ``text``.

    ``marks`` are the synthesizer's (word, start ms) in order; each is located in ``text`` from
    the previous match on. When marks are missing (tone fallback) or do not match the text,
    words are spread over the duration in proportion to their character offset.
    """
    located: list[tuple[float, int]] = []
    cursor = 0
    lowered = text.lower()
    for word, start_ms in marks:
        needle = word.strip().lower()
        if not needle:
            continue
        found = lowered.find(needle, cursor)
        if found < 0:
            continue
        located.append((start_ms, found))
        cursor = found + len(needle)
    if located:
        return located
    length = max(1, len(text))
    return [(duration_ms * m.start() / length, m.start()) for m in _WORD.finditer(text)]


def _chunk(
    text: str,
    samples: NDArray[np.int16],
    codec: WireCodec,
    chunk_ms: int,
    words: list[tuple[float, int]],
) -> Utterance:
    per_chunk = max(1, round(codec.rate * chunk_ms / 1000))
    duration_ms = samples.size * 1000.0 / codec.rate
    starts = [start for start, _ in words]
    # A word's text runs from its offset to the next word's offset, so deltas concatenate back
    # to exactly ``text``; anything before the first word goes with the first word.
    offsets = [offset for _, offset in words]
    if offsets:
        offsets[0] = 0
    ends = [*offsets[1:], len(text)]
    chunks: list[SpokenChunk] = []
    word = 0
    for begin in range(0, max(samples.size, 1), per_chunk):
        piece = samples[begin : begin + per_chunk]
        start_ms = begin * 1000.0 / codec.rate
        end_ms = start_ms + piece.size * 1000.0 / codec.rate
        last = begin + per_chunk >= samples.size
        first_word = word
        while word < len(words) and (starts[word] < end_ms or last):
            word += 1
        delta = text[offsets[first_word] : ends[word - 1]] if word > first_word else ""
        encoded = codec.encode(piece)
        b64 = base64.b64encode(encoded).decode("ascii")
        chunks.append(SpokenChunk(encoded, delta, start_ms, end_ms - start_ms, b64))
    return Utterance(
        text=text,
        chunks=tuple(chunks),
        duration_ms=duration_ms,
        word_starts_ms=tuple(starts),
        word_ends=tuple(ends),
    )


_Key = tuple[str, VoiceStyle, WireCodec, str]
"""(written text, voice style, codec, spoken text)."""


class VoiceBank:
    """Renders replies in a session's voice and output format.

    One :class:`SpeechSynthesizer` per voice style, created on first use. Rendered utterances
    are kept in a bounded LRU (``cache_size`` entries, oldest evicted) because eval suites say
    the same lines in many sessions. Thread-safe: rendering runs in worker threads.
    """

    def __init__(self, chunk_ms: int, cache_size: int = 128) -> None:
        self._chunk_ms = chunk_ms
        self._cache_size = cache_size
        self._cache: OrderedDict[_Key, Utterance] = OrderedDict()
        self._synths: dict[VoiceStyle, SpeechSynthesizer] = {}
        self._lock = threading.Lock()

    def cached(
        self,
        text: str,
        voice: str,
        codec: WireCodec,
        replace: Mapping[str, str] | None = None,
        speed: float = 1.0,
    ) -> Utterance | None:
        """The utterance if it is already rendered (no thread hop), else None."""
        key = self._key(text, voice, codec, replace, speed)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
            return cached

    async def render(
        self,
        text: str,
        voice: str,
        codec: WireCodec,
        replace: Mapping[str, str] | None = None,
        speed: float = 1.0,
    ) -> Utterance:
        """The utterance of ``text`` in ``voice``, encoded with ``codec``.

        ``replace`` (the session option) changes the words spoken, never the transcript;
        ``speed`` (``audio.output.speed``) scales the speaking rate.
        """
        cached = self.cached(text, voice, codec, replace, speed)
        if cached is not None:
            return cached
        key = self._key(text, voice, codec, replace, speed)
        style = key[1]
        utterance = await asyncio.to_thread(self._render_blocking, text, style, codec, replace)
        with self._lock:
            self._cache[key] = utterance
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return utterance

    @staticmethod
    def _key(
        text: str,
        voice: str,
        codec: WireCodec,
        replace: Mapping[str, str] | None,
        speed: float,
    ) -> _Key:
        spoken = spoken_form(text, replace)[0] if replace else text
        return (text, voice_style(voice, speed), codec, spoken)

    def _synthesizer(self, style: VoiceStyle) -> SpeechSynthesizer:
        with self._lock:
            synth = self._synths.get(style)
            if synth is None:
                synth = SpeechSynthesizer(
                    voice=style.espeak_voice,
                    words_per_minute=style.words_per_minute,
                    pitch=style.pitch,
                )
                self._synths[style] = synth
            return synth

    def _render_blocking(
        self,
        text: str,
        style: VoiceStyle,
        codec: WireCodec,
        replace: Mapping[str, str] | None,
    ) -> Utterance:
        spoken, offsets = spoken_form(text, replace)
        speech: SpeechAudio = self._synthesizer(style).synthesize(spoken)
        resampler = StreamResampler(speech.rate, codec.rate)
        samples = np.concatenate((resampler.process(speech.samples), resampler.flush()))
        duration_ms = samples.size * 1000.0 / codec.rate
        marks = [(mark.text, mark.start_sample * 1000.0 / speech.rate) for mark in speech.words]
        words: list[tuple[float, int]] = []
        for start_ms, offset in align_words(spoken, marks, duration_ms):
            written = offsets.to_text(offset)
            # A multi-word substitute is one written phrase: keep its first word's start.
            if not words or written > words[-1][1]:
                words.append((start_ms, written))
        return _chunk(text, samples, codec, self._chunk_ms, words)
