"""ctypes binding to the libespeak-ng shipped in the ``espeakng-loader`` wheel.

espeak-ng keeps its voice, parameters and synthesis callback in C globals, so there is exactly
one engine per process whatever Python does: it is loaded and initialized lazily, once, and
every call into it holds :data:`_LOCK`. Only the few calls voxray needs are bound.
"""

from __future__ import annotations

import bisect
import ctypes
import re
import threading

import numpy as np
from numpy.typing import NDArray
from voxray.actors.errors import AudioError, ConfigError

__all__ = ["EspeakEngine", "get_engine"]

# speak_lib.h constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # without it a missing data dir calls exit() in C
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EE_OK = 0
_EE_NOT_FOUND = 2
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3

_WORD = re.compile(r"\S+")


class _Event(ctypes.Structure):
    """``espeak_EVENT`` from speak_lib.h."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based, in characters (code points), not bytes
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # milliseconds from the start of this synthesis
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),  # a union of int, const char* and char[8]
    ]


class _Voice(ctypes.Structure):
    """``espeak_VOICE`` from speak_lib.h."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),  # priority byte, then the language code
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class EspeakEngine:
    """The process's one initialized libespeak-ng. Use :func:`get_engine` to obtain it."""

    def __init__(self, lib: ctypes.CDLL, rate: int) -> None:
        self._lib = lib
        self.rate = rate
        self._voice: str | None = None
        self._chunks: list[NDArray[np.int16]] = []
        self._events: list[tuple[int, int]] = []
        # ctypes frees the trampoline with its Python object; C keeps calling it for the life
        # of the process, so the engine must own it.
        self._callback = _SynthCallback(self._on_audio)
        lib.espeak_SetSynthCallback(self._callback)

    def synthesize(
        self, text: str, *, voice: str, words_per_minute: int, pitch: int
    ) -> tuple[NDArray[np.int16], list[tuple[str, int]]]:
        """Speak ``text`` and say where each of its words starts.

        Returns mono samples at :attr:`rate` and ``(word, start_sample)`` for each
        whitespace-separated word of ``text`` that espeak spoke, in order.
        """
        encoded = text.replace("\0", " ").encode("utf-8") + b"\0"
        with _LOCK:
            self._select_voice(voice)
            self._lib.espeak_SetParameter(_PARAM_RATE, words_per_minute, 0)
            self._lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
            self._chunks, self._events = [], []
            status = self._lib.espeak_Synth(
                encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            chunks, events = self._chunks, self._events
            self._chunks, self._events = [], []
        if status != _EE_OK:
            raise AudioError(f"espeak-ng failed to synthesize {text[:40]!r} (status {status})")
        samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        return samples, _word_marks(text, events, self.rate, samples.size)

    def voices(self) -> list[str]:
        """Names of the installed voices, each usable as ``voice`` (optionally ``+variant``)."""
        with _LOCK:
            return sorted({name for name, _ in self._voice_table()})

    def _voice_table(self) -> list[tuple[str, str]]:
        # (voice file name, first language code) for every installed voice. Caller holds
        # _LOCK: the returned table lives in espeak's static memory.
        table = self._lib.espeak_ListVoices(None)
        entries: list[tuple[str, str]] = []
        index = 0
        while table[index]:
            voice = table[index].contents
            identifier = (voice.identifier or b"").decode("utf-8", "replace")
            languages = (voice.languages or b"\x00")[1:].decode("utf-8", "replace")
            entries.append((identifier.rsplit("/", 1)[-1].lower(), languages.lower()))
            index += 1
        return entries

    def _select_voice(self, voice: str) -> None:
        # Loading a voice re-reads its files; skip it when the voice has not changed.
        if voice == self._voice:
            return
        status = self._lib.espeak_SetVoiceByName(voice.encode("utf-8"))
        if status == _EE_NOT_FOUND:
            # espeak looks voices up by file name ("en" for British English); accept the
            # language code too ("en-gb"), which is what people usually write.
            base, plus, variant = voice.partition("+")
            files = [name for name, language in self._voice_table() if language == base.lower()]
            if files:
                status = self._lib.espeak_SetVoiceByName(f"{files[0]}{plus}{variant}".encode())
        if status == _EE_NOT_FOUND:
            raise ConfigError(f"espeak-ng has no voice {voice!r}", location="speech voice")
        if status != _EE_OK:
            raise AudioError(f"espeak-ng could not load voice {voice!r} (status {status})")
        self._voice = voice

    def _on_audio(
        self,
        wav: ctypes._Pointer[ctypes.c_short],
        n_samples: int,
        events: ctypes._Pointer[_Event],
    ) -> int:
        # An exception here would be printed and swallowed by ctypes mid-synthesis, so the
        # callback only copies data out; interpretation happens after espeak_Synth returns.
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_WORD:
                self._events.append((event.text_position, event.audio_position))
            index += 1
        if n_samples > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        return 0  # 0 = keep synthesising


def _word_marks(
    text: str, events: list[tuple[int, int]], rate: int, n_samples: int
) -> list[tuple[str, int]]:
    # espeak emits one WORD event per spoken word, so "123" yields three; fold events back
    # onto the whitespace-separated words of the input so marks line up with the text.
    words = [match.span() for match in _WORD.finditer(text)]
    word_ends = [end for _, end in words]
    marks: list[tuple[str, int]] = []
    last_word = -1
    last_sample = 0
    for text_position, audio_ms in events:
        word = bisect.bisect_right(word_ends, text_position - 1)
        if word >= len(words) or word <= last_word:
            continue
        start = min(max(round(audio_ms * rate / 1000), last_sample), n_samples)
        word_start, word_end = words[word]
        marks.append((text[word_start:word_end], start))
        last_word, last_sample = word, start
    return marks


def _load() -> EspeakEngine:
    try:
        import espeakng_loader

        library_path = espeakng_loader.get_library_path()
        data_path = espeakng_loader.get_data_path()
        # Not espeakng_loader.load_library(): it prints and returns None on failure.
        lib = ctypes.CDLL(library_path)
    except (ImportError, OSError, RuntimeError) as exc:
        raise AudioError(f"espeak-ng library could not be loaded: {exc}") from exc
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.POINTER(ctypes.c_uint),
        ctypes.c_void_p,
    ]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
    # A bad data path does not fail here: espeak falls back to the path compiled into the
    # wheel (a CI runner's directory) and returns 0 instead of the sample rate.
    rate = lib.espeak_Initialize(
        _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), _INITIALIZE_DONT_EXIT
    )
    if rate <= 0:
        raise AudioError(f"espeak-ng could not initialize with data at {data_path}")
    return EspeakEngine(lib, rate)


_LOCK = threading.Lock()
_engine: EspeakEngine | None = None
_load_error: AudioError | None = None


def get_engine() -> EspeakEngine:
    """The process's espeak-ng engine, loaded on first use.

    Raises:
        AudioError: the library or its data cannot be loaded; later calls raise the same
            error without retrying, since a C library that failed to load stays failed.
    """
    global _engine, _load_error  # noqa: PLW0603 - espeak-ng itself is process-global
    with _LOCK:
        if _engine is None and _load_error is None:
            try:
                _engine = _load()
            except AudioError as exc:
                _load_error = exc
        if _engine is None:
            assert _load_error is not None
            raise AudioError(_load_error.message) from _load_error
        return _engine
