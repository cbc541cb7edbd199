"""Reconnect pacing: bounded exponential backoff with full jitter.

Retries only help against transient failures, so the policy also gives up on a connection that
keeps dying quickly after it was re-established (a server that accepts and immediately drops
is not going to get better by being hammered).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Backoff", "ReconnectPolicy"]


class ReconnectPolicy(BaseModel):
    """How a dropped session reconnects."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = Field(True, description="Reconnect after a retryable drop.")
    base_delay_s: float = Field(0.25, gt=0, description="First delay (before jitter).")
    max_delay_s: float = Field(5.0, gt=0, description="Cap on one delay.")
    max_attempts: int = Field(6, ge=1, description="Connect attempts per drop.")
    quick_failure_s: float = Field(
        3.0, ge=0, description="A connection that lived less than this counts as a quick failure."
    )
    max_quick_failures: int = Field(3, ge=1, description="Consecutive quick failures tolerated.")


class Backoff:
    """Delays for one reconnect episode, plus the quick-failure memory across episodes."""

    def __init__(
        self,
        policy: ReconnectPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._rng = rng or random.Random()
        self._quick_failures = 0
        self._connected_at: float | None = None

    def connected(self) -> None:
        """A connection is up: remember when, to judge how long it lived."""
        self._connected_at = self._clock()

    def dropped(self) -> bool:
        """A connection dropped; False when it is time to give up on quick failures."""
        lived = None if self._connected_at is None else self._clock() - self._connected_at
        if lived is not None and lived < self._policy.quick_failure_s:
            self._quick_failures += 1
        else:
            self._quick_failures = 0
        return self._quick_failures < self._policy.max_quick_failures

    def delays(self) -> list[float]:
        """The jittered delay before each attempt of one episode (the first is immediate-ish)."""
        policy = self._policy
        return [
            self._rng.uniform(0, min(policy.max_delay_s, policy.base_delay_s * 2**attempt))
            for attempt in range(policy.max_attempts)
        ]
