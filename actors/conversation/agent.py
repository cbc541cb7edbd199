"""The agent's configuration: everything one realtime session is set up with.

This is the model a session actor receives. The driver builds it from a suite or agent YAML
(validated there, with errors naming the file and field) and passes it to the actor; the actor
turns it into exactly one ``session.update``.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from voxray.actors.errors import ToolSpecError
from voxray.actors.tools.spec import TOOL_SEARCH_PATH, ToolSpec, tool_spec_from_entry

__all__ = [
    "CLASSIC_VOICES",
    "KNOWN_VOICES",
    "PCM_RATES",
    "AgentConfig",
    "AudioFormatConfig",
    "FileSearchConfig",
    "ServerVadConfig",
    "TranscriptionConfig",
    "WebSearchConfig",
    "XSearchConfig",
]

CLASSIC_VOICES = frozenset({"ara", "rex", "sal", "eve", "leo"})
"""The five voices documented since launch."""

KNOWN_VOICES = CLASSIC_VOICES | frozenset(
    {
        "altair",
        "atlas",
        "aurora",
        "carina",
        "castor",
        "celeste",
        "cosmo",
        "helios",
        "helix",
        "iris",
        "kepler",
        "liora",
        "lumen",
        "luna",
        "lux",
        "naksh",
        "orion",
        "perseus",
        "rigel",
        "sirius",
        "ursa",
        "zagan",
        "zenith",
    }
)
"""Every built-in voice id xAI documents (protocol reference §2.2)."""

PCM_RATES = frozenset({8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000})
"""Sample rates the realtime API accepts for ``audio/pcm``."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerVadConfig(_Config):
    """Server-side voice activity detection: the server decides when the user's turn ends."""

    type: Literal["server_vad"] = "server_vad"
    threshold: float = Field(0.85, ge=0.1, le=0.9, description="Speech probability threshold.")
    prefix_padding_ms: int = Field(333, ge=0, le=10_000, description="Audio kept before speech.")
    silence_duration_ms: int = Field(
        500, ge=0, le=10_000, description="Silence that ends the user's turn."
    )
    idle_timeout_ms: int | None = Field(
        None, ge=1, description="Re-engage the user after this much silence (None: never)."
    )


class AudioFormatConfig(_Config):
    """One direction's audio format on the wire."""

    encoding: Literal["pcm", "pcmu", "pcma"] = Field("pcm", description="PCM16, μ-law or A-law.")
    rate: int = Field(24_000, description="Sample rate in Hz; G.711 is always 8000.")
    transport: Literal["json", "binary"] = Field(
        "json",
        description="How this direction's audio crosses the websocket: base64 in JSON events, "
        "or raw codec bytes in binary frames (xAI's audio.input/output.transport). The "
        "simulator speaks both; json stays the default until binary is seen to work against "
        "xAI itself.",
    )

    @model_validator(mode="after")
    def _check_rate(self) -> Self:
        if self.encoding == "pcm" and self.rate not in PCM_RATES:
            raise ValueError(f"rate {self.rate} is not one of {sorted(PCM_RATES)}")
        if self.encoding != "pcm" and self.rate != 8000:
            raise ValueError(f"{self.encoding} is always 8000 Hz, not {self.rate}")
        return self

    @property
    def mime_type(self) -> str:
        """The wire ``format.type``."""
        return {"pcm": "audio/pcm", "pcmu": "audio/pcmu", "pcma": "audio/pcma"}[self.encoding]


class TranscriptionConfig(_Config):
    """Transcription of the user's audio."""

    model: str = Field("grok-transcribe", description="Streams interim transcripts when set.")
    language_hint: str | None = Field(None, description="BCP-47 code, e.g. en, es-MX.")
    keyterms: tuple[str, ...] = Field((), max_length=100, description="Terms to bias towards.")

    @field_validator("keyterms")
    @classmethod
    def _short_terms(cls, terms: tuple[str, ...]) -> tuple[str, ...]:
        too_long = [t for t in terms if len(t) > 50]
        if too_long:
            raise ValueError(f"keyterms longer than 50 characters: {too_long}")
        return terms


