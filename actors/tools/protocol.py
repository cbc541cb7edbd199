"""What the pool's client, its runners and its keeper send each other.

Named tuples of builtins and actor handles: a call crosses Ray twice per tool call, and a named
tuple pickles almost as cheaply as a bare one (a :class:`CallRequest` round trip through Ray's
cloudpickle measured ≈ 10 µs against ≈ 5 µs for the same fields as a plain tuple, beside a Ray
call of ≈ 1.2 ms), while every field has a name and a type. The classes must stay at module
level in an importable module: cloudpickle pickles them by reference then, by value otherwise
(≈ 0.7 ms).

Admission happens in the runner, in the same round trip as the call: a runner answers
:data:`BUSY` (no capacity for this kind of call now) or :data:`RETIRING` (about to be stopped)
instead of running it, and the client tries another runner or asks the keeper to queue it.
Neither answer ran anything, so trying elsewhere is always safe.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

__all__ = [
    "BUSY",
    "DONE",
    "RETIRING",
    "VERDICT_DIED",
    "VERDICT_NOT_STARTED",
    "VERDICT_TIMEOUT",
    "AcquireReply",
    "CallReply",
    "CallRequest",
    "CapacityRefused",
    "Granted",
    "LostReply",
    "LostReport",
    "PingReply",
    "SlotView",
    "Unavailable",
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
"""The call never reached the runner (it was dead already, or stopped cleanly without admitting
it): run it elsewhere."""
VERDICT_TIMEOUT: Final = 1
"""This call is the one the runner was stopped for: it timed out."""
VERDICT_DIED: Final = 2
"""The runner died with the call possibly running: report ``runner_died``."""


class SlotView(NamedTuple):
    """One ready runner as the keeper lists it."""

    slot: int
    group: str
    """The runtime_env key of the runner's group (``""`` for the pool's own runners)."""
    generation: int
    """How often the slot's runner was replaced."""
    handle: Any
    """The runner's actor handle."""


class View(NamedTuple):
    """The keeper's list of ready runners; a newer ``version`` replaces an older one."""

    version: int
    slots: tuple[SlotView, ...]


class CallRequest(NamedTuple):
    """One function call, client to runner."""

    call_key: str
    """Unique per call across copies of the client: how the keeper tells calls apart."""
    name: str
    ref: str
    """``module:function`` of the tool."""
    arguments_json: str
    exclusive: bool
    """The call needs the runner to itself (a sync tool)."""
    timeout_s: float
    ticket: str
    """A reservation made by the keeper, or ``""``."""
    view_version: int
    """The client's, so the runner can send a newer view back."""


class CallReply(NamedTuple):
    """A runner's answer to a :class:`CallRequest`."""

    code: int
    """:data:`DONE`, :data:`BUSY` or :data:`RETIRING`."""
    output: str
    error_type: str | None
    view: View | None
    """The runner's view when newer than the client's."""


class Granted(NamedTuple):
    """The keeper reserved room: call that runner with that ticket."""

    slot: int
    generation: int
    handle: Any
    ticket: str
    view: View


class CapacityRefused(NamedTuple):
    """The queue is full or the wait was too long."""

    message: str
    limit: int
    in_use: int
    queued: int


class Unavailable(NamedTuple):
    """No runner can be started for this runtime_env (or the pool is closed)."""

    message: str


AcquireReply = Granted | CapacityRefused | Unavailable
"""The keeper's answer to a request for room on a runner."""


class LostReport(NamedTuple):
    """A client's report of a call whose runner died under it."""

    slot: int
    generation: int
    call_key: str
    name: str
    sent_at_ms: float
    """Wall-clock time (ms since the epoch) just before the call was sent: a runner recorded
    dead before then never received it."""


class LostReply(NamedTuple):
    """The keeper's verdict on a :class:`LostReport`, with its current view."""

    verdict: int
    view: View


class PingReply(NamedTuple):
    """A runner's health answer."""

    running: int
    """Calls running."""
    idle_s: float
    late_s: float
    """How late the most overdue call is."""
    stopping: bool
    figures: dict[str, Any]
    """Per-tool figures since the last ping."""
