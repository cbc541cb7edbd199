"""The Ray tool-runner pool: a raising, hanging or process-killing tool yields an error outcome,
and the pool goes on serving. One pool of two runners for the module, on the session's cluster.

Runners import ``tests.tool_fixtures`` by name: Ray puts the driver's working directory (the
project root, where pytest runs) on its workers' ``sys.path``.
"""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.tools import ToolExecutor, ToolOutcome, ToolSpec, build_tool_spec
from actors.tools.pool import ToolPool
from tests.tool_fixtures import wait_for_file

pytestmark = pytest.mark.ray

FIXTURES = "tests.tool_fixtures"


def spec(function: str, *, timeout_s: float | None = None, module: str = FIXTURES) -> ToolSpec:
    return build_tool_spec(f"{module}:{function}", timeout_s=timeout_s)


def error_of(outcome: ToolOutcome) -> dict[str, str]:
    assert not outcome.ok
    return dict(json.loads(outcome.output)["error"])


@pytest.fixture(scope="module")
def pool(ray_cluster: None) -> Iterator[ToolPool]:
    """One pool of two runners for the module, on the session's cluster (tests/conftest.py)."""
    tool_pool = ToolPool.start(2)
    try:
        asyncio.run(tool_pool.wait_ready(timeout_s=60))
        yield tool_pool
    finally:
        tool_pool.shutdown()


async def serves_on_every_runner(pool: ToolPool) -> None:
    # Round-robin among idle runners: `size` sequential calls reach every slot once.
    for index in range(pool.size):
        outcome = await pool.call(spec("add"), f"check-{index}", json.dumps({"a": index, "b": 1}))
        assert outcome.ok, outcome.output
        assert outcome.output == str(index + 1)


async def test_normal_calls_return_json(pool: ToolPool) -> None:
    weather = await pool.call(
        spec("get_weather", module="orchestrator.examples.tools"), "c1", '{"city": "Oslo"}'
    )
    assert weather.ok and weather.error_type is None
    assert (weather.call_id, weather.name) == ("c1", "get_weather")
    assert json.loads(weather.output)["city"] == "Oslo"
    order = await pool.call(
        spec("lookup_order", module="orchestrator.examples.tools"), "c2", '{"order_id": "B-7"}'
    )
    assert json.loads(order.output)["order_id"] == "B-7"


async def test_exception_becomes_error_output(pool: ToolPool) -> None:
    outcome = await pool.call(spec("raise_value_error"), "c", '{"message": "card declined"}')
    assert outcome.error_type == "exception"
    assert error_of(outcome) == {"type": "exception", "message": "ValueError: card declined"}
    await serves_on_every_runner(pool)


async def test_invalid_arguments_and_unknown_tool(pool: ToolPool) -> None:
    tools = ToolExecutor([spec("add")], pool)
    bad_json = await tools.run("add", "c1", '{"a": ')
    assert bad_json.error_type == "invalid_arguments"
    assert "not valid JSON" in error_of(bad_json)["message"]
    wrong_type = await tools.run("add", "c2", '{"a": "one"}')
    assert wrong_type.error_type == "invalid_arguments"
    assert error_of(wrong_type)["message"].startswith("a: Input should be a valid integer")
    unknown = await tools.run("transfer_funds", "c3", "{}")
    assert unknown.error_type == "unknown_tool"
    assert tools.statistics()["add"].errors == 2
    await tools.aclose()


async def test_non_json_result_and_huge_output(pool: ToolPool) -> None:
    invalid = await pool.call(spec("non_json_result"), "c1", "")
    assert invalid.error_type == "invalid_result"
    huge = await pool.call(spec("huge_output"), "c2", '{"size": 50000}')
    assert huge.ok
    assert len(huge.output.encode()) <= 16 * 1024
    assert huge.output.endswith("[output truncated: 50000 bytes exceeded the 16384-byte limit]")


async def test_hung_sync_tool_times_out_and_its_runner_is_replaced(pool: ToolPool) -> None:
    before = pool.generations
    outcome = await pool.call(spec("hang_sync", timeout_s=1.0), "c", '{"seconds": 60}')
    assert outcome.error_type == "timeout"
    assert error_of(outcome)["message"] == "the function did not finish within 1 s"
    assert outcome.latency_ms >= 1000
    assert sum(pool.generations) == sum(before) + 1
    await serves_on_every_runner(pool)


async def test_process_exit_is_runner_died_and_pool_recovers(pool: ToolPool) -> None:
    before = pool.generations
    outcome = await pool.call(spec("exit_process"), "c", "{}")
    assert outcome.error_type == "runner_died"
    assert "died" in error_of(outcome)["message"]
    assert sum(pool.generations) == sum(before) + 1
    await serves_on_every_runner(pool)


async def test_cancelling_a_call_cancels_the_ray_task(pool: ToolPool, tmp_path: Path) -> None:
    started, cancelled = tmp_path / "started", tmp_path / "cancelled"
    arguments = json.dumps({"started_path": str(started), "cancelled_path": str(cancelled)})
    before = pool.generations
    call = asyncio.create_task(pool.call(spec("sleep_forever", timeout_s=60), "c", arguments))
    await wait_for_file(started, timeout_s=30)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    # The runner process saw the cancellation: the coroutine was stopped, not abandoned.
    await wait_for_file(cancelled, timeout_s=30)
    assert pool.generations == before  # cancelling needs no kill
    await serves_on_every_runner(pool)


async def test_copies_share_runners_and_converge_on_replacements(pool: ToolPool) -> None:
    # A session actor receives a pickled copy; it must use the same runners, not new ones.
    copy = pickle.loads(pickle.dumps(pool))
    assert copy.generations == pool.generations
    await serves_on_every_runner(copy)
    # The driver's copy replaces a runner; the other copy, on hitting the killed runner, is
    # handed the same replacement by the keeper instead of starting one of its own.
    await pool.call(spec("exit_process"), "c", "{}")
    outcomes = [await copy.call(spec("add"), f"c{i}", '{"a": 1}') for i in range(copy.size)]
    assert sorted(o.error_type or "ok" for o in outcomes) == ["ok", "runner_died"]
    assert copy.generations == pool.generations
    await serves_on_every_runner(copy)
    await serves_on_every_runner(pool)
