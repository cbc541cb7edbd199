"""The simulated session's configuration: defaults, ``session.update`` merging, and the echo.

xAI accepts both the flat native form (``voice``, ``turn_detection`` at the top level) and the
GA nested form (``audio.output.voice``, ``audio.input.turn_detection``, ``output_modalities``);
both are merged into one normalised :class:`SimSession`. An update that cannot be honoured
raises :class:`SessionUpdateRejected` and leaves the previous configuration in effect.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from voxray.actors.errors import AudioError
from voxray.actors.realtime.session_params import (
    AudioFormat,
    AudioInput,
    AudioOutput,
    AudioParams,
    Reasoning,
    Resumption,
    SessionParams,
    SessionState,
    Transcription,
    Transport,
    TurnDetection,
)
from voxray.actors.simulator.codec import DEFAULT_FORMAT, WireCodec

__all__ = ["DEFAULT_VOICE", "SessionUpdateRejected", "SimSession", "VadSettings"]

DEFAULT_VOICE: Final = "ara"
"""Voice of a fresh session; echoed as ``xai_ara`` like the live service."""

_DEFAULT_THRESHOLD: Final = 0.85
_DEFAULT_PREFIX_MS: Final = 333
# Undocumented by xAI; 500 ms is the common default of the OpenAI family.
_DEFAULT_SILENCE_MS: Final = 500


class SessionUpdateRejected(Exception):
    """The update cannot be applied; ``param`` names the offending field."""

    def __init__(
        self, message: str, *, param: str | None, code: str = "invalid_session_config"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True)
class VadSettings:
    """Effective server-VAD settings (defaults filled in)."""

    threshold: float = _DEFAULT_THRESHOLD
    prefix_padding_ms: int = _DEFAULT_PREFIX_MS
    silence_duration_ms: int = _DEFAULT_SILENCE_MS
    idle_timeout_ms: int | None = None


@dataclass(frozen=True)
class SimSession:
    """Everything the simulator needs to know about one session's configuration."""

    model: str
    id: str = field(default_factory=lambda: f"sess_{secrets.token_hex(8)}")
    instructions: str = ""
    voice: str = DEFAULT_VOICE
    modalities: tuple[str, ...] = ("audio",)
    vad: VadSettings | None = None
    input_format: AudioFormat = DEFAULT_FORMAT
    output_format: AudioFormat = DEFAULT_FORMAT
    transcription_model: str | None = None
    tools: tuple[dict[str, Any], ...] = ()
    reasoning_effort: Literal["high", "none"] | None = None
    resumption: bool | None = None
    replace: dict[str, str] | None = None
    input_transport: Transport | None = None
    output_transport: Transport | None = None
    output_speed: float | None = None

    @property
    def binary_output(self) -> bool:
        """Whether output audio goes out as binary frames (``audio.output.transport``)."""
        return self.output_transport == "binary"

    @property
    def input_codec(self) -> WireCodec:
        """Codec of ``input_audio_buffer.append`` audio."""
        return WireCodec.of(self.input_format)

    @property
    def output_codec(self) -> WireCodec:
        """Codec of ``response.output_audio.delta`` audio."""
        return WireCodec.of(self.output_format)

    def function_names(self) -> frozenset[str]:
        """Names of the declared function tools."""
        return frozenset(str(tool["name"]) for tool in self.tools if tool.get("type") == "function")

    def apply(self, params: SessionParams) -> SimSession:
        """The session after ``params``; raises :class:`SessionUpdateRejected` if invalid."""
        changes: dict[str, Any] = {}
        given = params.model_fields_set
        audio = params.audio
        audio_in = audio.input if audio else None
        audio_out = audio.output if audio else None
        if params.instructions is not None:
            changes["instructions"] = params.instructions
        voice = params.resolved_voice()
        if voice is not None:
            changes["voice"] = voice.removeprefix("xai_").removeprefix("XAI_").lower()
        modalities = params.output_modalities or params.modalities
        if modalities:
            changes["modalities"] = tuple(modalities)
        if "turn_detection" in given:
            changes["vad"] = _vad(params.turn_detection, self.vad)
        elif audio_in is not None and "turn_detection" in audio_in.model_fields_set:
            changes["vad"] = _vad(audio_in.turn_detection, self.vad)
        if audio_in is not None and audio_in.format is not None:
            changes["input_format"] = _checked_format(audio_in.format, "audio.input.format")
        if audio_out is not None and audio_out.format is not None:
            changes["output_format"] = _checked_format(audio_out.format, "audio.output.format")
        if audio_in is not None and audio_in.transcription is not None:
            changes["transcription_model"] = audio_in.transcription.model
        if audio_in is not None and audio_in.transport is not None:
            changes["input_transport"] = audio_in.transport
        if audio_out is not None and audio_out.transport is not None:
            changes["output_transport"] = audio_out.transport
        if audio_out is not None and audio_out.speed is not None:
            changes["output_speed"] = audio_out.speed
        if params.tools is not None:
            changes["tools"] = tuple(tool.to_wire() for tool in params.tools)
        if params.reasoning is not None and params.reasoning.effort is not None:
            changes["reasoning_effort"] = params.reasoning.effort
        if params.resumption is not None:
            changes["resumption"] = params.resumption.enabled
        if "replace" in given:
            changes["replace"] = params.replace
        return replace(self, **changes)

    def state(self) -> SessionState:
        """The normalised echo for ``session.created`` / ``session.updated``."""
        audio_in = AudioInput(format=self.input_format)
        if self.transcription_model:
            audio_in.transcription = Transcription(model=self.transcription_model)
        audio_out = AudioOutput(format=self.output_format)
        if self.input_transport is not None:
            audio_in.transport = self.input_transport
        if self.output_transport is not None:
            audio_out.transport = self.output_transport
        if self.output_speed is not None:
            audio_out.speed = self.output_speed
        echo = SessionState(
            id=self.id,
            model=self.model,
            instructions=self.instructions,
            voice=f"xai_{self.voice}",
            modalities=list(self.modalities),
            turn_detection=_vad_echo(self.vad),
            tools=[dict(tool) for tool in self.tools],
            audio=AudioParams(input=audio_in, output=audio_out),
        )
        # Optional fields are echoed only once set, as the live service does.
        if self.reasoning_effort is not None:
            echo.reasoning = Reasoning(effort=self.reasoning_effort)
        if self.resumption is not None:
            echo.resumption = Resumption(enabled=self.resumption)
        if self.replace is not None:
            echo.replace = dict(self.replace)
        return echo


