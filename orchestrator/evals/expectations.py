"""What a scenario's conversation must show to pass: the ``expect:`` key of a suite.

::

    expect:
      tools_called: [{name: get_weather, arguments: {city: Paris}, ok: true}]
      tools_not_called: [lookup_order]
      transcript_contains: [Paris]
      transcript_matches: ['\\d+ degrees']
      transcript_not_contains: [sorry]
      max_latency_ms: 1500          # every turn, end of user speech → first agent audio
      max_latency_p95_ms: 1200      # p95 over all runs of the scenario (with `repeat`)
      max_barge_in_stop_ms: 300     # user starts talking over the agent → agent audio stops
      max_user_wer: 0.25            # word error rate of the user transcription (jiwer)
      max_false_interruptions: 0    # the agent did not stop for a backchannel or a cough
      judge:                        # rubric items judged by a model (voxray.evals.judge)
        - the agent confirmed the order number before cancelling
      judge_samples: 3              # each item judged K times; no majority is "uncertain"
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from voxray.evals.suite_errors import FieldProblem, check_regex

__all__ = ["Expectations", "ToolExpectation"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolExpectation(_Model):
    """A function call the agent must make (at least one call must satisfy every condition)."""

    name: str = Field(min_length=1, description="Function name, as the model calls it.")
    arguments: dict[str, Any] = Field(
        default_factory=dict,
        description="Each key given must equal the call's parsed JSON argument of that name.",
    )
    arguments_match: dict[str, str] = Field(
        default_factory=dict,
        description="Regex per argument, searched case-insensitively in its value (as text).",
    )
    ok: bool | None = Field(
        None, description="Whether the call must have succeeded (true) or failed (false)."
    )

    @model_validator(mode="before")
    @classmethod
    def _name_only(cls, value: Any) -> Any:
        # `tools_called: [get_weather]` is the common case: any call of that function.
        return {"name": value} if isinstance(value, str) else value

    @field_validator("arguments_match")
    @classmethod
    def _regexes_compile(cls, patterns: dict[str, str]) -> dict[str, str]:
        for key, pattern in patterns.items():
            check_regex(pattern, (key,))
        return patterns


class Expectations(_Model):
    """What a scenario's conversation must show to pass."""

    tools_called: list[ToolExpectation] = Field(
        default_factory=list, description="Calls that must have been made."
    )
    tools_not_called: list[str] = Field(
        default_factory=list, description="Functions that must not have been called."
    )
    transcript_contains: list[str] = Field(
        default_factory=list,
        description="Case-insensitive substrings of the agent's whole transcript.",
    )
    transcript_matches: list[str] = Field(
        default_factory=list,
        description="Regexes searched case-insensitively in the agent's whole transcript.",
    )
    transcript_not_contains: list[str] = Field(
        default_factory=list,
        description="Case-insensitive substrings the agent's transcript must not contain.",
    )
    max_latency_ms: float | None = Field(
        None, gt=0, description="Budget for every turn's response latency (end of speech to audio)."
    )
    max_latency_p95_ms: float | None = Field(
        None,
        gt=0,
        description=(
            "Budget for the 95th percentile of response latency over every turn of every run "
            "of the scenario (judged once per scenario, across its repeats)."
        ),
    )
    max_barge_in_stop_ms: float | None = Field(
        None,
        gt=0,
        description=(
            "For each `barge_in` turn: the agent's audio must stop within this many ms of the "
            "user starting to speak over it."
        ),
    )
    max_user_wer: float | None = Field(
        None,
        ge=0,
        description=(
            "Highest word error rate (jiwer) of the backend's transcription of the user's "
            "`say` and `barge_in` turns against their text. Reported as skipped, not passed, "
            "when the backend does not transcribe."
        ),
    )
    max_false_interruptions: int | None = Field(
        None,
        ge=0,
        description=(
            "Most times the agent may be cut off by something that was not the caller taking a "
            'turn: a `backchannel` ("uh-huh"), background talk or noise while the caller '
            "listens, a sound shorter than 250 ms (metrics.false_interruptions)."
        ),
    )
    min_turns_answered: int | None = Field(
        None,
        ge=0,
        description="Turns that must get an answer; by default every turn but `wait_ms` ones.",
    )

    judge: list[str] = Field(
        default_factory=list,
        description="Rubric items in plain words, each judged from the transcript, the tool "
        "calls and their outputs by a model (xAI chat completions; the simulator's scripted "
        "judge on backend sim): a verdict and a reason quoting the transcript.",
    )
    judge_samples: int = Field(
        3,
        ge=1,
        le=15,
        description="Times each rubric item is judged; the verdict of more than half wins, "
        "otherwise the item is uncertain (never a pass).",
    )

    @field_validator("judge", mode="before")
    @classmethod
    def _rubric_items(cls, value: Any) -> Any:
        items = [value] if isinstance(value, str) else value
        if isinstance(items, list):
            for index, item in enumerate(items):
                if isinstance(item, str) and not item.strip():
                    raise FieldProblem((index,), "a rubric item is an empty string")
        return items

    @field_validator(
        "tools_not_called",
        "transcript_contains",
        "transcript_matches",
        "transcript_not_contains",
        mode="before",
    )
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        # `transcript_contains: Paris` reads naturally in YAML; accept it as a list of one.
        return [value] if isinstance(value, str) else value

    @field_validator("transcript_matches")
    @classmethod
    def _regexes_compile(cls, patterns: list[str]) -> list[str]:
        for index, pattern in enumerate(patterns):
            check_regex(pattern, (index,))
        return patterns
