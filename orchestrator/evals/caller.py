"""A scenario's simulated caller, as written in a suite, and how its outcome is scored.

In a suite, a scenario has ``caller:`` instead of ``turns``::

    - name: book-a-taxi
      caller:
        persona: A traveller in a hurry, polite but brief.
        goal: book a taxi to the airport for seven tonight
        success: the agent confirms the booking and the time
        max_turns: 6
        max_duration_s: 120
        voice: rex
        sim:            # backend sim: the caller's scripted brain (turn 1 = the call connects)
          rules:
            - {turn: 1, reply: I need a taxi to the airport.}
            - turn: 2
              preamble: Thanks, goodbye.
              calls: [{name: end_call, arguments: {outcome: success, reason: booked}}]
      sim: {...}        # the agent's brain, as in any scenario

On ``backend: xai`` the caller is a second realtime session whose instructions are built from
``persona``, ``goal`` and ``success``; ``sim`` is ignored. The scenario passes the
``caller outcome`` check (:mod:`.scoring`) when the caller hangs up with ``success``.
"""

from __future__ import annotations

from pydantic import Field
from voxray.actors.conversation.caller import CallerSpec
from voxray.actors.simulator.rules import BrainScript

__all__ = ["ASSUMED_CALLER_LINE_S", "CallerScenario"]

ASSUMED_CALLER_LINE_S = 4.0
"""Assumed length of one thing a simulated caller says, for the estimate before a run."""


class CallerScenario(CallerSpec):
    """A scenario's ``caller:``: the persona and limits, plus the simulator's script for it."""

    sim: BrainScript = Field(
        default_factory=BrainScript,
        description="The caller's scripted brain on backend sim: what it says from what it "
        "heard (turn 1 is the call connecting: the caller's opening line), ending with a call "
        "to end_call(outcome, reason).",
    )

    def call_seconds(self, *, reply_s: float, latency_s: float) -> tuple[float, float]:
        """(audio sent, audio received) in seconds of one call, for the estimate before a run:
        ``max_turns`` exchanges (a caller line of :data:`ASSUMED_CALLER_LINE_S`, an answer of
        ``reply_s``, each after ``latency_s``), at most ``max_duration_s``. Both sessions are
        billed: each receives the whole call (the other side's speech and the silences), and
        each sends what it says."""
        exchange = 2 * latency_s + ASSUMED_CALLER_LINE_S + reply_s
        call_s = min(self.max_turns * exchange, self.max_duration_s)
        spoken_share = (ASSUMED_CALLER_LINE_S + reply_s) / exchange
        return 2 * call_s, call_s * spoken_share

    def spec(self) -> CallerSpec:
        """The caller as the session actor receives it (no simulator script)."""
        return CallerSpec.model_validate(self.model_dump(exclude={"sim"}))
