"""What a function call produced: the output the model receives, and how it went.

A failed call is still an answer: the model gets a ``function_call_output`` whose output is a JSON
object ``{"error": {"type": ..., "message": ...}}`` and the conversation goes on. Messages carry
an exception's type and message only, with secret-looking environment values scrubbed
(:mod:`voxray.actors.tools.redact`); tracebacks stay in the runner's log, so locals and arguments
(which may hold secrets) never reach the model, results or reports. A ``capacity`` error also
carries the pool's numbers (``limit``, ``in_use``, ``queued``), for the model and for
:class:`~voxray.actors.errors.CapacityError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from voxray.actors.errors import (
    CapacityError,
    ToolError,
    ToolExecutionError,
    ToolNotFoundError,
    ToolTimeoutError,
)

__all__ = [
    "MAX_ERROR_MESSAGE_CHARS",
    "RunnerReply",
    "ToolErrorType",
    "ToolOutcome",
    "describe_exception",
    "error_output",
]

ToolErrorType = Literal[
    "timeout",
    "unknown_tool",
    "invalid_arguments",
    "exception",
    "runner_died",
    "invalid_result",
    "capacity",
    "runner_unavailable",
]
"""Why a call failed, as the model sees it in ``error.type``.

``capacity``: every runner was busy and the queue full (or the wait too long); trying again
later may work. ``runner_unavailable``: no runner could be started for the tool (its
``runtime_env`` failed to set up, or the pool is shut down).
"""

_ERROR_TYPES: Final = frozenset(get_args(ToolErrorType))

MAX_ERROR_MESSAGE_CHARS: Final = 1000
"""Error messages are cut here: an exception's text can be arbitrarily long."""


def error_output(error_type: ToolErrorType, message: str, **details: int | str) -> str:
    """The JSON output sent to the model for a failed call; ``details`` are added to ``error``."""
    if error_type not in _ERROR_TYPES:
        raise ValueError(f"unknown tool error type {error_type!r}")
    if len(message) > MAX_ERROR_MESSAGE_CHARS:
        message = message[: MAX_ERROR_MESSAGE_CHARS - 1] + "…"
    body: dict[str, Any] = {"type": error_type, "message": message, **details}
    return json.dumps({"error": body}, ensure_ascii=False)


def describe_exception(error: BaseException) -> str:
    """``"ValueError: message"``: what may be shown about an exception, and nothing more."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclass(frozen=True)
class RunnerReply:
    """What a runner returns for one call; the caller adds the call's identity and timing.

    Attributes:
        ok: whether the function returned a usable result.
        output: the result as JSON text (a ``str`` result is sent as is), or an error output.
        error_type: why it failed, or None.
    """

    ok: bool
    output: str
    error_type: ToolErrorType | None = None

    @classmethod
    def success(cls, output: str) -> RunnerReply:
        """A result to send to the model."""
        return cls(ok=True, output=output)

    @classmethod
    def failure(cls, error_type: ToolErrorType, message: str, **details: int | str) -> RunnerReply:
        """An error to send to the model, as an ``{"error": ...}`` object."""
        output = error_output(error_type, message, **details)
        return cls(ok=False, output=output, error_type=error_type)


@dataclass(frozen=True)
class ToolOutcome:
    """One finished function call.

    Attributes:
        call_id: the model's ``call_id``, echoed in the ``function_call_output``.
        name: the tool name the model called.
        ok: whether the function returned a usable result.
        output: the JSON string sent back as ``function_call_output``.
        error_type: why it failed (see :data:`ToolErrorType`), or None.
        latency_ms: from submitting the call to having its output, as the caller saw it.
    """

    call_id: str
    name: str
    ok: bool
    output: str
    error_type: ToolErrorType | None
    latency_ms: float

    @classmethod
    def from_reply(
        cls, reply: RunnerReply, *, call_id: str, name: str, latency_ms: float
    ) -> ToolOutcome:
        """Attach a call's identity and timing to a runner's reply."""
        return cls(call_id, name, reply.ok, reply.output, reply.error_type, latency_ms)

    @classmethod
    def failure(
        cls,
        error_type: ToolErrorType,
        message: str,
        *,
        call_id: str,
        name: str,
        latency_ms: float = 0.0,
        **details: int | str,
    ) -> ToolOutcome:
        """A failed call whose output tells the model what went wrong."""
        reply = RunnerReply.failure(error_type, message, **details)
        return cls.from_reply(reply, call_id=call_id, name=name, latency_ms=latency_ms)

    def error_message(self) -> str | None:
        """The ``error.message`` of a failed call's output, or None for a success."""
        if self.ok:
            return None
        message = json.loads(self.output)["error"]["message"]
        return str(message)

    def to_exception(self) -> ToolError | CapacityError | None:
        """The failure as an exception of the project's tree, for callers that raise; or None.

        A ``capacity`` failure becomes a :class:`~voxray.actors.errors.CapacityError` with the
        pool's
        numbers; every other failure a :class:`~voxray.actors.errors.ToolError`.
        """
        if self.ok:
            return None
        error = json.loads(self.output)["error"]
        message = str(error["message"])
        match self.error_type:
            case "unknown_tool":
                return ToolNotFoundError(message, tool=self.name)
            case "timeout":
                return ToolTimeoutError(message, tool=self.name)
            case "capacity":
                return CapacityError(
                    f"tool {self.name!r}: {message}",
                    limit=int(error.get("limit", 0)),
                    in_use=int(error.get("in_use", 0)),
                    queued=int(error.get("queued", 0)),
                )
            case _:
                return ToolExecutionError(
                    message, tool=self.name, error_type=self.error_type or "exception"
                )
