"""Who may connect: registered scripts, their grants (tokens), and handshake refusals.

A :class:`Script` is one registered :class:`~voxray.actors.simulator.rules.BrainScript` with the
connection counters its ``refuse`` fault needs ("the first K connects"); every token minted for
it (the registration token and ephemeral client secrets) is a :class:`Grant` sharing the script.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web
from voxray.actors.simulator.brain import Brain
from voxray.actors.simulator.faults import ConnectRefusal, FaultPlan
from voxray.actors.simulator.input_tally import InputTally
from voxray.actors.simulator.judge import JudgeScript, ScriptedJudge
from voxray.actors.simulator.replay_ledger import ReplayLedger

__all__ = ["Grant", "Refusals", "Script", "refusal_response"]

_TALLIES_KEPT: Final = 1_000


@dataclass
class Refusals:
    """Handshake refusals of one source: the plan's, and injected ones (counted from then)."""

    connects: int = 0
    injected: list[tuple[ConnectRefusal, int]] = field(default_factory=list)

    def next_connect(self, planned: ConnectRefusal | None) -> tuple[int, ConnectRefusal | None]:
        """Count a connect; returns its ordinal and the refusal that applies, if any."""
        self.connects += 1
        if planned is not None and planned.applies_to(self.connects):
            return self.connects, planned
        for refusal, since in self.injected:
            if refusal.applies_to(self.connects - since):
                return self.connects, refusal
        return self.connects, None


@dataclass
class Script:
    """A registered script: its brain, and the connection counters of its token(s)."""

    brain: Brain
    refusals: Refusals = field(default_factory=Refusals)
    inputs: deque[InputTally] = field(default_factory=lambda: deque(maxlen=_TALLIES_KEPT))
    """Input audio tallies of its latest connections (bounded: a long run keeps the last)."""
    _judge: ScriptedJudge | None = field(default=None, repr=False)
    replays: ReplayLedger = field(default_factory=ReplayLedger, repr=False)
    """What its replayed connections found (``BrainScript.replay``)."""

    @property
    def faults(self) -> FaultPlan | None:
        """The script's own fault plan."""
        return self.brain.script.faults

    @property
    def judge(self) -> ScriptedJudge:
        """The script's scripted judge (its counters live as long as the script)."""
        if self._judge is None:
            self._judge = ScriptedJudge(self.brain.script.judge or JudgeScript())
        return self._judge


@dataclass(frozen=True)
class Grant:
    """One token's right to connect as ``script``."""

    script: Script
    expires_at: float | None = None  # unix seconds; None: until unregistered


_BODIES: Final = {
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "permission_denied", "The API key may not use this model."),
    429: ("rate_limit_error", "rate_limit_exceeded", "Too many concurrent sessions."),
    500: ("internal_error", "internal_error", "Internal server error."),
    503: ("internal_error", "service_unavailable", "The service is temporarily unavailable."),
}


def refusal_response(refusal: ConnectRefusal, message: str | None = None) -> web.Response:
    """The HTTP error answering a refused handshake, with an OpenAI-style JSON error body."""
    error_type, code, default_message = _BODIES[refusal.status]
    body = {
        "error": {
            "type": error_type,
            "code": code,
            "message": message or default_message,
            "param": None,
        }
    }
    headers: dict[str, str] = {}
    if refusal.retry_after_s is not None:
        headers["Retry-After"] = f"{refusal.retry_after_s:g}"
    return web.json_response(body, status=refusal.status, headers=headers)
