"""The input audio buffer of one session: decoding, the input timeline, and server VAD.

The timeline is the audio received, in milliseconds since the first appended sample; it keeps
running across ``input_audio_buffer.clear`` and session updates, like the live service's.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from voxray.actors.simulator.codec import WireCodec
from voxray.actors.simulator.session import VadSettings
from voxray.actors.simulator.vad import EnergyVad, SpeechStopped, VadEvent

__all__ = ["InputAudioBuffer"]


class InputAudioBuffer:
    """Decodes appended audio at the session's input format and runs the VAD when enabled."""

    def __init__(
        self, codec: WireCodec, vad: VadSettings | None, *, track_noise: bool = False
    ) -> None:
        self._codec = codec
        self._settings = vad
        self._track_noise = track_noise
        self._position_ms = 0.0
        self._buffered_ms = 0.0
        self._vad = self._new_vad()

    @property
    def position_ms(self) -> float:
        """Milliseconds of audio received since the session began."""
        return self._position_ms

    @property
    def buffered_ms(self) -> float:
        """Milliseconds of audio not yet committed or cleared."""
        return self._buffered_ms

    @property
    def in_speech(self) -> bool:
        """Whether the VAD has an open speech segment."""
        return self._vad is not None and self._vad.in_speech

    def configure(self, codec: WireCodec, vad: VadSettings | None) -> None:
        """Apply a session update; the timeline continues."""
        rate_changed = codec.rate != self._codec.rate
        self._codec = codec
        if vad == self._settings and not rate_changed:
            return
        was_enabled = self._settings is not None
        self._settings = vad
        if vad is None:
            self._vad = None
        elif self._vad is None or rate_changed or not was_enabled:
            self._vad = self._new_vad()
        else:
            self._vad.configure(vad.threshold, vad.prefix_padding_ms, vad.silence_duration_ms)

    @property
    def codec(self) -> WireCodec:
        """The input format's codec."""
        return self._codec

    def append(
        self, data: bytes, *, muted: bool = False
    ) -> tuple[NDArray[np.int16], list[VadEvent]]:
        """Add encoded audio; returns its samples and the VAD events it completes.

        ``muted`` audio advances the timeline as silence (an uninterruptible force message is
        playing: caller audio is dropped). A speech stop commits the buffer, so
        :attr:`buffered_ms` restarts from there. Without server VAD there are no events.

        Raises:
            AudioError: the bytes are not valid in the input format (odd PCM length).
        """
        samples = self._codec.decode(data)
        if muted:
            samples = np.zeros_like(samples)
        duration_ms = samples.size * 1000.0 / self._codec.rate
        self._position_ms += duration_ms
        self._buffered_ms += duration_ms
        if self._vad is None:
            return samples, []
        events = self._vad.feed(samples)
        for event in events:
            if isinstance(event, SpeechStopped):
                # Audio after the stop point stays buffered for the next turn.
                self._buffered_ms = max(0.0, self._position_ms - event.audio_end_ms)
        return samples, events

    def commit(self) -> float:
        """Commit the buffer (manual turns); returns its duration in ms."""
        duration_ms, self._buffered_ms = self._buffered_ms, 0.0
        return duration_ms

    def clear(self) -> None:
        """Discard the buffer and any speech in progress."""
        self._buffered_ms = 0.0
        if self._vad is not None:
            self._vad.reset()

    def _new_vad(self) -> EnergyVad | None:
        if self._settings is None:
            return None
        return EnergyVad(
            self._codec.rate,
            threshold=self._settings.threshold,
            prefix_padding_ms=self._settings.prefix_padding_ms,
            silence_duration_ms=self._settings.silence_duration_ms,
            origin_ms=int(self._position_ms),
            track_noise=self._track_noise,  # BrainScript.track_noise
        )
