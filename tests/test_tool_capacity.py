"""The pool's bounds: it grows on demand up to ``max_size``, holds at most ``max_queued_calls``
waiting calls, and refuses the rest at once with a ``capacity`` error carrying the numbers.

A pool of its own (one runner, room for two, one waiting call) so the numbers are exact.
"""

from __future__ import annotations

import asyncio
import json
import pickle

import pytest
from voxray.actors.errors import CapacityError
from voxray.actors.tools import ToolExecutor, ToolOutcome, ToolPoolSettings, build_tool_spec
from voxray.actors.tools.pool import ToolPool

from tests.tool_fixtures import stats_when

pytestmark = pytest.mark.ray

SETTINGS = ToolPoolSettings(
    size=1,
    max_size=2,
    max_queued_calls=1,
    queue_timeout_s=60,
    idle_timeout_s=1.0,
    health_interval_s=0.5,
)


async def tools_after(pool: ToolPool) -> ToolOutcome:
    return await pool.call(build_tool_spec("tests.tool_fixtures:add"), "after", '{"a": 1}')


async def test_grows_to_max_queues_one_and_refuses_the_rest(ray_cluster: None) -> None:
    pool = ToolPool.from_settings(SETTINGS)
    try:
        await pool.wait_ready(timeout_s=60)
        hang = build_tool_spec("tests.tool_fixtures:hang_sync", timeout_s=30)
        tools = ToolExecutor([hang], pool)
        # Four sync calls at once, each needing a runner to itself: one runs on the runner the
        # pool has, one waits while the pool starts its second, and two find the queue full.
        outcomes = await asyncio.gather(
            *(tools.run("hang_sync", f"c{i}", json.dumps({"seconds": 2})) for i in range(4))
        )
        assert sorted(o.error_type or "ok" for o in outcomes) == [
            "capacity",
            "capacity",
            "ok",
            "ok",
        ]
        refused = [o for o in outcomes if not o.ok]
        body = json.loads(refused[0].output)["error"]
        assert body["message"].startswith("the tool pool is at capacity")
        assert (body["limit"], body["queued"]) == (1, 1)
        error = refused[0].to_exception()
        assert isinstance(error, CapacityError)
        assert (error.limit, error.in_use, error.queued) == (1, 2, 1)
        assert error.retryable
        copy = pickle.loads(pickle.dumps(error))
        assert (type(copy), copy.limit, copy.queued, str(copy)) == (
            CapacityError,
            1,
            1,
            str(error),
        )

        stats = await pool.statistics()
        # The pool grew to max_size: counted by runners_started, which only goes up. (How many
        # runners exist right now is a race: the surplus one retires after 1 s idle.)
        assert (stats.runners_started, stats.capacity_refusals) == (2, 2)
        assert stats.queued_calls == 0
        assert tools.statistics()["hang_sync"].error_types == {"capacity": 2}
        await tools.aclose()

        # Once idle, the runner beyond `size` is stopped again.
        stats = await stats_when(pool, lambda s: s.runners_retired > 0)
        assert (stats.runners, stats.runners_replaced) == (1, 0)
        assert (await tools_after(pool)).ok
    finally:
        await pool.aclose()
