"""What the simulator "hears" in user audio: a pocketsphinx transcription, or a placeholder.

Transcription is optional (``SimulatorConfig.transcribe``, the ``transcribe`` extra) because it
costs real CPU. pocketsphinx is imported lazily, on first use, and ships its own US English
model; when it is enabled but not installed a warning is logged once and the placeholder is
used. Decoding runs in a small dedicated thread pool (decoders are not thread-safe, so each
worker thread keeps its own), so the event loop keeps serving other sessions.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from voxray.actors.audio.resample import StreamResampler

__all__ = ["Transcriber", "TurnAudio", "heard_placeholder"]

logger = logging.getLogger("voxray.simulator")

_DECODER_RATE: Final = 16_000
_WORKERS: Final = 2
_MAX_TURN_S: Final = 60.0


def heard_placeholder(speech_ms: float) -> str:
    """What the simulator "heard" in audio it does not transcribe: the speech's duration."""
    return f"[speech {speech_ms / 1000:.1f} s]"


class Transcriber:
    """Turns int16 audio into text with pocketsphinx, when enabled and installed."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._factory: Callable[[], Any] | None = None
        self._checked = False
        self._executor: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        """Whether audio is really transcribed (enabled and pocketsphinx importable)."""
        if not self._enabled:
            return False
        with self._lock:
            if not self._checked:
                self._checked = True
                self._factory = _load_pocketsphinx()
            return self._factory is not None

    async def transcribe(self, samples: NDArray[np.int16], rate: int) -> str | None:
        """The words in ``samples``, lower case; None when not active."""
        if not self.active or samples.size == 0:
            return None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(_WORKERS, thread_name_prefix="sim-transcribe")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._decode, samples, rate)

    def close(self) -> None:
        """Stop the worker threads (running decodes finish first)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _decode(self, samples: NDArray[np.int16], rate: int) -> str:
        decoder = getattr(self._local, "decoder", None)
        if decoder is None:
            assert self._factory is not None
            decoder = self._local.decoder = self._factory()
        if rate != _DECODER_RATE:
            resampler = StreamResampler(rate, _DECODER_RATE)
            samples = np.concatenate((resampler.process(samples), resampler.flush()))
        decoder.start_utt()
        decoder.process_raw(samples.astype(np.int16).tobytes(), False, True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        text = hypothesis.hypstr if hypothesis is not None else ""
        return " ".join(str(text).split())


def _load_pocketsphinx() -> Callable[[], Any] | None:
    try:
        # importlib keeps the optional, untyped dependency out of mypy's import graph.
        decoder_class = importlib.import_module("pocketsphinx").Decoder
    except ImportError:
        logger.warning(
            "simulator transcription is enabled but pocketsphinx is not installed "
            "(pip install 'voxray[transcribe]'); user audio is heard as a duration placeholder"
        )
        return None

    def factory() -> Any:
        return decoder_class(samprate=_DECODER_RATE, logfn="/dev/null")

    return factory


class TurnAudio:
    """The user audio of the turn in progress, kept only while transcription is active.

    Audio is appended with its position on the input timeline; :meth:`take` returns the part
    between two timeline positions and forgets everything before the end. At most
    ``_MAX_TURN_S`` seconds are kept (older audio is dropped), so a client that never stops
    talking cannot grow memory.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._chunks: list[NDArray[np.int16]] = []
        self._start_ms = 0.0
        self._samples = 0

    def reset(self, rate: int, position_ms: float) -> None:
        """Forget everything; the next audio starts at ``position_ms`` at ``rate``."""
        self.rate = rate
        self._chunks.clear()
        self._samples = 0
        self._start_ms = position_ms

    def append(self, samples: NDArray[np.int16], position_ms: float) -> None:
        """Add samples that start at ``position_ms`` on the input timeline."""
        if not self._chunks:
            self._start_ms = position_ms
        self._chunks.append(samples)
        self._samples += samples.size
        limit = int(_MAX_TURN_S * self.rate)
        while self._samples > limit and len(self._chunks) > 1:
            dropped = self._chunks.pop(0)
            self._samples -= dropped.size
            self._start_ms += dropped.size * 1000.0 / self.rate

    def take(self, start_ms: float, end_ms: float) -> NDArray[np.int16]:
        """The samples between two timeline positions; forgets audio before ``end_ms``."""
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        first = max(0, round((start_ms - self._start_ms) * self.rate / 1000))
        last = max(first, round((end_ms - self._start_ms) * self.rate / 1000))
        segment = audio[first:last].copy()
        rest = audio[last:]
        self._chunks = [rest] if rest.size else []
        self._samples = rest.size
        self._start_ms = max(self._start_ms, end_ms) if rest.size else end_ms
        return segment

    def peek(self, start_ms: float) -> NDArray[np.int16]:
        """The samples from ``start_ms`` to now, without forgetting anything."""
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        first = max(0, round((start_ms - self._start_ms) * self.rate / 1000))
        return audio[first:]
