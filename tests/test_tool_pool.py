"""The Ray tool-runner pool: every way a tool can fail yields an error outcome, stopping a call
takes only that call with it, and the pool goes on serving. One pool for the module, on the
session's cluster; each test waits on the pool's own figures, never on the clock, except where
the point is that something did *not* happen by a deadline.

Runners import ``tests.tool_fixtures`` by name: Ray puts the driver's working directory (the
project root, where pytest runs) on its workers' ``sys.path``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from voxray.actors.tools import (
    ToolExecutor,
    ToolOutcome,
    ToolPoolSettings,
    ToolSpec,
    build_tool_spec,
)
from voxray.actors.tools.metrics import PoolStatistics
from voxray.actors.tools.pool import ToolPool

from tests import tool_fixtures
from tests.tool_fixtures import stats_when, wait_for_file

pytestmark = pytest.mark.ray

FIXTURES = "tests.tool_fixtures"
SECRET = "sk-test-0123456789abcdef"
RUNTIME_ENV = {"env_vars": {"VOXRAY_TEST_GREETING": "hello", "VOXRAY_TEST_API_KEY": SECRET}}


def spec(function: str, *, timeout_s: float | None = None, module: str = FIXTURES) -> ToolSpec:
    return build_tool_spec(f"{module}:{function}", timeout_s=timeout_s)


def error_of(outcome: ToolOutcome) -> dict[str, object]:
    assert not outcome.ok, outcome.output
    return dict(json.loads(outcome.output)["error"])


@pytest.fixture(scope="module")
def pool(ray_cluster: None) -> Iterator[ToolPool]:
    """Two runners, room to grow to three; a short kill grace keeps the hang tests quick."""
    settings = ToolPoolSettings(
        size=2, max_size=3, max_queued_calls=8, queue_timeout_s=30, kill_grace_s=1.0
    )
    tool_pool = ToolPool.from_settings(settings)
    try:
        asyncio.run(tool_pool.wait_ready(timeout_s=60))
        yield tool_pool
    finally:
        tool_pool.shutdown()


async def still_serves(pool: ToolPool) -> None:
    outcomes = await asyncio.gather(
        *(pool.call(spec("add"), f"check-{i}", json.dumps({"a": i, "b": 1})) for i in range(3))
    )
    assert [outcome.output for outcome in outcomes] == ["1", "2", "3"]


async def sleep_past(started: float, seconds: float) -> None:
    # The one kind of wait that must be on the clock: proving something did not happen.
    await asyncio.sleep(max(0.0, started + seconds - time.monotonic()))


async def test_normal_calls_return_json(pool: ToolPool) -> None:
    weather = await pool.call(
        spec("get_weather", module="voxray.examples.tools"), "c1", '{"city": "Oslo"}'
    )
    assert weather.ok and weather.error_type is None
    assert (weather.call_id, weather.name) == ("c1", "get_weather")
    assert json.loads(weather.output)["city"] == "Oslo"
    order = await pool.call(
        spec("lookup_order", module="voxray.examples.tools"), "c2", '{"order_id": "B-7"}'
    )
    assert json.loads(order.output)["order_id"] == "B-7"


async def test_tool_cannot_reach_the_callers_state(pool: ToolPool) -> None:
    tool_fixtures.SESSION_STATE["api_key"] = SECRET
    try:
        outcome = await pool.call(spec("peek_session_state"), "c", "{}")
    finally:
        tool_fixtures.SESSION_STATE.clear()
    seen = json.loads(outcome.output)
    assert seen["state"] == {}
    assert seen["pid"] != os.getpid()


async def test_exception_invalid_arguments_and_bad_results(pool: ToolPool) -> None:
    raised = await pool.call(spec("raise_value_error"), "c", '{"message": "card declined"}')
    assert error_of(raised) == {"type": "exception", "message": "ValueError: card declined"}
    tools = ToolExecutor([spec("add")], pool)
    assert (await tools.run("add", "c1", '{"a": ')).error_type == "invalid_arguments"
    wrong = await tools.run("add", "c2", '{"a": "one"}')
    assert str(error_of(wrong)["message"]).startswith("a: Input should be a valid integer")
    assert (await tools.run("transfer_funds", "c3", "{}")).error_type == "unknown_tool"
    await tools.aclose()
    invalid = await pool.call(spec("non_json_result"), "c", "")
    assert invalid.error_type == "invalid_result"
    huge = await pool.call(spec("huge_output"), "c", '{"size": 50000}')
    assert huge.ok and len(huge.output.encode()) <= 16 * 1024
    assert huge.output.endswith("[output truncated: 50000 bytes exceeded the 16384-byte limit]")


async def test_runtime_env_gets_its_own_runner_and_secrets_stay_out(pool: ToolPool) -> None:
    read = build_tool_spec(f"{FIXTURES}:read_env", runtime_env=RUNTIME_ENV)
    greeting = await pool.call(read, "c1", '{"name": "VOXRAY_TEST_GREETING"}')
    assert greeting.output == "hello", greeting.output
    assert (await pool.call(spec("read_env"), "c2", '{"name": "VOXRAY_TEST_GREETING"}')).ok
    assert (await pool.call(spec("read_env"), "c3", '{"name": "VOXRAY_TEST_GREETING"}')).output == (
        "null"
    )
    leak = build_tool_spec(f"{FIXTURES}:raise_with_env", runtime_env=RUNTIME_ENV)
    outcome = await pool.call(leak, "c4", '{"name": "VOXRAY_TEST_API_KEY"}')
    assert error_of(outcome) == {
        "type": "exception",
        "message": "PermissionError: the service rejected key ***",
    }
    assert SECRET not in outcome.output
    stats = await pool.statistics()
    assert stats.runtime_envs["default"] >= 2
    assert len(stats.runtime_envs) == 2


async def test_hung_sync_tool_is_killed_without_taking_other_calls(
    pool: ToolPool, tmp_path: Path
) -> None:
    before = await pool.statistics()
    started = time.monotonic()
    hung_marker, innocent_marker = tmp_path / "hung", tmp_path / "innocent"
    hung, innocent = await asyncio.gather(
        pool.call(
            spec("sleep_then_touch", timeout_s=0.5),
            "hung",
            json.dumps({"seconds": 3.0, "path": str(hung_marker)}),
        ),
        # Runs at the same time, on another runner: the kill must not reach it.
        pool.call(
            spec("sleep_then_touch", timeout_s=20),
            "innocent",
            json.dumps({"seconds": 1.0, "path": str(innocent_marker)}),
        ),
    )
    assert error_of(hung) == {
        "type": "timeout",
        "message": "the function did not finish within 0.5 s",
    }
    assert 500 <= hung.latency_ms < 3000
    assert innocent.ok and innocent.output == "finished"
    stats = await stats_when(pool, lambda s: s.runners_replaced == before.runners_replaced + 1)
    assert stats.tools["sleep_then_touch"].timeouts == before_timeouts(before) + 1
    # Its thread was really stopped: the process died before the function could finish.
    await sleep_past(started, 3.5)
    assert not hung_marker.exists()
    await still_serves(pool)


def before_timeouts(stats: PoolStatistics) -> int:
    figures = stats.tools.get("sleep_then_touch")
    return 0 if figures is None else figures.timeouts


async def test_process_exit_and_segfault_are_runner_died(pool: ToolPool) -> None:
    before = await pool.statistics()
    for function in ("exit_process", "segfault"):
        outcome = await pool.call(spec(function), function, "{}")
        assert error_of(outcome) == {
            "type": "runner_died",
            "message": "the process running the function died before it returned",
        }
    stats = await stats_when(pool, lambda s: s.runners_replaced >= before.runners_replaced + 2)
    assert stats.tools["segfault"].error_types == {"runner_died": 1}
    await still_serves(pool)


async def test_aclose_cancels_an_async_call_in_its_runner(pool: ToolPool, tmp_path: Path) -> None:
    before = await pool.statistics()
    started, cancelled = tmp_path / "started", tmp_path / "cancelled"
    tools = ToolExecutor([spec("sleep_forever", timeout_s=60)], pool)
    arguments = json.dumps({"started_path": str(started), "cancelled_path": str(cancelled)})
    call = asyncio.create_task(tools.run("sleep_forever", "c", arguments))
    await wait_for_file(started, timeout_s=30)
    await tools.aclose()
    with pytest.raises(asyncio.CancelledError):
        await call
    # The runner process saw the cancellation: the coroutine was stopped, not abandoned.
    await wait_for_file(cancelled, timeout_s=30)
    assert (await pool.statistics()).runners_replaced == before.runners_replaced


async def test_cancelling_a_sync_call_kills_its_runner(pool: ToolPool, tmp_path: Path) -> None:
    before = await pool.statistics()
    started_at = time.monotonic()
    started, finished = tmp_path / "started", tmp_path / "finished"
    tools = ToolExecutor([spec("sleep_then_touch", timeout_s=60)], pool)
    arguments = {"seconds": 3.0, "path": str(finished), "started_path": str(started)}
    call = asyncio.create_task(tools.run("sleep_then_touch", "c", json.dumps(arguments)))
    await wait_for_file(started, timeout_s=30)
    await tools.aclose()
    with pytest.raises(asyncio.CancelledError):
        await call
    await stats_when(pool, lambda s: s.runners_replaced == before.runners_replaced + 1)
    await sleep_past(started_at, 3.5)
    assert not finished.exists()


async def test_async_tool_ignoring_its_cancellation_is_stopped(pool: ToolPool) -> None:
    before = await pool.statistics()
    outcome = await pool.call(spec("ignore_cancellation", timeout_s=0.3), "c", '{"seconds": 60}')
    assert outcome.error_type == "timeout"
    await stats_when(pool, lambda s: s.runners_replaced == before.runners_replaced + 1)


async def test_blocked_event_loop_is_a_timeout_and_a_replacement(pool: ToolPool) -> None:
    before = await pool.statistics()
    outcome = await pool.call(spec("block_event_loop", timeout_s=0.3), "c", '{"seconds": 60}')
    assert error_of(outcome)["type"] == "timeout"
    await stats_when(pool, lambda s: s.runners_replaced == before.runners_replaced + 1)
    await still_serves(pool)


async def test_stale_copies_never_fail_innocent_calls(
    pool: ToolPool, caplog: pytest.LogCaptureFixture
) -> None:
    # A session actor holds a pickled copy; it has not heard of what happens next.
    await still_serves(pool)
    pickled = pickle.dumps(pool)
    stale = pool.generations
    before = await pool.statistics()
    hung = await pool.call(spec("hang_sync", timeout_s=0.3), "c", '{"seconds": 60}')
    assert hung.error_type == "timeout"
    await stats_when(pool, lambda s: s.runners_replaced == before.runners_replaced + 1)
    # Concurrent sync calls take one runner each, so one lands on the stopped runner: while it
    # is being killed it answers RETIRING, once dead the keeper says it never admitted the
    # call. Either way the call runs elsewhere instead of failing. Fresh stale copies until
    # one has met the dead runner, the case that needs the keeper's verdict.
    caplog.set_level(logging.INFO, logger="voxray.actors.tools.pool")
    async with asyncio.timeout(30):
        while "tool runner gone before add" not in caplog.text:
            copy = pickle.loads(pickled)
            assert copy.generations == stale
            outcomes = await asyncio.gather(
                *(copy.call(spec("add"), f"c{i}", json.dumps({"a": i})) for i in range(len(stale)))
            )
            assert [o.output for o in outcomes] == [str(i) for i in range(len(stale))]
            assert copy.generations != stale  # and the copy has heard of the replacement
    after = await pool.statistics()
    assert after.runners_replaced == before.runners_replaced + 1  # one replacement, not one each


async def test_figures_per_tool_in_the_session_and_the_pool(pool: ToolPool) -> None:
    tools = ToolExecutor([spec("add"), spec("raise_value_error")], pool)
    for index in range(3):
        await tools.run("add", f"a{index}", '{"a": 1}')
    await tools.run("raise_value_error", "r", '{"message": "no"}')
    session = tools.statistics()
    assert (session["add"].calls, session["add"].errors) == (3, 0)
    assert 0 < session["add"].latency_p50_ms <= session["add"].latency_p99_ms
    assert session["raise_value_error"].error_types == {"exception": 1}
    await tools.aclose()
    stats = await pool.statistics()
    assert stats.tools["add"].calls >= 3
    assert stats.tools["raise_value_error"].errors >= 1
    assert 0 < stats.tools["add"].latency_p50_ms <= stats.tools["add"].latency_p99_ms
    assert stats.runners <= stats.max_size == 3


async def test_killed_idle_runners_never_fail_a_new_conversations_calls(pool: ToolPool) -> None:
    # The driver's copy is what every new session actor gets; it still lists the runners
    # that are about to die, as it would after an OOM kill nobody reported yet.
    await pool.wait_ready(timeout_s=60)
    pickled = pickle.dumps(pool)
    before = await pool.statistics()
    names = pool.runner_names
    assert len(names) >= 2
    for name in names:
        ray.kill(ray.get_actor(name), no_restart=True)
    await stats_when(pool, lambda s: s.runners_replaced >= before.runners_replaced + len(names))
    await pool.wait_ready(timeout_s=60)  # their replacements are up: the dead are long gone
    # Conversations started afterwards: none of their calls ran anywhere before, so every one
    # must run on a live runner, not come back as "runner died".
    for conversation in range(3):
        copy = pickle.loads(pickled)
        outcomes = await asyncio.gather(
            *(copy.call(spec("add"), f"c{i}", json.dumps({"a": i})) for i in range(len(names)))
        )
        assert [o.output for o in outcomes] == [str(i) for i in range(len(names))], conversation
    after = await pool.statistics()
    assert "add" not in after.tools or after.tools["add"].error_types.get("runner_died", 0) == 0
