"""The session configuration sent in ``session.update`` and echoed in ``session.created/updated``.

xAI's session is a hybrid (protocol reference §3, §8): ``voice`` and ``turn_detection`` are
top-level like OpenAI's beta API, audio formats are GA-style nested objects, and the GA nested
forms (``audio.output.voice``, ``audio.input.turn_detection``) are accepted too. Both spellings
are modelled; :meth:`SessionParams.resolved_voice` picks the effective one.

Value ranges are the documented ones, so the simulator can reject what xAI rejects.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import ConfigDict, Field, model_validator
from voxray.actors.realtime.base import InboundModel, OutboundModel

__all__ = [
    "PCM_SAMPLE_RATES_HZ",
    "AudioFormat",
    "AudioInput",
    "AudioOutput",
    "AudioParams",
    "FileSearchTool",
    "FunctionTool",
    "McpTool",
    "Modality",
    "Reasoning",
    "Resumption",
    "SessionParams",
    "SessionState",
    "Tool",
    "Transcription",
    "Transport",
    "TurnDetection",
    "WebSearchLocation",
    "WebSearchTool",
    "XSearchTool",
]

PCM_SAMPLE_RATES_HZ: Final = frozenset({8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000})
"""Rates accepted for ``audio/pcm`` (§2.3; 11025 is in the machine-readable spec only)."""

_FIXED_RATE_HZ: Final = {"audio/pcmu": 8000, "audio/pcma": 8000, "audio/opus": 24000}

Transport = Literal["json", "binary"]
Modality = Literal["text", "audio"]
Keyterm = Annotated[str, Field(max_length=50)]


class AudioFormat(OutboundModel):
    """An audio encoding, e.g. ``{"type": "audio/pcm", "rate": 24000}``.

    ``rate`` is only meaningful for PCM; G.711 is fixed at 8 kHz and Opus at 24 kHz, for which
    ``rate`` may be omitted or must equal the fixed rate. Frozen (a hashable value), so it can
    serve as a default in dataclasses and as a dict key.
    """

    model_config = ConfigDict(frozen=True)

    type: Literal["audio/pcm", "audio/pcmu", "audio/pcma", "audio/opus"] = "audio/pcm"
    rate: int | None = None

    @model_validator(mode="after")
    def _check_rate(self) -> AudioFormat:
        if self.rate is None:
            return self
        fixed = _FIXED_RATE_HZ.get(self.type)
        if fixed is not None and self.rate != fixed:
            raise ValueError(f"{self.type} is fixed at {fixed} Hz, got rate {self.rate}")
        if fixed is None and self.rate not in PCM_SAMPLE_RATES_HZ:
            allowed = ", ".join(str(rate) for rate in sorted(PCM_SAMPLE_RATES_HZ))
            raise ValueError(f"audio/pcm rate {self.rate} is not one of {allowed}")
        return self

    @property
    def sample_rate_hz(self) -> int:
        """The effective sample rate: the fixed codec rate, or ``rate`` (PCM default 24000)."""
        return _FIXED_RATE_HZ.get(self.type) or self.rate or 24000


class TurnDetection(OutboundModel):
    """Server voice-activity detection. ``type=None`` (or ``turn_detection: null``) = manual.

    ``create_response`` and ``interrupt_response`` are OpenAI fields that xAI does not document;
    some clients send them and xAI drops ``interrupt_response`` from its echo.
    """

    type: Literal["server_vad"] | None = None
    threshold: Annotated[float, Field(ge=0.1, le=0.9)] | None = None
    prefix_padding_ms: Annotated[int, Field(ge=0, le=10_000)] | None = None
    silence_duration_ms: Annotated[int, Field(ge=0, le=10_000)] | None = None
    idle_timeout_ms: Annotated[int, Field(ge=0)] | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None


class Transcription(OutboundModel):
    """Input transcription. ``model="grok-transcribe"`` enables the streaming ``.updated``."""

    model: str | None = None
    language_hint: str | None = None
    keyterms: Annotated[list[Keyterm], Field(max_length=100)] | None = None


class AudioInput(OutboundModel):
    """``session.audio.input``. ``turn_detection`` here is the GA nested spelling."""

    format: AudioFormat | None = None
    transcription: Transcription | None = None
    transport: Transport | None = None
    turn_detection: TurnDetection | None = None


class AudioOutput(OutboundModel):
    """``session.audio.output``. ``voice`` here is the GA nested spelling."""

    format: AudioFormat | None = None
    voice: str | None = None
    speed: Annotated[float, Field(ge=0.7, le=1.5)] | None = None
    transport: Transport | None = None


class AudioParams(OutboundModel):
    """``session.audio``: input and output are configured independently."""

    input: AudioInput | None = None
    output: AudioOutput | None = None


class FunctionTool(OutboundModel):
    """A client-side function, in the flat form every client sends.

    The nested ``{"type": "function", "function": {...}}`` form of xAI's machine-readable spec is
    accepted on input and flattened.
    """

    type: Literal["function"] = "function"
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None

    @classmethod
    def _normalize_wire(cls, data: dict[str, Any]) -> dict[str, Any]:
        nested = data.get("function")
        if isinstance(nested, dict) and "name" not in data:
            data = {key: value for key, value in data.items() if key != "function"} | nested
        return data


def _exclusive(first: list[str] | None, second: list[str] | None, names: str) -> None:
    if first and second:
        raise ValueError(f"{names} are mutually exclusive")


class WebSearchLocation(OutboundModel):
    """Approximate user location for web search."""

    country: str | None = None
    region: str | None = None
    city: str | None = None
    timezone: str | None = None


class WebSearchTool(OutboundModel):
    """xAI server-side web search (runs inside xAI; no client round trip)."""

    type: Literal["web_search"] = "web_search"
    allowed_domains: Annotated[list[str], Field(max_length=5)] | None = None
    excluded_domains: Annotated[list[str], Field(max_length=5)] | None = None
    location: WebSearchLocation | None = None
    enable_image_understanding: bool | None = None

    @classmethod
    def _normalize_wire(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "user_location" in data and "location" not in data:
            data = dict(data)
            data["location"] = data.pop("user_location")
        return data

    @model_validator(mode="after")
    def _check_domains(self) -> WebSearchTool:
        _exclusive(self.allowed_domains, self.excluded_domains, "allowed_domains/excluded_domains")
        return self


class XSearchTool(OutboundModel):
    """xAI server-side search over X posts."""

    type: Literal["x_search"] = "x_search"
    allowed_x_handles: Annotated[list[str], Field(max_length=20)] | None = None
    excluded_x_handles: Annotated[list[str], Field(max_length=20)] | None = None
    from_date: date | None = None
    to_date: date | None = None
    enable_image_understanding: bool | None = None
    enable_video_understanding: bool | None = None

    @model_validator(mode="after")
    def _check_filters(self) -> XSearchTool:
        _exclusive(
            self.allowed_x_handles, self.excluded_x_handles, "allowed_x_handles/excluded_x_handles"
        )
        if self.from_date and self.to_date and self.from_date > self.to_date:
            raise ValueError(f"from_date {self.from_date} is after to_date {self.to_date}")
        return self


class FileSearchTool(OutboundModel):
    """xAI server-side search over collections (vector stores)."""

    type: Literal["file_search"] = "file_search"
    vector_store_ids: list[str]
    max_num_results: Annotated[int, Field(ge=1)] | None = None


class McpTool(OutboundModel):
    """A remote MCP server that xAI calls on the model's behalf."""

    type: Literal["mcp"] = "mcp"
    server_url: str
    server_label: str = Field(min_length=1, pattern=r"^[^.]+$")
    server_description: str | None = None
    allowed_tools: list[str] | None = None
    authorization: str | None = None
    headers: dict[str, str] | None = None


