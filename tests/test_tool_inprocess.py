"""The in-process tool backend and the session-side executor, without Ray.

The backend shares the runner with the Ray pool, so these tests also pin down argument
validation, result serialisation, truncation and error outputs as the model will see them.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest
from voxray.actors.errors import (
    CapacityError,
    ToolExecutionError,
    ToolNotFoundError,
    ToolSpecError,
    ToolTimeoutError,
)
from voxray.actors.tools import (
    DEFAULT_MAX_OUTPUT_BYTES,
    InProcessToolBackend,
    ToolExecutor,
    ToolOutcome,
    ToolPoolSettings,
    ToolSpec,
    ToolStats,
    build_tool_spec,
    error_output,
)
from voxray.actors.tools.executor import UNKNOWN_TOOL_KEY
from voxray.actors.tools.redact import SecretScrubber, looks_secret

from tests.tool_fixtures import wait_for_file

FIXTURES = "tests.tool_fixtures"


def spec(function: str, *, timeout_s: float | None = None, module: str = FIXTURES) -> ToolSpec:
    return build_tool_spec(f"{module}:{function}", timeout_s=timeout_s)


def error_of(outcome: ToolOutcome) -> dict[str, str]:
    assert not outcome.ok
    body = json.loads(outcome.output)
    assert set(body) == {"error"}
    assert body["error"]["type"] == outcome.error_type
    return dict(body["error"])


@pytest.fixture
def backend() -> InProcessToolBackend:
    return InProcessToolBackend()


async def test_sync_and_async_example_tools(backend: InProcessToolBackend) -> None:
    weather = await backend.call(
        spec("get_weather", module="voxray.examples.tools"),
        "call_1",
        '{"city": "Lisbon", "unit": "fahrenheit"}',
    )
    assert weather.ok and weather.error_type is None
    assert (weather.call_id, weather.name) == ("call_1", "get_weather")
    result = json.loads(weather.output)
    assert result["city"] == "Lisbon" and result["unit"] == "fahrenheit"
    # Deterministic: the same city gives the same forecast.
    again = await backend.call(
        spec("get_weather", module="voxray.examples.tools"), "c", '{"city": "Lisbon"}'
    )
    assert json.loads(again.output)["conditions"] == result["conditions"]

    order = await backend.call(
        spec("lookup_order", module="voxray.examples.tools"), "c", '{"order_id": "A-1"}'
    )
    assert order.ok and json.loads(order.output)["order_id"] == "A-1"
    assert order.latency_ms >= 0


async def test_results_and_binding(backend: InProcessToolBackend) -> None:
    added = await backend.call(spec("add"), "c", '{"a": 2, "b": 3}')
    assert added.output == "5"
    # A str result is sent as is, not as a quoted JSON string.
    echoed = await backend.call(spec("echo_text"), "c", '{"text": "hi \\"there\\""}')
    assert echoed.output == 'hi "there"'
    # Positional-only parameters are passed positionally.
    repeated = await backend.call(spec("positional"), "c", '{"value": "ab", "times": 3}')
    assert repeated.output == "ababab"
    # Nested models arrive validated, as the annotation's type.
    shipped = await backend.call(
        spec("ship"), "c", '{"address": {"street": "Main St 1", "city": "Porto"}, "weight_kg": 2}'
    )
    assert json.loads(shipped.output) == {"city": "Porto", "cost": 5.0}


async def test_exception_becomes_error_output(backend: InProcessToolBackend) -> None:
    outcome = await backend.call(spec("raise_value_error"), "c", '{"message": "card declined"}')
    assert outcome.error_type == "exception"
    assert error_of(outcome)["message"] == "ValueError: card declined"
    assert "Traceback" not in outcome.output
    # The backend keeps working.
    assert (await backend.call(spec("add"), "c", '{"a": 1}')).output == "1"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object, not list"),
        ('{"b": 1}', "a: Field required"),
        ('{"a": "three"}', "a: Input should be a valid integer"),
        ('{"a": 1, "c": 2}', "c: Extra inputs are not permitted"),
    ],
)
async def test_invalid_arguments(
    backend: InProcessToolBackend, arguments: str, expected: str
) -> None:
    outcome = await backend.call(spec("add"), "c", arguments)
    assert outcome.error_type == "invalid_arguments"
    assert expected in error_of(outcome)["message"]


async def test_empty_arguments_mean_none(backend: InProcessToolBackend) -> None:
    outcome = await backend.call(spec("non_json_result"), "c", "")
    # Empty arguments were accepted; the failure is about the result.
    assert outcome.error_type == "invalid_result"
    assert "object is not JSON serialisable" in error_of(outcome)["message"]


async def test_huge_output_is_truncated_with_a_note(backend: InProcessToolBackend) -> None:
    outcome = await backend.call(spec("huge_output"), "c", '{"size": 100000}')
    assert outcome.ok
    assert len(outcome.output.encode()) <= DEFAULT_MAX_OUTPUT_BYTES
    assert outcome.output.startswith("x" * 1000)
    assert outcome.output.endswith("[output truncated: 100000 bytes exceeded the 16384-byte limit]")
    small = InProcessToolBackend(max_output_bytes=1024)
    assert len((await small.call(spec("huge_output"), "c", "{}")).output) <= 1024


async def test_timeout_cancels_an_async_tool(backend: InProcessToolBackend, tmp_path: Path) -> None:
    cancelled = tmp_path / "cancelled"
    arguments = json.dumps({"cancelled_path": str(cancelled)})
    outcome = await backend.call(spec("sleep_forever", timeout_s=0.2), "c", arguments)
    assert outcome.error_type == "timeout"
    assert error_of(outcome)["message"] == "the function did not finish within 0.2 s"
    await wait_for_file(cancelled)


async def test_timeout_of_a_blocking_sync_tool(backend: InProcessToolBackend) -> None:
    # In process the thread cannot be stopped (it sleeps on for 0.5 s); the caller is not held.
    outcome = await backend.call(spec("hang_sync", timeout_s=0.1), "c", '{"seconds": 0.5}')
    assert outcome.error_type == "timeout"
    assert outcome.latency_ms < 450


async def test_default_timeout_and_late_results() -> None:
    # No timeout_s on the tool: the backend's default applies.
    quick = InProcessToolBackend(default_timeout_s=0.1)
    outcome = await quick.call(spec("sleep_forever"), "c", "{}")
    assert error_of(outcome)["message"] == "the function did not finish within 0.1 s"
    # A function that swallows its cancellation and returns late has still timed out.
    late = await quick.call(spec("ignore_cancellation"), "c", '{"seconds": 0.3}')
    assert late.error_type == "timeout"
    # A TimeoutError of the tool's own is an exception like any other, not the pool's timeout.
    own = await quick.call(spec("raise_timeout_error", timeout_s=5), "c", "{}")
    assert error_of(own) == {
        "type": "exception",
        "message": "TimeoutError: upstream did not answer",
    }


async def test_secret_values_are_scrubbed_from_messages_and_logs(
    backend: InProcessToolBackend,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("VOXRAY_TEST_SERVICE_TOKEN", "tok-9f8e7d6c5b4a")
    with caplog.at_level("WARNING", logger="voxray.actors.tools.runner"):
        outcome = await backend.call(
            spec("raise_with_env"), "c", '{"name": "VOXRAY_TEST_SERVICE_TOKEN"}'
        )
    assert error_of(outcome)["message"] == "PermissionError: the service rejected key ***"
    assert "tok-9f8e7d6c5b4a" not in outcome.output
    # The traceback goes to the log, scrubbed as well.
    assert "Traceback" in caplog.text and "raise_with_env" in caplog.text
    assert "tok-9f8e7d6c5b4a" not in caplog.text


def test_secret_scrubber_rules() -> None:
    assert looks_secret("XAI_API_KEY") and looks_secret("github_token")
    assert looks_secret("DB_PASSWORD") and looks_secret("AWS_SECRET_ACCESS_KEY")
    assert not looks_secret("HOME") and not looks_secret("PATH")
    scrubber = SecretScrubber.from_environ(
        {"API_KEY": "abcdef123456", "API_KEY_PREFIX": "abcdef", "SHORT_TOKEN": "1", "HOME": "/root"}
    )
    # Longest first, so a secret containing another is hidden whole; short values are left.
    assert scrubber.scrub("key abcdef123456 prefix abcdef 1 /root") == "key *** prefix *** 1 /root"


class CountingBackend:
    def __init__(self, inner: InProcessToolBackend) -> None:
        self.inner = inner
        self.calls: list[str] = []

    async def call(self, spec: ToolSpec, call_id: str, arguments_json: str) -> ToolOutcome:
        self.calls.append(spec.name)
        return await self.inner.call(spec, call_id, arguments_json)


def executor(specs: Sequence[ToolSpec]) -> tuple[ToolExecutor, CountingBackend]:
    counting = CountingBackend(InProcessToolBackend())
    return ToolExecutor(specs, counting), counting


async def test_executor_routes_and_counts() -> None:
    tools, backend = executor([spec("add"), spec("raise_value_error"), spec("sleep_forever")])
    assert [s.name for s in tools.specs] == ["add", "raise_value_error", "sleep_forever"]
    assert (await tools.run("add", "c1", '{"a": 1, "b": 1}')).output == "2"
    assert (await tools.run("add", "c2", "{oops")).error_type == "invalid_arguments"
    await tools.run("raise_value_error", "c3", '{"message": "x"}')

    unknown = await tools.run("delete_everything", "c4", "{}")
    assert unknown.error_type == "unknown_tool"
    assert unknown.call_id == "c4" and unknown.name == "delete_everything"
    assert "no function named 'delete_everything'" in error_of(unknown)["message"]
    assert "add" in error_of(unknown)["message"]
    assert backend.calls == ["add", "add", "raise_value_error"]

    stats = tools.statistics()
    assert stats["add"].calls == 2 and stats["add"].errors == 1 and stats["add"].timeouts == 0
    assert len(stats["add"].latencies_ms) == 2
    assert stats["raise_value_error"].errors == 1
    assert stats[UNKNOWN_TOOL_KEY].calls == 1
    assert "sleep_forever" not in stats
    await tools.aclose()


async def test_executor_counts_timeouts() -> None:
    tools, _ = executor([spec("sleep_forever", timeout_s=0.05)])
    outcome = await tools.run("sleep_forever", "c", "{}")
    assert outcome.error_type == "timeout"
    stats = tools.statistics()["sleep_forever"]
    assert (stats.calls, stats.errors, stats.timeouts) == (1, 1, 1)


async def test_aclose_cancels_running_calls(tmp_path: Path) -> None:
    tools, _ = executor([spec("sleep_forever", timeout_s=60)])
    started, cancelled = tmp_path / "started", tmp_path / "cancelled"
    arguments = json.dumps({"started_path": str(started), "cancelled_path": str(cancelled)})
    call = asyncio.create_task(tools.run("sleep_forever", "c", arguments))
    await wait_for_file(started)
    assert tools.running == 1
    await tools.aclose()
    await tools.aclose()  # idempotent
    assert cancelled.exists()
    assert tools.running == 0
    with pytest.raises(asyncio.CancelledError):
        await call
    with pytest.raises(RuntimeError, match="closed"):
        await tools.run("sleep_forever", "c2", "{}")


async def test_cancelling_the_caller_cancels_the_call(tmp_path: Path) -> None:
    tools, _ = executor([spec("sleep_forever", timeout_s=60)])
    started, cancelled = tmp_path / "started", tmp_path / "cancelled"
    arguments = json.dumps({"started_path": str(started), "cancelled_path": str(cancelled)})
    call = asyncio.create_task(tools.run("sleep_forever", "c", arguments))
    await wait_for_file(started)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await wait_for_file(cancelled)
    assert tools.running == 0
    await tools.aclose()


def test_executor_rejects_duplicate_names() -> None:
    with pytest.raises(ToolSpecError, match="duplicate tool name 'add'"):
        ToolExecutor([spec("add"), spec("add")], InProcessToolBackend())


def test_outcome_maps_to_the_error_tree() -> None:
    timeout = ToolOutcome.failure("timeout", "too slow", call_id="c", name="t")
    assert isinstance(timeout.to_exception(), ToolTimeoutError)
    unknown = ToolOutcome.failure("unknown_tool", "nope", call_id="c", name="t")
    assert isinstance(unknown.to_exception(), ToolNotFoundError)
    died = ToolOutcome.failure("runner_died", "gone", call_id="c", name="t")
    error = died.to_exception()
    assert isinstance(error, ToolExecutionError)
    assert (error.error_type, error.tool, error.message) == ("runner_died", "t", "gone")
    ok = ToolOutcome("c", "t", True, "1", None, 1.0)
    assert ok.to_exception() is None and ok.error_message() is None


def test_capacity_outcome_carries_the_numbers() -> None:
    full = ToolOutcome.failure(
        "capacity", "the pool is full", call_id="c", name="t", limit=64, in_use=8, queued=64
    )
    body = json.loads(full.output)["error"]
    assert body == {
        "type": "capacity",
        "message": "the pool is full",
        "limit": 64,
        "in_use": 8,
        "queued": 64,
    }
    error = full.to_exception()
    assert isinstance(error, CapacityError)
    assert (error.limit, error.in_use, error.queued) == (64, 8, 64)
    assert str(error) == "tool 't': the pool is full (limit 64, in use 8, queued 64)"


def test_tool_stats_percentiles() -> None:
    stats = ToolStats(calls=4, latencies_ms=(4.0, 1.0, 3.0, 2.0))
    assert stats.latency_p50_ms == 2.5
    assert stats.latency_p99_ms == pytest.approx(3.97)
    assert math.isnan(ToolStats().latency_p50_ms)


def test_pool_settings_are_checked_and_frozen() -> None:
    settings = ToolPoolSettings()
    assert (settings.size, settings.max_size, settings.default_timeout_s) == (2, 8, 10.0)
    with pytest.raises(ValueError, match="must not exceed max_size"):
        ToolPoolSettings(size=4, max_size=2)
    with pytest.raises(ValueError, match="frozen"):
        settings.size = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="Extra inputs"):
        ToolPoolSettings(max_queue=3)  # type: ignore[call-arg]


def test_error_output_is_bounded_and_typed() -> None:
    body = json.loads(error_output("exception", "x" * 5000))
    assert len(body["error"]["message"]) == 1000
    with pytest.raises(ValueError, match="unknown tool error type"):
        error_output("oops", "m")  # type: ignore[arg-type]
