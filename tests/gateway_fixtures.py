"""A gateway on loopback against the simulator, without Ray: for the gateway's tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import SecretStr
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.gateway.agents import HostedAgent
from voxray.actors.gateway.records import CallRecord
from voxray.actors.gateway.server import GatewayServer
from voxray.actors.gateway.settings import GatewaySettings
from voxray.actors.simulator.rules import BrainScript
from voxray.actors.simulator.server import Simulator
from voxray.actors.tools.inprocess import InProcessToolBackend

from tests.conftest import TEST_SPEED

GREETING = "Hello, thanks for calling. How can I help?"


def support_agent(**routes: object) -> HostedAgent:
    """The test agent: greets, echoes what it heard."""
    return HostedAgent.model_validate(
        {"name": "support", "agent": AgentConfig(), "greeting": GREETING, "routes": routes}
    )


@asynccontextmanager
async def running_gateway(
    simulator: Simulator,
    tmp_path: Path,
    *,
    agents: Sequence[HostedAgent] | None = None,
    brain: BrainScript | None = None,
    **settings: object,
) -> AsyncIterator[GatewayServer]:
    """A gateway on 127.0.0.1 (any port), records in ``tmp_path/calls.jsonl``."""
    token = simulator.register(brain or BrainScript())
    gateway = GatewayServer(
        GatewaySettings.model_validate(
            {
                "host": "127.0.0.1",
                "port": 0,
                "browser_secret": SecretStr("test-secret"),
                "records_path": str(tmp_path / "calls.jsonl"),
                # The callers run TEST_SPEED times faster than real time.
                "max_messages_per_s": 200 * TEST_SPEED,
                **settings,
            }
        ),
        agents or [support_agent()],
        endpoints=lambda agent: ProviderEndpoint(url=simulator.url, api_key=SecretStr(token)),
        tools=InProcessToolBackend(),
        tuning=EngineTuning(speed=TEST_SPEED),
    )
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.aclose()


def call_records(tmp_path: Path) -> list[CallRecord]:
    """The call records a :func:`running_gateway` in ``tmp_path`` appended so far."""
    path = tmp_path / "calls.jsonl"
    if not path.exists():
        return []
    return [CallRecord.model_validate_json(line) for line in path.read_text().splitlines()]


async def until(check: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    """Until ``check()`` holds (looked at every 10 ms); fails naming ``what`` after
    ``timeout_s``. For state a test waits on, instead of stepping the loop and hoping."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        if loop.time() >= deadline:
            raise AssertionError(f"{what}: not within {timeout_s:g} s")
        await asyncio.sleep(0.01)


async def wait_for_call_records(tmp_path: Path, count: int) -> list[CallRecord]:
    """The call records once ``count`` were appended (each call appends its own as it ends)."""
    await until(lambda: len(call_records(tmp_path)) >= count, f"{count} call record(s)")
    return call_records(tmp_path)