Tool = Annotated[
    FunctionTool | WebSearchTool | XSearchTool | FileSearchTool | McpTool,
    Field(discriminator="type"),
]


class Reasoning(OutboundModel):
    """``session.reasoning``: ``effort`` is ``"high"`` (default) or ``"none"``."""

    effort: Literal["high", "none"] | None = None


class Resumption(OutboundModel):
    """``session.resumption`` (xAI extension): keep history for a later ``conversation_id``."""

    enabled: bool


class SessionParams(OutboundModel):
    """The ``session`` object of ``session.update``. Every field is optional; send only changes.

    ``type`` exists only because GA clients send ``"realtime"``; xAI neither needs nor echoes it.
    ``tools: null`` is read as "no change" and never sent: xAI's reaction to it is undocumented.
    """

    emit_defaults: ClassVar[tuple[str, ...]] = ()

    model: str | None = None
    instructions: str | None = None
    voice: str | None = None
    turn_detection: TurnDetection | None = None
    audio: AudioParams | None = None
    tools: list[Tool] | None = None
    reasoning: Reasoning | None = None
    resumption: Resumption | None = None
    replace: dict[str, str] | None = None
    modalities: list[Modality] | None = None
    output_modalities: list[Modality] | None = None
    type: Literal["realtime"] | None = None

    @classmethod
    def _normalize_wire(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "tools" in data and data["tools"] is None:
            data = {key: value for key, value in data.items() if key != "tools"}
        return data

    def resolved_voice(self) -> str | None:
        """The voice this update sets: top-level ``voice``, else GA ``audio.output.voice``."""
        if self.voice is not None:
            return self.voice
        output = self.audio.output if self.audio else None
        return output.voice if output else None


class SessionState(InboundModel):
    """The server's echo of the session in ``session.created`` / ``session.updated``.

    Observed live: ``voice`` carries an ``xai_`` prefix (``"xai_ara"``), ``turn_detection`` is
    ``{"type": null}`` by default, ``id`` may be missing on updates. Tools stay untyped dicts so
    an echo with an unfamiliar tool never fails to parse. The nested parameter models forbid
    unknown keys unless validated with the ``LENIENT`` context, which ``parse_server_event`` uses.
    """

    emit_defaults: ClassVar[tuple[str, ...]] = ("object",)

    id: str | None = None
    object: str = "realtime.session"
    model: str | None = None
    instructions: str | None = None
    voice: str | None = None
    modalities: list[str] | None = None
    output_modalities: list[str] | None = None
    turn_detection: TurnDetection | None = None
    tools: list[dict[str, Any]] | None = None
    audio: AudioParams | None = None
    reasoning: Reasoning | None = None
    resumption: Resumption | None = None
    replace: dict[str, str] | None = None

    @property
    def bare_voice(self) -> str | None:
        """``voice`` without the echo's ``xai_`` prefix, lower-cased (``"xai_Ara"`` → ``ara``)."""
        if self.voice is None:
            return None
        return self.voice.removeprefix("xai_").lower()
