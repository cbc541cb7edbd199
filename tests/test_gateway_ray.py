"""``voxray serve`` on Ray, as a user runs it: a detached gateway actor answers a phone call after
the command returned, ``voxray status`` shows it, ``voxray drain`` removes it."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from pathlib import Path

import aiohttp
import pytest
import ray
from pydantic import SecretStr
from voxray.actors.simulator.twilio_caller import TwilioCaller, speech_mulaw
from voxray.actors.supervision.settings import SupervisorSettings
from voxray.actors.supervisor import get_supervisor
from voxray.cli import main
from voxray.client import Fleet

from tests.conftest import TEST_SPEED

pytestmark = pytest.mark.ray

AGENTS = """
backend: sim
agents:
  - name: support
    greeting: Hello from the detached gateway.
    sim: {default_reply: echo}
"""


async def _call(stream_url: str) -> float:
    async with aiohttp.ClientSession() as http:
        # Twice real time: within the gateway's default bound of 200 messages a second.
        caller = TwilioCaller(stream_url, parameters={"agent": "support"}, speed=2.0)
        call = asyncio.create_task(caller.run(http))
        assert await caller.wait_for_agent_audio(500, timeout_s=30)
        # The supervisor's cap (max_sessions 1) holds this call: a second caller is refused
        # at once, and the stream's end lets TwiML's <Say> ask them to call back later.
        second = await TwilioCaller(stream_url, parameters={"agent": "support"}).run(http)
        assert second.close_code == aiohttp.WSCloseCode.TRY_AGAIN_LATER
        await caller.wait_for_quiet(1000, timeout_s=10)
        before = caller.report_agent_audio_ms()
        caller.say(speech_mulaw("hello"))
        assert await caller.wait_for_agent_audio(before + 300, timeout_s=15)
        caller.hang_up()
        report = await asyncio.wait_for(call, 10)
    return report.agent_audio_ms


def test_serve_detach_status_and_drain(
    ray_cluster: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VOXRAY_NAMESPACE", f"serve-{uuid.uuid4().hex[:6]}")
    monkeypatch.setenv("VOXRAY_SIM_SPEED", str(TEST_SPEED))
    monkeypatch.setenv("VOXRAY_SUPERVISOR__TOOLS__SIZE", "1")
    monkeypatch.setenv("VOXRAY_SUPERVISOR__MAX_SESSIONS", "1")
    monkeypatch.setenv("VOXRAY_SUPERVISOR__WARM_PER_NODE", "0")
    agents = tmp_path / "agents.yaml"
    agents.write_text(AGENTS)
    records = tmp_path / "calls.jsonl"
    argv = ["serve", str(agents), "--address", "auto", "--detach", "--port", "0"]
    argv += ["--max-calls", "5"]  # the gateway's own cap is not the one that refuses
    assert main([*argv, "--records", str(records)]) == 0
    printed = capsys.readouterr().out
    found = re.search(r"gateway\s+(http://127\.0\.0\.1:\d+)", printed)
    assert found, printed
    assert "detached" in printed and "browser  http://127.0.0.1" in printed
    base = found.group(1)
    # The command has returned: the detached gateway answers on its own.
    assert asyncio.run(_call(base.replace("http://", "ws://") + "/twilio/stream")) > 500

    assert main(["status"]) == 0
    shown = capsys.readouterr().out
    assert f"gateway running at {base}" in shown and "1 total, 1 refused" in shown
    # The supervisor runs (it admitted the call): the JSON still lists the gateway beside it.
    assert main(["status", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["supervisor"]["state"] == "running"
    assert [(g["url"], g["calls_total"]) for g in document["gateways"]] == [(base, 1)]

    assert main(["drain", "--deadline", "5"]) == 0
    drained = capsys.readouterr().out
    assert "gateways drained: 0 call(s) finished" in drained and "supervisor is gone" in drained
    with Fleet.connect() as fleet:
        assert fleet.gateways() == []
    assert records.read_text().count('"ingress":"twilio"') == 1


@ray.remote(num_cpus=0)
class _StandIn:
    """Stands in for a gateway actor that holds call slots."""

    def ping(self) -> str:
        return "ok"


def test_the_call_slots_of_a_gateway_that_died_are_given_back(ray_cluster: None) -> None:
    namespace = f"orphans-{uuid.uuid4().hex[:6]}"
    supervisor = get_supervisor(SupervisorSettings(warm_per_node=0, node_refresh_s=0.2), namespace)
    owner = f"voxray-gateway-standin-{uuid.uuid4().hex[:6]}"
    gateway = _StandIn.options(name=owner, namespace=namespace).remote()
    assert ray.get(gateway.ping.remote()) == "ok"
    quota = SecretStr("sim:somewhere")
    ray.get([supervisor.claim_call.remote(quota, owner=owner) for _ in range(2)])
    assert ray.get(supervisor.status.remote()).live_sessions == 2
    ray.kill(gateway, no_restart=True)
    deadline = time.monotonic() + 20
    while ray.get(supervisor.status.remote()).live_sessions and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ray.get(supervisor.status.remote()).live_sessions == 0
    ray.get(supervisor.drain.remote(0.0))
    ray.kill(supervisor, no_restart=True)
