"""Settings of the built-in realtime simulator.

One frozen object, built by the driver and handed to the simulator (or its Ray actor). Nothing
here is secret except the static API keys, which are never logged.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from voxray.actors.simulator.faults import FaultPlan
from voxray.actors.simulator.latency import ResponseLatency

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
    response_latency: ResponseLatency = Field(
        default_factory=ResponseLatency,
        description=(
            "Delay between response.created and the first output (divided by speed, like all "
            "pacing); a scenario's script may override it."
        ),
    )
    seed: int = Field(default=0, description="Seed of the latency RNG, so runs are reproducible.")
    output_chunk_ms: int = Field(
        default=40, ge=10, le=1000, description="Audio duration of one output_audio.delta."
    )
    ping_interval_s: float | None = Field(
        default=15.0,
        gt=0,
        description=(
            "Send an application-level `ping` event this often (wall clock), as the live "
            "service does; None sends none."
        ),
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
    transcribe: bool = Field(
        default=False,
        description=(
            "Transcribe user audio with pocketsphinx (the `transcribe` extra) so rules can match "
            "what was said; off by default because of its CPU cost. Without it, heard text is a "
            "placeholder stating the speech's duration."
        ),
    )
    max_duration_s: float | None = Field(
        default=7200.0,
        gt=0,
        description=(
            "Wall-clock session limit: error{type: max_duration} then a close, like the live "
            "service's 120 min. None: unlimited."
        ),
    )
    inactivity_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description=(
            "End a session with error{type: timeout} and a close after this long without a "
            "client frame (the live value is undocumented). None: never."
        ),
    )
    resumption_ttl_s: float = Field(
        default=1800.0,
        gt=0,
        description="How long a closed conversation with resumption enabled can be resumed.",
    )
    faults: FaultPlan | None = Field(
        default=None, description="Faults applied to every session (besides a script's own)."
    )
    record_frames: bool = Field(
        default=False,
        description=(
            "Keep every client frame per connection (Simulator.connections) so tests can assert "
            "on what a client sent; off by default because it parses each frame again."
        ),
    )