class WebSearchConfig(_Config):
    """xAI's built-in web search, run by the provider."""

    allowed_domains: tuple[str, ...] = Field((), max_length=5)
    excluded_domains: tuple[str, ...] = Field((), max_length=5)

    @model_validator(mode="after")
    def _not_both(self) -> Self:
        if self.allowed_domains and self.excluded_domains:
            raise ValueError("set allowed_domains or excluded_domains, not both")
        return self


class XSearchConfig(_Config):
    """xAI's built-in search of X posts, run by the provider."""

    allowed_x_handles: tuple[str, ...] = Field((), max_length=20)
    excluded_x_handles: tuple[str, ...] = Field((), max_length=20)

    @model_validator(mode="after")
    def _not_both(self) -> Self:
        if self.allowed_x_handles and self.excluded_x_handles:
            raise ValueError("set allowed_x_handles or excluded_x_handles, not both")
        return self


class FileSearchConfig(_Config):
    """xAI's built-in search of document collections, run by the provider."""

    collection_ids: tuple[str, ...] = Field(min_length=1, description="Collections to search.")
    max_num_results: int = Field(10, ge=1, le=50)


class AgentConfig(_Config):
    """The configuration of one realtime voice agent session."""

    model: str = Field("grok-voice-latest", description="Sent as ?model= on connect.")
    voice: str = Field("ara", description="A classic name or a documented voice id.")
    instructions: str = Field("You are a helpful voice assistant. Keep answers short.")
    turn_detection: ServerVadConfig | None = Field(
        default_factory=ServerVadConfig, description="Server VAD, or None for manual turns."
    )
    modalities: tuple[Literal["text", "audio"], ...] = Field(("audio",), min_length=1)
    input_audio: AudioFormatConfig = Field(default_factory=AudioFormatConfig)
    output_audio: AudioFormatConfig = Field(default_factory=AudioFormatConfig)
    transcription: TranscriptionConfig | None = None
    reasoning_effort: Literal["high", "none"] | None = None
    web_search: WebSearchConfig | None = None
    x_search: XSearchConfig | None = None
    file_search: FileSearchConfig | None = None
    tools: tuple[ToolSpec, ...] = Field(
        (),
        description="Function tools: 'package.module:function', or {ref, name, timeout_s, "
        "runtime_env}.",
    )
    replace: dict[str, str] | None = Field(None, description="Phrase -> spoken substitute.")

    @field_validator("voice")
    @classmethod
    def _known_voice(cls, voice: str) -> str:
        normalized = voice.strip().lower().removeprefix("xai_")
        if normalized not in KNOWN_VOICES:
            raise ValueError(f"unknown voice {voice!r}; known: {', '.join(sorted(KNOWN_VOICES))}")
        return normalized

    @field_validator("tools", mode="before")
    @classmethod
    def _resolve_tools(cls, value: Any, info: ValidationInfo) -> Any:
        # Tool references are resolved here, at load time, so a tool that cannot be imported or
        # described is a config error before any session starts, never a failure mid-call.
        if not isinstance(value, list | tuple):
            return value
        # The suite's (or agent file's) folder: a tools module beside it imports without
        # PYTHONPATH, and is shipped to the runners (tool_spec_from_entry).
        search_path = (info.context or {}).get(TOOL_SEARCH_PATH)
        resolved: list[Any] = []
        for entry in value:
            # A dict with "parameters" is an already-built ToolSpec (e.g. a model_dump).
            if isinstance(entry, str) or (isinstance(entry, dict) and "parameters" not in entry):
                try:
                    resolved.append(tool_spec_from_entry(entry, search_path=search_path))
                except ToolSpecError as error:
                    raise ValueError(error.message) from error
            else:
                resolved.append(entry)
        return resolved

    @model_validator(mode="after")
    def _unique_tool_names(self) -> Self:
        names = [tool.name for tool in self.tools]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate tool names: {duplicates}")
        return self
