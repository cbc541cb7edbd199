"""Tools for tests: well-behaved ones, misbehaving ones, and signatures that cannot be tools.

Ray runner processes import this module as ``tests.tool_fixtures`` (the driver's working
directory, /work/main, is on their ``sys.path``).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from voxray.actors.tools.metrics import PoolStatistics
    from voxray.actors.tools.pool import ToolPool


async def wait_for_file(path: Path, timeout_s: float = 10.0) -> None:
    """Wait until ``path`` exists: how a test observes a tool running in another process."""
    # An asyncio.Event cannot cross a process boundary; a marker file can, hence the polling.
    async with asyncio.timeout(timeout_s):
        while not path.exists():  # noqa: ASYNC110, ASYNC240
            await asyncio.sleep(0.01)


async def stats_when(
    pool: ToolPool, condition: Callable[[PoolStatistics], bool], timeout_s: float = 30
) -> PoolStatistics:
    """The pool's figures once ``condition`` holds for them (polled: they live in an actor)."""
    async with asyncio.timeout(timeout_s):
        while True:
            stats = await pool.statistics()
            if condition(stats):
                return stats
            await asyncio.sleep(0.1)


# Well-behaved -------------------------------------------------------------------------------


def add(a: int, b: int = 0) -> int:
    """Add two integers."""
    return a + b


def search(
    query: str,
    limit: int = 5,
    *,
    exact: bool = False,
    sort: Literal["asc", "desc"] = "asc",
    title: str | None = None,
) -> list[str]:
    """Search the catalogue.

    Matches are ranked by relevance.

    Args:
        query: Free text to look for.
        limit (int): Maximum number of results,
            counted after de-duplication.
        exact: Match the whole phrase only.
        sort: Order of the results.

    Returns:
        Matching titles.
    """
    return [f"{query}-{index}" for index in range(limit)]


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str


def ship(address: Address, weight_kg: Annotated[float, Field(gt=0)]) -> dict[str, object]:
    """Ship a parcel."""
    return {"city": address.city, "cost": round(weight_kg * 2.5, 2)}


def positional(value: str, /, times: int = 2) -> str:
    """Repeat a string."""
    return value * times


def no_docstring(x: int) -> int:
    return x


def echo_text(text: str) -> str:
    """Return the text unchanged: a str result is sent as is, not JSON-encoded."""
    return text


# Misbehaving --------------------------------------------------------------------------------


def raise_value_error(message: str) -> None:
    """Raise ValueError with the given message."""
    raise ValueError(message)


async def raise_timeout_error() -> None:
    """Raise the tool's own TimeoutError (e.g. an HTTP client's): an exception, not a timeout."""
    raise TimeoutError("upstream did not answer")


def hang_sync(seconds: float = 60.0) -> str:
    """Block the calling thread: only killing the process stops it early."""
    time.sleep(seconds)
    return "woke up"


def exit_process(code: int = 1) -> None:
    """End the process at once, as a crashing native library would."""
    os._exit(code)


def non_json_result() -> object:
    """Return something JSON cannot encode."""
    return {"handle": object()}


def huge_output(size: int = 100_000) -> str:
    """Return a string of ``size`` characters."""
    return "x" * size


async def sleep_forever(started_path: str = "", cancelled_path: str = "") -> str:
    """Sleep until cancelled; touch ``started_path`` on start and ``cancelled_path`` on cancel."""
    # Marker files are how a test in another process observes this one; a few bytes written
    # synchronously cannot stall anything that matters here.
    if started_path:
        Path(started_path).write_text("started")  # noqa: ASYNC240
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        if cancelled_path:
            Path(cancelled_path).write_text("cancelled")  # noqa: ASYNC240
        raise
    return "never"


def segfault() -> None:
    """Crash the process with SIGSEGV, as a broken native extension would."""
    ctypes.string_at(0)


def sleep_then_touch(seconds: float, path: str, started_path: str = "") -> str:
    """Block for ``seconds``, then write ``path``: the file appears only if nobody stopped it."""
    if started_path:
        Path(started_path).write_text("started")
    time.sleep(seconds)
    Path(path).write_text("finished")
    return "finished"


async def ignore_cancellation(seconds: float) -> str:
    """Keep running for ``seconds`` whatever happens, swallowing every cancellation."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            continue
    return "ignored"


async def block_event_loop(seconds: float) -> str:
    """Block the runner's event loop (a sync sleep inside an async function)."""
    time.sleep(seconds)  # noqa: ASYNC251
    return "unblocked"


def read_env(name: str) -> str | None:
    """Return an environment variable of the process the tool runs in."""
    return os.environ.get(name)


def raise_with_env(name: str) -> None:
    """Raise an exception whose message contains an environment variable's value."""
    raise PermissionError(f"the service rejected key {os.environ.get(name)!s}")


SESSION_STATE: dict[str, str] = {}
"""Stands for a session's memory: a test fills it in its own process."""


def peek_session_state() -> dict[str, object]:
    """What the tool's process can see of ``SESSION_STATE``, and its pid."""
    return {"state": dict(SESSION_STATE), "pid": os.getpid()}


# Not tools ----------------------------------------------------------------------------------

NOT_CALLABLE = 42


class NotAFunction:
    """A class is callable but is not a tool."""


def missing_hint(x, y: int) -> int:  # type: ignore[no-untyped-def]
    """A parameter without a type hint."""
    return int(x) + y


def star_args(*values: int) -> int:
    """Variadic positional arguments."""
    return sum(values)


def star_kwargs(**options: str) -> int:
    """Variadic keyword arguments."""
    return len(options)


def takes_callable(callback: Callable[[], None]) -> None:
    """An annotation with no JSON schema."""
    callback()


def takes_socket(sock: socket.socket) -> None:
    """An annotation pydantic cannot validate."""
    sock.close()


def bad_default(when: object = object()) -> None:
    """A default that cannot be written in JSON."""
    del when
