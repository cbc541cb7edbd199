"""Fault plans: what goes wrong in a simulated session, and when.

A plan is data (pydantic, frozen), written under a scenario's ``sim: faults:`` key, in
``SimulatorConfig.faults`` for every session, or handed to ``Simulator.inject`` while running::

    sim:
      rules: [...]
      faults:
        refuse: {status: 429, times: 2, retry_after_s: 1}   # the first 2 connects get HTTP 429
        max_duration_s: 30            # then error{type: max_duration} and a close
        inactivity_timeout_s: 10      # no client frame for 10 s: error{type: timeout}, close
        quirks: [missing_indexes, duplicate_transcription]  # or `quirks: all`
        actions:
          - {do: drop, mid_response: 1, times: 1}           # TCP reset during the 1st response
          - {do: close, code: 1011, reason: restarting, after_s: 5}
          - {do: error, type: internal_error, after_events: 20}
          - {do: delay, ms: 250, events: [response.created], count: 3}
          - {do: stall, seconds: 2, on_event: response.output_audio.delta}
          - {do: malformed, after_events: 8}
          - {do: unknown_event, type: response.mystery, after_events: 9}

Every action has at most one trigger: ``after_events`` (server events sent since it was armed),
``after_s`` (wall-clock seconds since armed), ``mid_response`` (right after the first output
delta of the N-th response since armed) or ``on_event`` (right after the first event of that
type); with none it fires at once. A plan is armed when a connection opens; an injected fault
when it is injected. ``times`` limits an action (or ``refuse``) to the first N connections of
its source (the token's script, or the whole simulator for global faults); unset means every
connection. A bare list under ``faults:`` is read as its ``actions``.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "QUIRKS",
    "CloseFault",
    "ConnectRefusal",
    "DelayFault",
    "DropFault",
    "ErrorFault",
    "ErrorType",
    "FaultAction",
    "FaultPlan",
    "MalformedFault",
    "Quirk",
    "QuirksFault",
    "StallFault",
    "UnknownEventFault",
]

Quirk = Literal[
    "missing_indexes",
    "output_item_index",
    "missing_part",
    "missing_audio_start_ms",
    "string_status_details",
    "duplicate_transcription",
    "duplicate_item_added",
    "empty_usage",
    "empty_deleted_item_id",
    "tool_choice_echo",
]
"""Observed deviations of the live service (protocol reference §5, §9.4), one name each:

- ``missing_indexes``: no ``output_index``/``content_index`` on ``output_audio.done`` and the
  audio transcript events (as in xAI's own examples);
- ``output_item_index``: function-call argument events say ``output_item_index``;
- ``missing_part``: ``response.content_part.done`` without ``part``;
- ``missing_audio_start_ms``: ``speech_started`` without ``audio_start_ms``;
- ``string_status_details``: ``response.created`` with ``status_details: "unimplemented"``;
- ``duplicate_transcription``: every ``input_audio_transcription.completed`` sent twice;
- ``duplicate_item_added``: ``conversation.item.added`` of function calls sent twice;
- ``empty_usage``: ``response.done`` with ``usage: {}``;
- ``empty_deleted_item_id``: ``conversation.item.deleted`` with ``item_id: ""``;
- ``tool_choice_echo``: ``session.updated`` echoes ``tool_choice: "not implemented"``.
"""

QUIRKS: Final[tuple[Quirk, ...]] = get_args(Quirk)

ErrorType = Literal[
    "invalid_request_error", "invalid_event", "internal_error", "timeout", "max_duration"
]
"""The documented ``error.type`` values (protocol reference §7)."""

_FATAL_TYPES: Final = frozenset({"timeout", "max_duration"})


def _expand_quirks(value: Any) -> Any:
    return list(QUIRKS) if value == "all" else value


class _Fault(BaseModel):
    """Trigger fields shared by every action."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    after_events: int | None = Field(
        default=None, ge=0, description="Fire after this many server events since armed."
    )
    after_s: float | None = Field(
        default=None, ge=0, description="Fire this many wall-clock seconds after armed."
    )
    mid_response: int | None = Field(
        default=None,
        ge=1,
        description="Fire right after the first output delta of the N-th response since armed.",
    )
    on_event: str | None = Field(
        default=None, description="Fire right after the first server event of this type."
    )
    times: int | None = Field(
        default=None, ge=1, description="Only the first N connections of its source; unset: all."
    )

    @model_validator(mode="after")
    def _one_trigger(self) -> Self:
        given = [self.after_events, self.after_s, self.mid_response, self.on_event]
        if sum(value is not None for value in given) > 1:
            raise ValueError(
                "give at most one trigger: after_events, after_s, mid_response or on_event"
            )
        return self

    def applies_to(self, ordinal: int) -> bool:
        """Whether this fault affects the ``ordinal``-th (1-based) connection of its source."""
        return self.times is None or ordinal <= self.times


