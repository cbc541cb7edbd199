"""The gateway's knobs: where it listens, its secrets, and the bounds on what callers send.

Built in the driver (``voxray serve``) and passed to each gateway actor. Secrets are
``SecretStr``: masked wherever the settings are printed or logged, and sealed before they cross a
Ray call (:mod:`voxray.actors.sealed`), so Ray's task specs never hold them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["GatewaySettings"]


class GatewaySettings(BaseModel):
    """One gateway's listening address, secrets, caps and inbound bounds."""

    model_config = ConfigDict(frozen=True)

    host: str = Field("127.0.0.1", description="Interface to bind; loopback unless told otherwise.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port (0: any free port).")
    public_url: str | None = Field(
        None,
        description="The URL callers' providers reach this gateway at (https://host), used in "
        "TwiML stream URLs and to check Twilio signatures; default: from the request.",
    )
    twilio_auth_token: SecretStr | None = Field(
        None, description="When set, every Twilio request must carry a valid X-Twilio-Signature."
    )
    xai_webhook_secret: SecretStr | None = Field(
        None,
        description="The whsec_… secret xAI signs realtime.call.incoming webhooks with "
        "(VOXRAY_XAI_WEBHOOK_SECRET); without it the SIP ingress refuses every webhook.",
    )
    browser_secret: SecretStr = Field(
        description="Key that signs the browser page's short-lived websocket tokens."
    )
    browser_token_ttl_s: float = Field(
        600.0, gt=0, description="How long a minted browser token opens a call."
    )
    max_calls: int = Field(
        100, ge=1, description="Calls this gateway hosts at once; beyond it callers are refused."
    )
    drain_deadline_s: float = Field(
        3600.0, ge=0, description="On drain: how long live calls get to finish before they end."
    )
    records_path: str | None = Field(
        None, description="JSONL file each ended call is appended to (None: no records)."
    )
    recordings_dir: str | None = Field(
        None,
        description="Keep each call's stereo recording (caller left, agent right) as "
        "<call_id>.wav here; None: no recordings. SIP calls have none (no audio through "
        "voxray).",
    )
    max_message_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest websocket message a caller may send."
    )
    max_messages_per_s: float = Field(
        200.0, gt=0, description="Sustained inbound messages per second per caller socket."
    )
    max_call_s: float = Field(
        4 * 3600.0, gt=0, description="A call is ended after this long, whatever happens."
    )
