"""Admission of calls: a call gets a slot or a clear refusal at once, never a wait.

:class:`CallRefused` carries a bounded ``cause`` (it labels the refusal metric and tells the
ingress what to answer). The gateway always enforces its own ``max_calls``; on Ray it also
claims a slot from the supervisor (:mod:`voxray.actors.gateway.actor`), the same cap on live
provider sessions per API key that evals count against.
"""

from __future__ import annotations

from typing import Literal, Protocol

__all__ = ["Admitter", "CallRefused", "LocalAdmitter", "RefusalCause"]

RefusalCause = Literal[
    "draining", "capacity", "unknown_agent", "bad_request", "unauthorized", "connect_failed"
]


class CallRefused(Exception):
    """A call that was not taken, and why (one line, safe to log and to show the caller)."""

    def __init__(self, cause: RefusalCause, message: str) -> None:
        super().__init__(message)
        self.cause: RefusalCause = cause
        self.message = message

    def __reduce__(self) -> tuple[object, ...]:
        return (CallRefused, (self.cause, self.message))


class Admitter(Protocol):
    """Where a call's slot comes from beyond the gateway's own cap."""

    async def claim(self) -> object:
        """A slot, or :class:`CallRefused` at once (never queues)."""
        ...

    async def release(self, slot: object) -> None:
        """Give a slot back (idempotent per slot)."""
        ...


class LocalAdmitter:
    """No cap beyond the gateway's own (a gateway without a supervisor: tests, one process)."""

    async def claim(self) -> object:
        return None

    async def release(self, slot: object) -> None:
        return None
