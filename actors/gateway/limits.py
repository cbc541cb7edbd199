"""Bounds on what one caller's socket may send: a token bucket of messages per second."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["MessageRate"]


class MessageRate:
    """Allows ``per_s`` messages a second sustained, bursts of ``2 * per_s``."""

    def __init__(self, per_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_s = per_s
        self._capacity = 2 * per_s
        self._tokens = self._capacity
        self._clock = clock
        self._last = clock()

    def allow(self) -> bool:
        """Take one message; False when the caller is over its rate."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._per_s)
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
