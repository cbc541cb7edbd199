"""voxray's settings: one frozen object, read from the environment once, in the driver.

Environment variables use the prefix ``VOXRAY_`` and ``__`` for nesting, e.g.
``VOXRAY_ENGINE__CONNECT_TIMEOUT_S=5`` or ``VOXRAY_SUPERVISOR__MAX_SESSIONS=50``. The xAI key is
read from ``XAI_API_KEY`` (or ``VOXRAY_XAI_API_KEY``) and held as a ``SecretStr``, so it is
masked wherever the settings are printed, logged or shown by Ray.

The driver passes the parts actors need (engine tuning, endpoints, pool sizes) to the actors; no
module keeps a global instance.
"""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.errors import ConfigError
from voxray.actors.supervision.settings import SupervisorSettings

__all__ = ["JudgeSettings", "SupervisorSettings", "VoxraySettings"]

XAI_REALTIME_URL = "wss://api.x.ai/v1/realtime"


class JudgeSettings(BaseModel):
    """The model that judges ``expect.judge`` rubric items (xAI's chat completions API).

    E.g. ``VOXRAY_JUDGE__MODEL=grok-4`` or ``VOXRAY_JUDGE__TIMEOUT_S=20``.
    """

    model_config = ConfigDict(frozen=True)

    model: str = Field("grok-4-fast", min_length=1, description="The judging model.")
    base_url: str | None = Field(
        None,
        description="Where `/v1/chat/completions` is; default: the backend's own host "
        "(https://api.x.ai for xai, the job's simulator for sim), with the backend's key.",
    )
    timeout_s: float = Field(60.0, gt=0, description="Longest wait for one judge reply.")
    retries: int = Field(
        3, ge=0, description="Retries of a request answered 429 or 5xx (or not reached)."
    )
    backoff_s: float = Field(
        1.0, ge=0, description="First retry delay; doubled each retry, with jitter."
    )
    max_concurrency: int = Field(
        8, ge=1, description="Judge requests in flight at once for one run."
    )


class CassetteSettings(BaseModel):
    """Recording sessions into cassettes, and replaying them (``voxray eval --record``,
    ``--backend replay``); see the README's "Record and replay"."""

    model_config = ConfigDict(frozen=True)

    record: bool = Field(False, description="Record every scenario run into a cassette.")
    record_dir: str | None = Field(
        None,
        description="Where recorded cassettes go (one folder per run key); default: "
        "`cassettes/` in the run directory. An existing cassette of the same run is replaced.",
    )
    replay_dir: str | None = Field(
        None,
        description="The cassettes a `backend: replay` job serves from (replaces the suite's "
        "`cassettes:`): a folder of `<run key>/` cassettes, or a run directory holding one.",
    )


class VoxraySettings(BaseSettings):
    """Everything voxray reads from the environment."""

    model_config = SettingsConfigDict(
        env_prefix="VOXRAY_",
        env_nested_delimiter="__",
        frozen=True,
        extra="ignore",
    )

    xai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("XAI_API_KEY", "VOXRAY_XAI_API_KEY"),
        description="The xAI API key; needed only for the real backend.",
    )
    xai_url: str = Field(XAI_REALTIME_URL, description="The xAI realtime websocket URL.")
    xai_webhook_secret: SecretStr | None = Field(
        None,
        description="The whsec_… secret of xAI's realtime.call.incoming webhooks (SIP calls), "
        "from VOXRAY_XAI_WEBHOOK_SECRET; `voxray serve` refuses SIP webhooks without it.",
    )
    ray_address: str | None = Field(
        None, description="Ray cluster to join ('auto' or host:port); None starts embedded Ray."
    )
    namespace: str = Field("voxray", description="Ray namespace of voxray's named actors.")
    sim_speed: float = Field(
        1.0, gt=0, description="Simulator audio pacing: 1 is real time, 4 is four times faster."
    )
    sim_host: str = Field(
        "127.0.0.1",
        description="Interface the simulator binds. Loopback suits one machine; on a cluster "
        "of several machines, sessions on other nodes need an address they can reach.",
    )
    sim_transcribe: bool = Field(
        False,
        description="The eval simulator transcribes user audio with pocketsphinx (the "
        "`transcribe` extra): `heard:` rules and `max_user_wer` then judge what a caller "
        "condition did to the words. Off by default: it costs CPU per utterance.",
    )
    session_retries: int = Field(
        1, ge=0, description="Re-runs of a scenario whose session was lost (actor or node died)."
    )
    drain_deadline_s: float = Field(
        30.0,
        ge=0,
        description="On SIGTERM or a drain: how long live sessions get to finish before "
        "they are stopped.",
    )
    engine: EngineTuning = Field(default_factory=EngineTuning)
    supervisor: SupervisorSettings = Field(default_factory=SupervisorSettings)
    judge: JudgeSettings = Field(
        default_factory=JudgeSettings, description="The model judging `expect.judge`."
    )
    cassettes: CassetteSettings = Field(
        default_factory=CassetteSettings, description="Recording and replaying cassettes."
    )

    def xai_endpoint(self) -> ProviderEndpoint:
        """The real xAI endpoint; a clear error when no key is configured."""
        if self.xai_api_key is None or not self.xai_api_key.get_secret_value():
            raise ConfigError(
                "the xai backend needs an API key: set XAI_API_KEY (or use backend: sim)"
            )
        return ProviderEndpoint(url=self.xai_url, api_key=self.xai_api_key)
