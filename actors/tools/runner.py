"""The tool runner: executes one function call given only a tool reference and its arguments.

:class:`ToolRunner` is plain asyncio. :mod:`voxray.actors.tools.runner_actor` wraps it in a Ray
actor so
each runner is its own process (a hung or crashing tool is contained there); the in-process
backend uses it directly. A runner never sees session state: it receives ``ref`` and the
model's ``arguments`` and returns a :class:`~voxray.actors.tools.outcome.RunnerReply`. It never
raises
for a tool's problems; only cancellation propagates.

Timeouts are enforced here, next to the function: an async function is cancelled; a sync one
cannot be (its thread runs on), so the runner reports it through ``on_abandoned`` and the Ray
runner retires its process. An async function that ignores its cancellation for
``kill_grace_s`` is reported the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Literal

from pydantic import BaseModel, ValidationError
from voxray.actors.errors import ToolSpecError
from voxray.actors.tools.outcome import RunnerReply, describe_exception
from voxray.actors.tools.redact import SecretScrubber
from voxray.actors.tools.settings import DEFAULT_MAX_OUTPUT_BYTES
from voxray.actors.tools.spec import DEFAULT_TOOL_TIMEOUT_S, LoadedTool, load_tool

__all__ = [
    "DEFAULT_MAX_OUTPUT_BYTES",
    "AbandonReason",
    "ToolRunner",
    "decode_arguments",
    "truncate_output",
]

AbandonReason = Literal["timeout", "cancelled"]
"""Why a call was left running: it passed its timeout, or its caller went away."""

_DEFAULT_KILL_GRACE_S: Final = 2.0
_MAX_THREADS: Final = 32

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

    Sync functions run in a worker thread so the runner keeps answering (pings, other calls,
    its own timeouts); async functions run as tasks on the runner's loop. Loaded functions are
    cached by reference.

    Args:
        max_output_bytes: outputs longer than this are truncated with a note.
        kill_grace_s: how long an async function may ignore its cancellation before it is
            reported as abandoned.
        on_abandoned: called when a call is left running in the background (a sync function
            past its timeout or cancelled; an async one ignoring cancellation). Only killing
            the process stops it; the Ray runner does exactly that.
    """

    def __init__(
        self,
        *,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        kill_grace_s: float = _DEFAULT_KILL_GRACE_S,
        on_abandoned: Callable[[str, AbandonReason], None] | None = None,
    ) -> None:
        if max_output_bytes < 256:
            raise ValueError("max_output_bytes must leave room for the truncation note (>= 256)")
        self._max_output_bytes = max_output_bytes
        self._kill_grace_s = kill_grace_s
        self._on_abandoned = on_abandoned
        self._tools: dict[str, LoadedTool] = {}
        self._executor: ThreadPoolExecutor | None = None

    async def invoke(
        self,
        ref: str,
        arguments: dict[str, Any] | str,
        *,
        timeout_s: float = DEFAULT_TOOL_TIMEOUT_S,
        on_abandoned: Callable[[str, AbandonReason], None] | None = None,
    ) -> RunnerReply:
        """Call the function at ``ref`` with ``arguments`` and return what the model should see.

        ``arguments`` is the model's JSON text or an already decoded object. Never raises for
        the tool's problems (those become error replies, a timeout included); cancellation of
        the awaiting task propagates and cancels an async function. ``on_abandoned`` replaces
        the runner's own callback for this call.
        """
        abandon = on_abandoned or self._on_abandoned
        if isinstance(arguments, str):
            try:
                arguments = decode_arguments(arguments)
            except ValueError as error:
                return RunnerReply.failure("invalid_arguments", str(error))
        try:
            tool = self._load(ref)
        except ToolSpecError as error:
            # Validated at load time in the driver; failing here means this process differs
            # (e.g. the module is not importable on this node).
            return RunnerReply.failure("exception", _scrubbed(describe_exception(error)))
        try:
            validated = tool.arguments_model.model_validate(arguments)
        except ValidationError as error:
            return RunnerReply.failure("invalid_arguments", _describe_validation(error))
        args, kwargs = tool.bind(validated)
        try:
            if tool.is_async:
                finished, result = await self._run_async(
                    ref, tool, args, kwargs, timeout_s=timeout_s, abandon=abandon
                )
            else:
                finished, result = await self._run_sync(
                    ref, tool, args, kwargs, timeout_s=timeout_s, abandon=abandon
                )
        except (Exception, SystemExit) as error:
            # SystemExit too: a tool calling sys.exit() must not end the runner. The traceback
            # is logged here, on the runner side only; the model gets type and message.
            scrubber = SecretScrubber.from_environ()
            _log.warning(
                "tool %s raised:\n%s", ref, scrubber.scrub(traceback.format_exc()).rstrip()
            )
            return RunnerReply.failure("exception", scrubber.scrub(describe_exception(error)))
        if not finished:
            return RunnerReply.failure(
                "timeout", f"the function did not finish within {timeout_s:g} s"
            )
        try:
            output = _serialise(result)
        except (TypeError, ValueError) as error:
            return RunnerReply.failure(
                "invalid_result",
                _scrubbed(f"the tool returned a value that is not JSON: {error}"),
            )
        return RunnerReply.success(truncate_output(output, self._max_output_bytes))

    async def ping(self) -> str:
        """Liveness probe: answers ``"pong"`` while the runner's loop is responsive."""
        return "pong"

    async def _run_sync(
        self,
        ref: str,
        tool: LoadedTool,
        args: list[Any],
        kwargs: dict[str, Any],
        *,
        timeout_s: float,
        abandon: _Abandon,
    ) -> tuple[bool, Any]:
        work = self._threads().submit(functools.partial(tool.function, *args, **kwargs))
        scope = asyncio.timeout(timeout_s)
        try:
            async with scope:
                return True, await asyncio.wrap_future(work)
        except TimeoutError:
            if not scope.expired():
                raise  # the function's own TimeoutError: an exception like any other
            if not work.done():
                _abandoned(abandon, ref, "timeout")
            return False, None
        except asyncio.CancelledError:
            if not work.done():
                _abandoned(abandon, ref, "cancelled")
            raise

    async def _run_async(
        self,
        ref: str,
        tool: LoadedTool,
        args: list[Any],
        kwargs: dict[str, Any],
        *,
        timeout_s: float,
        abandon: _Abandon,
    ) -> tuple[bool, Any]:
        # Awaited inline (an extra task costs a loop turn per call); a function that ignores
        # its cancellation is caught by this timer instead, which only fires if it is still
        # running well past its deadline.
        watchdog = asyncio.get_running_loop().call_later(
            timeout_s + self._kill_grace_s, _abandoned, abandon, ref, "timeout"
        )
        scope = asyncio.timeout(timeout_s)
        try:
            async with scope:
                result = await tool.function(*args, **kwargs)
        except TimeoutError:
            if not scope.expired():
                raise
            return False, None
        finally:
            watchdog.cancel()
        # A function that swallowed its cancellation and returned late still timed out.
        return not scope.expired(), result

    def _threads(self) -> ThreadPoolExecutor:
        # Its own pool: a thread left running by a timed-out function must not take a slot
        # the event loop's default executor needs.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(_MAX_THREADS, thread_name_prefix="voxray-tool")
        return self._executor

    def _load(self, ref: str) -> LoadedTool:
        tool = self._tools.get(ref)
        if tool is None:
            tool = self._tools[ref] = load_tool(ref)
        return tool


_Abandon = Callable[[str, AbandonReason], None] | None


def _abandoned(abandon: _Abandon, ref: str, reason: AbandonReason) -> None:
    if abandon is not None:
        abandon(ref, reason)
    else:
        _log.warning("tool %s is still running after %s; it cannot be stopped here", ref, reason)


def _scrubbed(text: str) -> str:
    return SecretScrubber.from_environ().scrub(text)


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
