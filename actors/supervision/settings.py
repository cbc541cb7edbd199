"""The supervisor's knobs: caps, queue, warm pool, recycling, liveness and 429 backoff.

Built once in the driver (``VoxraySettings.supervisor``, env ``VOXRAY_SUPERVISOR__*``) and
passed to the supervisor actor when it is created. An existing supervisor keeps the settings it
was created with: change them with ``voxray drain`` and a new run.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from voxray.actors.tools.settings import ToolPoolSettings

__all__ = ["SupervisorSettings"]


class SupervisorSettings(BaseModel):
    """Admission, placement, warm pool and liveness of the supervisor actor."""

    model_config = ConfigDict(frozen=True)

    max_sessions: int = Field(
        100, ge=1, description="Live provider sessions per API key (xAI allows 100 per team)."
    )
    max_sessions_per_node: int = Field(
        60, ge=1, description="Live sessions one node hosts at most (≈ 60 fit 2 cores)."
    )
    max_queued: int = Field(
        1_000, ge=0, description="Requests waiting for a slot; beyond it: CapacityError."
    )
    tools: ToolPoolSettings = Field(
        default_factory=ToolPoolSettings,
        description="The tool-runner pool: size, growth, queue bound, timeouts, output cap.",
    )
    warm_per_node: int = Field(
        2,
        ge=0,
        description="Idle session actors kept ready on each node (0: cold starts), from the "
        "first session run on: a cluster that only serves gateway calls keeps none.",
    )
    warm_max_per_node: int = Field(
        10,
        ge=0,
        description=(
            "The warm pool follows the arrival rate of live sessions (Fleet.open_session): a "
            "node keeps as many idle actors as live sessions started there in the last "
            "warm_rate_window_s, from warm_per_node up to this many, so a burst of callers "
            "finds warm actors after the first one. Eval scenarios, which may queue, do not "
            "grow it."
        ),
    )
    warm_rate_window_s: float = Field(
        60.0, gt=0, description="How far back session starts count towards the warm pool."
    )
    conversations_per_actor: int = Field(
        1,
        ge=1,
        description=(
            "Conversations one session actor hosts at once. 1 (default): one process per "
            "conversation, full isolation. N > 1: packed hosts, far denser (≈ 0.3 %% of a core "
            "and < 1 MB per conversation instead of ≈ 2 %% and 60 MB); a conversation that "
            "stalls or fails still ends alone, but a host process that dies takes its N along."
        ).replace("%%", "%"),
    )
    warm_refill: bool = Field(
        True,
        description=(
            "Start a replacement in the background whenever a warm actor is handed out. "
            "False: the pool is filled at start and afterwards only by actors whose sessions "
            "ended, so no actor starts (≈ 0.6 CPU-s each) while sessions run."
        ),
    )
    recycle_after_sessions: int = Field(
        20,
        ge=1,
        description=(
            "A session actor is replaced after hosting this many sessions (a packed host: "
            "this many times conversations_per_actor conversations)."
        ),
    )
    recycle_above_mb: float = Field(
        300.0, gt=0, description="A session actor whose USS passes this is replaced."
    )
    min_node_available_mb: float = Field(
        256.0, ge=0, description="Nodes with less free memory than this get no new sessions."
    )
    stall_timeout_s: float = Field(
        120.0, gt=0, description="A session whose progress counter stays still this long dies."
    )
    progress_check_s: float = Field(
        5.0, gt=0, description="How often each live session's progress counter is read."
    )
    rate_limit_retries: int = Field(
        5, ge=0, description="Handshakes refused with 429 retried (backoff) before giving up."
    )
    rate_limit_backoff_s: float = Field(0.5, gt=0, description="First 429 backoff (doubles).")
    rate_limit_backoff_max_s: float = Field(8.0, gt=0, description="Longest 429 backoff.")
    node_refresh_s: float = Field(2.0, gt=0, description="How often the node list is re-read.")
    driver_check_s: float = Field(
        1.0,
        gt=0,
        description="How often the supervisor checks that the drivers waiting for runs are "
        "still there; the runs of a driver that is gone (killed, crashed) are stopped, so no "
        "session keeps talking to the provider for nobody.",
    )
    actor_start_timeout_s: float = Field(
        60.0, gt=0, description="Longest wait for a new session actor to answer."
    )
    stop_grace_s: float = Field(
        5.0, ge=0, description="After a stop request, time a session gets to close cleanly."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.progress_check_s > self.stall_timeout_s:
            raise ValueError("progress_check_s must not exceed stall_timeout_s")
        if self.rate_limit_backoff_s > self.rate_limit_backoff_max_s:
            raise ValueError("rate_limit_backoff_s must not exceed rate_limit_backoff_max_s")
        return self