class DropFault(_Fault):
    """Reset the TCP connection without a websocket close frame (the client sees 1006)."""

    do: Literal["drop"] = "drop"


class CloseFault(_Fault):
    """Close the websocket with ``code`` and ``reason``."""

    do: Literal["close"] = "close"
    code: int = Field(default=1011, ge=1000, le=4999, description="Websocket close code.")
    reason: str = Field(default="", max_length=120, description="Close reason (UTF-8).")


class ErrorFault(_Fault):
    """Send an ``error`` event of a documented type; optionally close the socket after it.

    ``close`` defaults to true for ``timeout`` and ``max_duration`` (the service ends those
    sessions) and false otherwise.
    """

    do: Literal["error"] = "error"
    type: ErrorType = "internal_error"
    code: str | None = Field(default=None, description="error.code; defaults to the type.")
    message: str | None = Field(default=None, description="error.message; a default is used.")
    close: bool | None = Field(default=None, description="Close the socket after the error.")
    close_code: int = Field(default=1000, ge=1000, le=4999, description="Code of that close.")

    @property
    def closes(self) -> bool:
        """Whether the socket is closed after the error."""
        return self.close if self.close is not None else self.type in _FATAL_TYPES


class DelayFault(_Fault):
    """Hold matching events for ``ms`` each before sending them (order is kept)."""

    do: Literal["delay"] = "delay"
    ms: float = Field(gt=0, description="Delay per matching event, wall-clock ms.")
    events: list[str] | None = Field(
        default=None, description="Event types to delay; unset: every event."
    )
    count: int | None = Field(
        default=None, ge=1, description="How many events to delay; unset: all from now on."
    )


class StallFault(_Fault):
    """Stop sending for ``seconds``; everything produced meanwhile is queued, then sent."""

    do: Literal["stall"] = "stall"
    seconds: float = Field(gt=0, description="How long the stream stalls.")


class MalformedFault(_Fault):
    """Send a text frame that is not valid JSON."""

    do: Literal["malformed"] = "malformed"
    text: str = Field(
        default='{"type": "response.output_audio.delta", "delta": "AAAA',
        description="The frame sent as is.",
    )


class UnknownEventFault(_Fault):
    """Send a well-formed event of a ``type`` no client knows (with an ``event_id``)."""

    do: Literal["unknown_event"] = "unknown_event"
    type: str = Field(default="response.mystery_event", min_length=1)
    fields: dict[str, Any] = Field(default_factory=dict, description="Extra payload fields.")


class QuirksFault(_Fault):
    """Turn quirks on from now on (``names: all`` for every one)."""

    do: Literal["quirks"] = "quirks"
    names: list[Quirk] = Field(default_factory=lambda: list(QUIRKS), min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _all(cls, data: Any) -> Any:
        if isinstance(data, dict) and "names" in data:
            data = {**data, "names": _expand_quirks(data["names"])}
        return data


FaultAction = Annotated[
    DropFault
    | CloseFault
    | ErrorFault
    | DelayFault
    | StallFault
    | MalformedFault
    | UnknownEventFault
    | QuirksFault,
    Field(discriminator="do"),
]
"""One fault action, discriminated on ``do``."""


class ConnectRefusal(BaseModel):
    """Refuse the websocket handshake with an HTTP error (before the upgrade)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Literal[401, 403, 429, 500, 503] = Field(default=429, description="HTTP status.")
    times: int | None = Field(
        default=None, ge=1, description="Refuse the first N connects; unset: every connect."
    )
    retry_after_s: float | None = Field(
        default=None, ge=0, description="Sent as a Retry-After header (429/503)."
    )

    def applies_to(self, ordinal: int) -> bool:
        """Whether the ``ordinal``-th (1-based) connect is refused."""
        return self.times is None or ordinal <= self.times


class FaultPlan(BaseModel):
    """Everything that should go wrong in the sessions of one script (or all sessions)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    refuse: ConnectRefusal | None = Field(default=None, description="Refuse handshakes.")
    actions: list[FaultAction] = Field(
        default_factory=list, description="Faults injected into the event stream."
    )
    quirks: list[Quirk] = Field(
        default_factory=list, description="Observed wire deviations to reproduce (or `all`)."
    )
    max_duration_s: float | None = Field(
        default=None,
        gt=0,
        description="End the session after this many seconds: error{type: max_duration}, close.",
    )
    inactivity_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="End the session after this long without a client frame: error{timeout}.",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        if isinstance(data, list):
            return {"actions": data}
        if isinstance(data, dict) and "quirks" in data:
            data = {**data, "quirks": _expand_quirks(data["quirks"])}
        return data

    def actions_for(self, ordinal: int) -> list[FaultAction]:
        """The actions that apply to the ``ordinal``-th connection of this plan's source."""
        return [action for action in self.actions if action.applies_to(ordinal)]
