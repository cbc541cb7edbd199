"""The tool-runner pool's knobs, in one frozen model.

Built once in the driver (``orchestrator/settings.py`` nests it, so each field is also an
environment variable such as ``VOXRAY_TOOLS__MAX_SIZE``) and passed to
:meth:`~voxray.actors.tools.pool.ToolPool.from_settings`. Nothing here is secret.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from voxray.actors.tools.spec import DEFAULT_TOOL_TIMEOUT_S

__all__ = ["DEFAULT_MAX_OUTPUT_BYTES", "ToolPoolSettings"]

DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024
"""Outputs longer than this (UTF-8 bytes) are cut, with a note: the model's context is finite."""


class ToolPoolSettings(BaseModel):
    """How many runner processes, how many calls may wait, and how long anything may take.

    Capacity: a synchronous tool has a runner to itself while it runs (so stopping it, which
    means killing its process, never takes another call with it); asynchronous tools share a
    runner, up to ``max_async_calls_per_runner`` at once. When every runner is busy the pool
    starts another, up to ``max_size``; beyond that calls wait, at most ``max_queued_calls`` of
    them and each at most ``queue_timeout_s``. A call that cannot be queued gets a ``capacity``
    error output at once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    size: int = Field(
        2, ge=1, description="Runners started with the pool and always kept (default runtime_env)."
    )
    max_size: int = Field(
        8,
        ge=1,
        description="Most runners alive at once, all runtime_envs together; the pool grows on "
        "demand up to it.",
    )
    max_queued_calls: int = Field(
        64,
        ge=0,
        description="Calls that may wait for a free runner when all are busy; more get a "
        "'capacity' error output at once.",
    )
    queue_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Longest a call waits for a free runner before it gets a 'capacity' error "
        "(not counted in the tool's own timeout).",
    )
    max_async_calls_per_runner: int = Field(
        16,
        ge=1,
        description="Calls of async tools one runner runs at once. 1 gives every call a runner "
        "of its own, like sync tools.",
    )
    default_timeout_s: float = Field(
        DEFAULT_TOOL_TIMEOUT_S,
        gt=0,
        description="Seconds a call may run when its tool declares no timeout_s.",
    )
    kill_grace_s: float = Field(
        2.0,
        gt=0,
        description="How long past its timeout an unresponsive runner is given before it is "
        "killed and replaced (a hung sync tool is stopped at the timeout itself).",
    )
    max_output_bytes: int = Field(
        DEFAULT_MAX_OUTPUT_BYTES,
        ge=256,
        description="Outputs longer than this (UTF-8 bytes) are truncated, with a note.",
    )
    start_timeout_s: float = Field(
        120.0,
        gt=0,
        description="Longest a runner may take to start, runtime_env setup (e.g. pip) included.",
    )
    idle_timeout_s: float = Field(
        120.0,
        gt=0,
        description="Runners beyond 'size' (and every runner of a tool's own runtime_env) are "
        "stopped after being idle this long.",
    )
    health_interval_s: float = Field(
        5.0,
        gt=0,
        description="How often the pool checks that runners answer and gathers their figures.",
    )

    @model_validator(mode="after")
    def _size_within_max(self) -> Self:
        if self.size > self.max_size:
            raise ValueError(f"size ({self.size}) must not exceed max_size ({self.max_size})")
        return self