def _vad(detection: TurnDetection | None, current: VadSettings | None) -> VadSettings | None:
    if detection is None or detection.type is None:
        return None
    base = current or VadSettings()
    return VadSettings(
        threshold=detection.threshold if detection.threshold is not None else base.threshold,
        prefix_padding_ms=(
            detection.prefix_padding_ms
            if detection.prefix_padding_ms is not None
            else base.prefix_padding_ms
        ),
        silence_duration_ms=(
            detection.silence_duration_ms
            if detection.silence_duration_ms is not None
            else base.silence_duration_ms
        ),
        idle_timeout_ms=detection.idle_timeout_ms,
    )


def _vad_echo(vad: VadSettings | None) -> TurnDetection:
    if vad is None:
        return TurnDetection(type=None)
    return TurnDetection(
        type="server_vad",
        threshold=vad.threshold,
        prefix_padding_ms=vad.prefix_padding_ms,
        silence_duration_ms=vad.silence_duration_ms,
        idle_timeout_ms=vad.idle_timeout_ms,
    )


def _checked_format(fmt: AudioFormat, param: str) -> AudioFormat:
    try:
        WireCodec.of(fmt)
    except AudioError as exc:
        raise SessionUpdateRejected(
            f"Audio format not supported: {exc}. Use audio/pcm, audio/pcmu or audio/pcma.",
            param=param,
            code="invalid_audio_format",
        ) from exc
    return AudioFormat(type=fmt.type, rate=fmt.sample_rate_hz)
