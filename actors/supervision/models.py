"""What crosses the supervisor's boundary: a session's ticket, status snapshots, drain reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "DrainReport",
    "JobStatus",
    "LiveSessionInfo",
    "NodeStatus",
    "QuotaStatus",
    "SessionLease",
    "SessionTicket",
    "SupervisorStatus",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class SessionTicket(_Frozen):
    """How the supervisor treats one scenario of a job."""

    job_id: str = Field("default", description="Queues are fair across job ids.")
    retries: int = Field(
        0, ge=0, description="Times the scenario is re-run when its session is lost."
    )
    quota: SecretStr | None = Field(
        None,
        description="Names the session cap to count against; default: the endpoint's API key. "
        "Only a fingerprint of it is kept.",
    )
    driver_job: str | None = Field(
        None,
        description="The Ray job id of the driver that waits for this run's result (a batch "
        "job's); when that driver is gone, the run is stopped. None for sessions that outlive "
        "the process that opened them (a detached gateway's calls).",
    )


class NodeStatus(_Frozen):
    """One node as the supervisor sees it."""

    node_id: str
    address: str
    alive: bool
    is_head: bool
    live_sessions: int
    max_sessions: int
    warm_idle: int
    warm_starting: int
    available_mb: float | None


class QuotaStatus(_Frozen):
    """Live sessions against one API key, named by its fingerprint only."""

    fingerprint: str
    live_sessions: int
    limit: int


class JobStatus(_Frozen):
    """One job's sessions: running and waiting."""

    job_id: str
    live_sessions: int
    queued: int


class LiveSessionInfo(_Frozen):
    """A session running now."""

    session_id: str
    job_id: str
    node_id: str
    actor_name: str
    attempt: int
    running_s: float


class SupervisorStatus(_Frozen):
    """A snapshot for ``voxray status`` and the Python API."""

    state: str = Field(description="running, draining or drained.")
    max_sessions: int = Field(description="Live sessions allowed per API key.")
    max_sessions_per_node: int
    max_queued: int
    warm_per_node: int
    live_sessions: int
    waiting: int
    completed: int
    failed: int
    lost: int
    retried: int = Field(description="Lost sessions whose scenario was run again.")
    rate_limited: int = Field(description="Handshakes refused with 429 and retried.")
    cold_starts: int = Field(description="Sessions that waited for a new actor.")
    warm_starts: int = Field(description="Sessions handed a warm actor.")
    recycled: int = Field(description="Actors replaced after K sessions or past the memory cap.")
    nodes: list[NodeStatus] = Field(default_factory=list)
    quotas: list[QuotaStatus] = Field(default_factory=list)
    jobs: list[JobStatus] = Field(default_factory=list)
    recent_failures: list[str] = Field(default_factory=list)


class DrainReport(_Frozen):
    """How a drain ended."""

    finished: int = Field(description="Sessions that ended on their own before the deadline.")
    stopped: int = Field(description="Sessions stopped cleanly at the deadline.")
    killed: int = Field(description="Sessions whose actor had to be killed.")
    refused: int = Field(description="Waiting requests refused.")
    elapsed_s: float


@dataclass(frozen=True)
class SessionLease:
    """A live session opened by the supervisor and handed to the caller.

    The caller talks to ``actor`` directly (audio, text, events: no extra hop through the
    supervisor) and gives the lease back with ``close_session(lease_id)``.
    """

    lease_id: int
    session_id: str
    actor: Any = field(repr=False)
    actor_name: str
    node_id: str
    warm: bool
    open_ms: float
    """Supervisor-side time from the request to ``session.updated``."""
