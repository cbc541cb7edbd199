"""The scripted brain's rule model: what the simulator says and calls for each user turn.

Written in a scenario's ``sim:`` key of an eval suite, so the shapes are meant to read well as
YAML::

    sim:
      default_reply: echo
      rules:
        - turn: 1
          preamble: Let me check that.
          calls:
            - name: get_weather
              arguments: {location: Paris}
          after_tool: "It is {output.temperature} degrees and {output.conditions} in Paris."
        - heard: 'my name is (?P<name>\\w+)'
          reply: "Nice to meet you, {name}."
        - instructions: 'say goodbye'
          reply: "Goodbye!"
      idle_reply: Are you still there?
      latency: {mean_ms: 300, spread_ms: 100}
      faults: {actions: [{do: drop, mid_response: 1, times: 1}]}

A rule's conditions are ``heard`` (a regex searched in what was heard this turn) or ``turn``
(the 1-based index of the user turn), optionally with ``instructions`` (a regex searched in the
instructions in force for the response: ``response.create``'s own, else the session's); a rule
may also have ``instructions`` alone. The first matching rule wins. Placeholders ``{group}``
take regex named groups of ``heard``; ``after_tool`` also knows ``{output}`` (the raw output of
a single call), ``{outputs}`` (all outputs joined), and fields of a JSON output:
``{output.temperature}`` of the first call's, ``{output2.city}`` of the second's, nested keys
and list indexes dotted (``{output.days.0.high}``). A field that is not there stays as written.
"""

from __future__ import annotations

import re
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from voxray.actors.simulator.faults import FaultPlan
from voxray.actors.simulator.judge import JudgeScript
from voxray.actors.simulator.latency import ResponseLatency
from voxray.actors.simulator.patterns import checked_pattern

__all__ = ["ECHO", "IDLE_REPLY", "BrainRule", "BrainScript", "ScriptedCall"]

ECHO = "echo"
"""The ``default_reply`` value meaning "repeat what was heard": ``You said: <heard>.``"""

IDLE_REPLY = "Are you still there?"
"""The default check-in said when ``idle_timeout_ms`` fires."""


class ScriptedCall(BaseModel):
    """One function call the simulated model makes.

    String values inside ``arguments`` (at any depth) may use ``{group}`` placeholders.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Function name, as declared in the tools.")
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="JSON arguments sent with the call."
    )


class BrainRule(BaseModel):
    """A condition (``heard`` regex or ``turn`` number) and what to answer when it matches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    heard: str | None = Field(
        default=None,
        description="Regex searched case-insensitively in what the simulator heard this turn.",
    )
    turn: int | None = Field(default=None, ge=1, description="1-based index of the user turn.")
    instructions: str | None = Field(
        default=None,
        description="Regex searched case-insensitively in the instructions of the response.",
    )
    reply: str | None = Field(default=None, description="What to say; may use {group}s.")
    calls: list[ScriptedCall] = Field(
        default_factory=list, description="Function calls to make; several are parallel calls."
    )
    preamble: str | None = Field(
        default=None, description="Spoken before the calls, in the same response."
    )
    after_tool: str | None = Field(
        default=None,
        description="Said once the outputs come back; may use {group}s, {output}, {outputs} "
        "and fields of JSON outputs: {output.temperature}, {output2.city}.",
    )

    @field_validator("heard", "instructions")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        return checked_pattern(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.heard is not None and self.turn is not None:
            raise ValueError("a rule has `heard` or `turn`, not both")
        if self.heard is None and self.turn is None and self.instructions is None:
            raise ValueError("a rule needs a condition: `heard`, `turn` or `instructions`")
        if self.calls and self.reply is not None:
            raise ValueError(
                "a rule with `calls` speaks its `preamble` and `after_tool`, not `reply`"
            )
        if not self.calls and self.reply is None:
            raise ValueError("a rule needs a `reply` or some `calls`")
        if not self.calls and (self.preamble is not None or self.after_tool is not None):
            raise ValueError("`preamble` and `after_tool` only make sense with `calls`")
        return self

    def pattern(self) -> re.Pattern[str] | None:
        """The compiled ``heard`` regex (case-insensitive), or None."""
        return re.compile(self.heard, re.IGNORECASE) if self.heard is not None else None

    def instructions_pattern(self) -> re.Pattern[str] | None:
        """The compiled ``instructions`` regex (case-insensitive), or None."""
        if self.instructions is None:
            return None
        return re.compile(self.instructions, re.IGNORECASE)


class BrainScript(BaseModel):
    """A scenario's rules plus what to say when none matches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: list[BrainRule] = Field(default_factory=list, description="Tried in order.")
    default_reply: str = Field(
        default=ECHO,
        description='Reply when no rule matches; "echo" says "You said: <heard>."',
    )
    idle_reply: str = Field(
        default=IDLE_REPLY,
        description="The check-in said when the session's idle_timeout_ms fires.",
    )
    latency: ResponseLatency | None = Field(
        default=None, description="Response latency of this scenario (overrides the server's)."
    )
    faults: FaultPlan | None = Field(
        default=None, description="Faults of this scenario's sessions (see faults.py)."
    )
    judge: JudgeScript | None = Field(
        default=None,
        description="The scripted verdicts of the chat completions endpoint (judge.py), "
        "for the scenario's `expect.judge` rubric items.",
    )
    track_noise: bool = Field(
        default=False,
        description="The VAD follows the noise floor (vad.py), so a turn under steady background "
        "noise ends when the caller stops. The driver turns it on for a scenario whose caller "
        "condition adds noise. Off otherwise: with no history, the floor learnt from a caller who "
        "speaks from the first frame is the voice itself, and a short 'Okay.' would start no turn.",
    )
    replay: str | None = Field(
        default=None,
        description="Serve this scenario's sessions from the cassette in this directory "
        "(backend replay) instead of simulating them: the rules are not used, and what the "
        "client sends is checked against the recording (replay.py).",
    )
