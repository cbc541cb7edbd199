"""Where a session connects, and the tuning of its engine.

Both are built once in the driver from the settings and passed to session actors. The key is a
``SecretStr``: its repr, and so every log line, result and Ray display of it, stays masked.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from voxray.actors.conversation.backoff import ReconnectPolicy

__all__ = ["EngineTuning", "ProviderEndpoint"]


class ProviderEndpoint(BaseModel):
    """The realtime endpoint of one session: the real xAI service or the simulator."""

    model_config = ConfigDict(frozen=True)

    url: str = Field("wss://api.x.ai/v1/realtime", description="Websocket URL, no query.")
    api_key: SecretStr = Field(description="Bearer token: the xAI key or a simulator token.")
    call_id: str | None = Field(
        None,
        description="Attach to this inbound SIP call (from a realtime.call.incoming webhook): "
        "sent as ?call_id= instead of ?model=. Needs an API key, not an ephemeral secret; the "
        "call's audio flows between the phone network and the provider, never through voxray.",
    )

    def connect_url(self, model: str) -> str:
        """The websocket URL with ``?model=`` set (replacing any model already in the URL), or
        with ``?call_id=`` alone when attaching to a SIP call (the provider ignores the model
        there)."""
        parts = urlsplit(self.url)
        query = [
            q for q in parts.query.split("&") if q and not q.startswith(("model=", "call_id="))
        ]
        if self.call_id is not None:
            query.append(urlencode({"call_id": self.call_id}))
        else:
            query.append(urlencode({"model": model}))
        return urlunsplit(parts._replace(query="&".join(query)))


class EngineTuning(BaseModel):
    """Knobs of the conversation engine. Defaults suit the real service."""

    model_config = ConfigDict(frozen=True)

    connect_timeout_s: float = Field(10.0, gt=0, description="Handshake + session.updated.")
    append_chunk_ms: int = Field(100, ge=10, le=1000, description="Audio per append event.")
    ready_buffer_ms: int = Field(
        5_000, ge=0, description="Audio kept while waiting for session.updated; older drops."
    )
    input_queue_frames: int = Field(
        200, ge=1, description="Outbound audio chunks queued before the oldest is dropped."
    )
    speed: float = Field(
        1.0, gt=0, description="Pacing factor of scripted audio (the simulator's speed)."
    )
    recording_rate: int = Field(24_000, description="Sample rate of the stereo recording.")
    reconnect: ReconnectPolicy = Field(default_factory=ReconnectPolicy)
    rollover_after_s: float | None = Field(
        25 * 60.0,
        gt=0,
        description="Move to a fresh connection between turns after this long; xAI ends "
        "sessions at its maximum duration (30 to 120 min, sources differ). None: never.",
    )
    history_items: int = Field(200, ge=0, description="Items kept to re-seed a reconnect.")
