"""``voxray bench tools``: what running a function call through the tool pool costs.

Side by side in one run, round after round in alternating order (so that drift in the machine's
load hits every variant alike): the example tools awaited in process (a bare call: the tool's own
time), the same call through the in-process backend (argument validation, serialisation), the
call through the Ray pool as a session makes it, and an empty Ray actor call to a runner (the
floor Ray itself sets). The pool's overhead is, per round, the pool call minus the bare call;
its p50 and p99 are what the design's targets are about. A trivial sync tool and a trivial async
tool (``voxray.examples.tools``) are measured separately: a sync tool crosses to a thread
in the runner.

Starts an embedded Ray (dashboard off) when this process is not connected to one, and shuts it
down afterwards.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable

from voxray.actors.tools import (
    InProcessToolBackend,
    ToolBackend,
    ToolPoolSettings,
    ToolSpec,
    build_tool_spec,
)
from voxray.bench.registry import Benchmark, BenchResult, Figure, percentile, register

__all__ = ["run"]

_TOOLS = {
    "sync": ("voxray.examples.tools:get_weather", '{"city": "Lisbon"}'),
    "async": ("voxray.examples.tools:lookup_order", '{"order_id": "A-1042"}'),
}
_P50_TARGET_MS, _P99_TARGET_MS = 2.0, 10.0

Timed = Callable[[], Awaitable[object]]


async def _elapsed_ms(call: Timed) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


def _bare(spec: ToolSpec, arguments_json: str) -> Timed:
    """The function itself, awaited in process: the tool's own time."""
    module, _, name = spec.ref.partition(":")
    function = getattr(__import__(module, fromlist=[name]), name)
    arguments = json.loads(arguments_json)

    async def call() -> object:
        result = function(**arguments)
        return await result if inspect.isawaitable(result) else result

    return call


def _through(backend: ToolBackend, spec: ToolSpec, arguments_json: str) -> Timed:
    """The call as a session makes it, through ``backend``."""

    async def call() -> object:
        return await backend.call(spec, "bench", arguments_json)

    return call


async def _measure(rounds: int, warmup: int) -> tuple[list[Figure], list[str]]:
    from voxray.actors.tools.pool import ToolPool

    settings = ToolPoolSettings(size=1, max_size=1, health_interval_s=60.0)
    pool = ToolPool.from_settings(settings, namespace=None)
    try:
        await pool.wait_ready(timeout_s=120)
        in_process = InProcessToolBackend()
        variants: dict[str, dict[str, Timed]] = {}
        for kind, (ref, arguments) in _TOOLS.items():
            spec = build_tool_spec(ref)
            variants[kind] = {
                "bare": _bare(spec, arguments),
                "in-process backend": _through(in_process, spec, arguments),
                "pool": _through(pool, spec, arguments),
            }
        samples: dict[tuple[str, str], list[float]] = {}
        floor: list[float] = []
        for index in range(warmup + rounds):
            order = list(variants.items())
            if index % 2:
                order.reverse()  # alternate which tool goes first
            for kind, calls in order:
                names = list(calls) if index % 2 else list(reversed(calls))
                for name in names:
                    elapsed = await _elapsed_ms(calls[name])
                    if index >= warmup:
                        samples.setdefault((kind, name), []).append(elapsed)
            elapsed = await pool.probe_ms()
            if index >= warmup:
                floor.append(elapsed)
        checked = [
            await pool.call(build_tool_spec(ref), "check", args) for ref, args in _TOOLS.values()
        ]
    finally:
        await pool.aclose()
    notes: list[str] = []
    if not all(outcome.ok for outcome in checked):
        notes.append(f"a pool call failed: {[o.output for o in checked if not o.ok]}")
    return _figures(samples, floor), notes


def _figures(samples: dict[tuple[str, str], list[float]], floor: list[float]) -> list[Figure]:
    figures: list[Figure] = []
    for kind in _TOOLS:
        bare, pool = samples[(kind, "bare")], samples[(kind, "pool")]
        overhead = [p - b for p, b in zip(pool, bare, strict=True)]
        p50, p99 = percentile(overhead, 0.5), percentile(overhead, 0.99)
        figures += [
            Figure(
                name=f"{kind} tool: pool overhead, p50",
                value=p50,
                unit="ms",
                target=f"< {_P50_TARGET_MS:g}",
                met=bool(p50 < _P50_TARGET_MS),
            ),
            Figure(
                name=f"{kind} tool: pool overhead, p99",
                value=p99,
                unit="ms",
                target=f"< {_P99_TARGET_MS:g}",
                met=bool(p99 < _P99_TARGET_MS),
            ),
            Figure(name=f"{kind} tool: pool call, p50", value=percentile(pool, 0.5), unit="ms"),
            Figure(
                name=f"{kind} tool: in-process backend, p50",
                value=percentile(samples[(kind, "in-process backend")], 0.5),
                unit="ms",
            ),
            Figure(name=f"{kind} tool: bare await, p50", value=percentile(bare, 0.5), unit="ms"),
        ]
    figures += [
        Figure(name="empty Ray actor call (floor), p50", value=percentile(floor, 0.5), unit="ms"),
        Figure(name="empty Ray actor call (floor), p99", value=percentile(floor, 0.99), unit="ms"),
        Figure(name="rounds", value=len(floor), unit="per variant"),
    ]
    return figures


def run(quick: bool) -> BenchResult:
    """Measure the pool's overhead; ``quick`` uses fewer rounds."""
    from voxray.cluster import connect_ray, disconnect_ray

    rounds, warmup = (100, 10) if quick else (1000, 50)
    started_ray = connect_ray(None, namespace="voxray-bench")
    try:
        figures, notes = asyncio.run(_measure(rounds, warmup))
    finally:
        if started_ray:
            disconnect_ray()
    notes.append(
        "overhead = pool call - bare await of the same function, paired per round; "
        "Ray's own round trip (the floor) is part of it"
    )
    return BenchResult(
        name="tools",
        description="tool call through the Ray runner pool vs in process",
        figures=figures,
        notes=notes,
    )


register(Benchmark("tools", "tool-runner pool overhead vs in-process await", run))
