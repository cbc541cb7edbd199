"""The tool runner: executes one function call given only a tool reference and its arguments.

:class:`ToolRunner` is plain asyncio. :mod:`actors.tools.pool` wraps it in a Ray actor so each
runner is its own process (a hung or crashing tool is contained there); the in-process backend
uses it directly. A runner never sees session state: it receives ``ref`` and ``arguments`` and
returns a :class:`~actors.tools.outcome.RunnerReply`. It never raises for a tool's problems; only
cancellation propagates.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from actors.errors import ToolSpecError
from actors.tools.outcome import RunnerReply, describe_exception
from actors.tools.spec import LoadedTool, load_tool

__all__ = [
    "DEFAULT_MAX_OUTPUT_BYTES",
    "ToolRunner",
    "decode_arguments",
    "truncate_output",
]

DEFAULT_MAX_OUTPUT_BYTES: Final = 16 * 1024
"""Outputs longer than this (UTF-8 bytes) are cut, with a note: the model's context is finite."""

_log = logging.getLogger(__name__)


def decode_arguments(arguments_json: str) -> dict[str, Any]:
    """Parse the model's ``arguments`` string into an object.

    An empty string means no arguments: models send it for parameterless functions.

    Raises:
        ValueError: the text is not JSON, or not a JSON object.
    """
    if not arguments_json.strip():
        return {}
    try:
        value = json.loads(arguments_json)
    except json.JSONDecodeError as error:
        raise ValueError(f"arguments are not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ValueError(f"arguments must be a JSON object, not {type(value).__name__}")
    return value


def truncate_output(output: str, max_bytes: int) -> str:
    """``output`` unchanged if it fits in ``max_bytes``, else a prefix and a note saying so.

    The result, note included, is at most ``max_bytes`` long (for any sensible limit).
    """
    encoded = output.encode("utf-8")
    if len(encoded) <= max_bytes:
        return output
    note = f"\n[output truncated: {len(encoded)} bytes exceeded the {max_bytes}-byte limit]"
    keep = max(0, max_bytes - len(note.encode("utf-8")))
    # errors="ignore" drops a multi-byte character cut in half at the boundary.
    return encoded[:keep].decode("utf-8", errors="ignore") + note


class ToolRunner:
    """Runs function calls: import by reference, validate, execute, serialise, bound the size.

    Sync functions run in a worker thread so the runner keeps answering (pings, other calls);
    async functions are awaited on the runner's loop. Loaded functions are cached by reference.

    Args:
        max_output_bytes: outputs longer than this are truncated with a note.
    """

    def __init__(self, *, max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES) -> None:
        if max_output_bytes < 256:
            raise ValueError("max_output_bytes must leave room for the truncation note (>= 256)")
        self._max_output_bytes = max_output_bytes
        self._tools: dict[str, LoadedTool] = {}

    async def invoke(self, ref: str, arguments: dict[str, Any]) -> RunnerReply:
        """Call the function at ``ref`` with ``arguments`` and return what the model should see.

        Never raises for the tool's problems (those become error replies); cancellation of the
        awaiting task propagates, and stops an async function. A sync function already running
        in its thread cannot be stopped from here: the pool kills the runner's process instead.
        """
        try:
            tool = self._load(ref)
        except ToolSpecError as error:
            # Validated at load time in the driver; failing here means this process differs
            # (e.g. the module is not importable on this node).
            return RunnerReply.failure("exception", describe_exception(error))
        try:
            validated = tool.arguments_model.model_validate(arguments)
        except ValidationError as error:
            return RunnerReply.failure("invalid_arguments", _describe_validation(error))
        args, kwargs = tool.bind(validated)
        try:
            if tool.is_async:
                result = await tool.function(*args, **kwargs)
            else:
                result = await asyncio.to_thread(tool.function, *args, **kwargs)
        except (Exception, SystemExit) as error:
            # SystemExit too: a tool calling sys.exit() must not end the runner. The traceback
            # is logged here, on the runner side only; the model gets type and message.
            _log.warning("tool %s raised", ref, exc_info=True)
            return RunnerReply.failure("exception", describe_exception(error))
        try:
            output = _serialise(result)
        except (TypeError, ValueError) as error:
            return RunnerReply.failure(
                "invalid_result", f"the tool returned a value that is not JSON: {error}"
            )
        return RunnerReply.success(truncate_output(output, self._max_output_bytes))

    async def ping(self) -> str:
        """Liveness probe: answers ``"pong"`` while the runner's loop is responsive."""
        return "pong"

    def _load(self, ref: str) -> LoadedTool:
        tool = self._tools.get(ref)
        if tool is None:
            tool = self._tools[ref] = load_tool(ref)
        return tool


def _serialise(result: Any) -> str:
    # A str is already what the model should read; encoding it again would add quotes and
    # escapes the model has to see through.
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False, allow_nan=False, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _describe_validation(error: ValidationError) -> str:
    # Input values are left out: they are the model's own text and can be long.
    problems = [
        f"{'.'.join(str(part) for part in item['loc']) or 'arguments'}: {item['msg']}"
        for item in error.errors(include_url=False, include_input=False)
    ]
    return "; ".join(problems)
