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
          after_tool: "It is {output} in Paris."
        - heard: 'my name is (?P<name>\\w+)'
          reply: "Nice to meet you, {name}."

The first matching rule wins. Placeholders ``{group}`` take regex named groups of ``heard``;
``after_tool`` also knows ``{output}`` (the raw output of a single call) and ``{outputs}`` (all
outputs joined).
"""

from __future__ import annotations

import re
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["ECHO", "BrainRule", "BrainScript", "ScriptedCall"]

ECHO = "echo"
"""The ``default_reply`` value meaning "repeat what was heard": ``You said: <heard>.``"""


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
    reply: str | None = Field(default=None, description="What to say; may use {group}s.")
    calls: list[ScriptedCall] = Field(
        default_factory=list, description="Function calls to make; several are parallel calls."
    )
    preamble: str | None = Field(
        default=None, description="Spoken before the calls, in the same response."
    )
    after_tool: str | None = Field(
        default=None,
        description="Said once the outputs come back; may use {group}s, {output}, {outputs}.",
    )

    @field_validator("heard")
    @classmethod
    def _heard_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"heard is not a valid regex: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.heard is None) == (self.turn is None):
            raise ValueError("a rule needs exactly one of `heard` or `turn`")
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
        """The compiled ``heard`` regex (case-insensitive), or None for a turn rule."""
        return re.compile(self.heard, re.IGNORECASE) if self.heard is not None else None


class BrainScript(BaseModel):
    """A scenario's rules plus what to say when none matches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: list[BrainRule] = Field(default_factory=list, description="Tried in order.")
    default_reply: str = Field(
        default=ECHO,
        description='Reply when no rule matches; "echo" says "You said: <heard>."',
    )
