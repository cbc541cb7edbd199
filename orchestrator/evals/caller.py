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

__all__ = ["CallerScenario"]


class CallerScenario(CallerSpec):
    """A scenario's ``caller:``: the persona and limits, plus the simulator's script for it."""

    sim: BrainScript = Field(
        default_factory=BrainScript,
        description="The caller's scripted brain on backend sim: what it says from what it "
        "heard (turn 1 is the call connecting: the caller's opening line), ending with a call "
        "to end_call(outcome, reason).",
    )

    def spec(self) -> CallerSpec:
        """The caller as the session actor receives it (no simulator script)."""
        return CallerSpec.model_validate(self.model_dump(exclude={"sim"}))
