"""What the pool's client, its runners and its keeper send each other.

Plain tuples and ints, not dataclasses: a call crosses Ray twice per tool call, and pickling a
tuple of builtins is the cheapest thing Ray can do (a dataclass reply measured ~1 ms slower per
call on this project's machines). The names below are the only place their layout is spelled
out.

Admission happens in the runner, in the same round trip as the call: a runner answers
:data:`BUSY` (no capacity for this kind of call now) or :data:`RETIRING` (about to be stopped)
instead of running it, and the client tries another runner or asks the keeper to queue it.
Neither answer ran anything, so trying elsewhere is always safe.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "ACQUIRE_CAPACITY",
    "ACQUIRE_GRANTED",
    "ACQUIRE_UNAVAILABLE",
    "BUSY",
    "DONE",
    "RETIRING",
    "VERDICT_DIED",
    "VERDICT_NOT_STARTED",
    "VERDICT_TIMEOUT",
    "AcquireReply",
    "CallReply",
    "CallRequest",
    "LostReply",
    "PingReply",
    "SlotView",
    "View",
]

# A runner's answer to a call: its ``code`` field.
DONE: Final = 0
"""The call ran; ``output`` and ``error_type`` say how it went."""
BUSY: Final = 1
"""Not admitted: the runner has no room for this kind of call now. Nothing ran."""
RETIRING: Final = 2
"""Not admitted: the runner is being stopped. Nothing ran; use the view to find another."""

# The keeper's answer to a client whose call was on a runner that died.
VERDICT_NOT_STARTED: Final = 0
"""The runner was stopped cleanly and this call had not been admitted: run it elsewhere."""
VERDICT_TIMEOUT: Final = 1
"""This call is the one the runner was stopped for: it timed out."""
VERDICT_DIED: Final = 2
"""The runner died with the call possibly running: report ``runner_died``."""

# The keeper's answer to a request for a runner: ``reply[0]``.
ACQUIRE_GRANTED: Final = 0
"""``(0, slot, generation, handle, ticket, view)``: call that runner with that ticket."""
ACQUIRE_CAPACITY: Final = 1
"""``(1, message, limit, in_use, queued)``: the queue is full or the wait was too long."""
ACQUIRE_UNAVAILABLE: Final = 2
"""``(2, message)``: no runner can be started for this runtime_env (or the pool is closed)."""

SlotView = tuple[int, str, int, Any]
"""``(slot, runtime_env key, generation, actor handle)`` of one ready runner."""

View = tuple[int, tuple[SlotView, ...]]
"""``(version, ready runners)``: the keeper's current list, newer versions replace older."""

CallRequest = tuple[str, str, str, str, bool, float, str, int]
"""``(call_key, tool name, ref, arguments JSON, exclusive, timeout_s, ticket, view version)``.

``exclusive``: the call needs the runner to itself (a sync tool). ``ticket``: a reservation
made by the keeper, or ``""``. ``view version``: the client's, so the runner can send a newer
view back.
"""

CallReply = tuple[int, str, str | None, View | None]
"""``(code, output, error_type, newer view or None)``."""

AcquireReply = tuple[Any, ...]
"""See :data:`ACQUIRE_GRANTED`, :data:`ACQUIRE_CAPACITY`, :data:`ACQUIRE_UNAVAILABLE`."""

LostReply = tuple[int, View]
"""``(verdict, current view)``."""

PingReply = tuple[int, float, float, bool, dict[str, Any]]
"""``(calls running, idle seconds, seconds the most overdue call is late, stopping,
per-tool figures since the last ping)``."""
