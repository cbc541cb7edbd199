"""Settings of the built-in realtime simulator.

One frozen object, built by the driver and handed to the simulator (or its Ray actor). Nothing
here is secret except the static API keys, which are never logged.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SimulatorConfig"]


class SimulatorConfig(BaseModel):
    """How the simulator listens, paces its audio and answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(default="127.0.0.1", description="Interface to bind; loopback by default.")
    port: int = Field(default=0, ge=0, le=65535, description="TCP port; 0 picks a free one.")
    speed: float = Field(
        default=1.0,
        gt=0,
        description=(
            "Pacing multiplier for output audio: deltas are sent every output_chunk_ms / speed "
            "ms of wall-clock time. VAD and every timing decision run on the audio timeline of "
            "received samples, so results do not depend on it."
        ),
    )
    api_keys: frozenset[str] = Field(
        default=frozenset(),
        description="Static bearer tokens accepted besides the ones handed out by register().",
    )
    first_audio_latency_ms: float = Field(
        default=300.0,
        ge=0,
        description=(
            "Delay between response.created and the first audio delta (divided by speed, "
            "like all pacing)."
        ),
    )
    latency_jitter_ms: float = Field(
        default=0.0,
        ge=0,
        description="Uniform jitter (+/-) added to first_audio_latency_ms, from a seeded RNG.",
    )
    seed: int = Field(default=0, description="Seed of the jitter RNG, so runs are reproducible.")
    output_chunk_ms: int = Field(
        default=40, ge=10, le=1000, description="Audio duration of one output_audio.delta."
    )
    ping_interval_s: float | None = Field(
        default=None,
        gt=0,
        description="Send an application-level `ping` event this often; None sends none.",
    )
    default_model: str = Field(
        default="grok-voice-latest", description="Model reported when `?model=` is absent."
    )
    outbound_queue_size: int = Field(
        default=256,
        ge=8,
        description=(
            "Events buffered per connection before the sender blocks; a slow client thus "
            "slows the simulator's producers instead of growing memory."
        ),
    )
    heartbeat_s: float | None = Field(
        default=30.0, gt=0, description="aiohttp websocket heartbeat (protocol-level ping)."
    )
