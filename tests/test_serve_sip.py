"""A SIP call through ``voxray serve``'s deployment on the test Ray cluster.

The gateway actor (what ``voxray serve`` deploys per node) verifies the simulator's signed
webhook, attaches a session by ``?call_id=``, and appends the call record; the simulator actor
plays the phone network, the caller and the model.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import ray
from pydantic import SecretStr
from ray._private import state as state_api
from voxray.actors.conversation.endpoint import EngineTuning
from voxray.actors.gateway.records import CallRecord
from voxray.actors.gateway.settings import GatewaySettings
from voxray.actors.simulator.sip_caller import SipCallReport, SipCallScript, SipStep
from voxray.actors.supervisor import find_supervisor
from voxray.actors.tools.settings import ToolPoolSettings
from voxray.handles.simulator import SimulatorClient
from voxray.serve.agents import load_agent_file
from voxray.serve.deploy import GATEWAY_SIMULATOR, deploy, drain_gateways
from voxray.settings import SupervisorSettings, VoxraySettings

from tests.conftest import TEST_SPEED

SECRET = SecretStr("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
AGENTS = """\
backend: sim
agents:
  - name: frontdesk
    greeting: Front desk, how can I help?
    routes: {numbers: ["+15559990000"]}
  - name: sales
    greeting: Sales here.
    routes: {ingresses: [twilio]}
"""


@dataclass(frozen=True)
class _Served:
    """``voxray serve``'s deployment on the test cluster, and what was seen as it returned."""

    namespace: str
    webhook: str
    simulator: SimulatorClient
    records_path: Path
    supervisor_state_on_return: str | None


@pytest.fixture(scope="module")
def served(ray_cluster: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Served]:
    tmp_path = tmp_path_factory.mktemp("serve-sip")
    agents_path = tmp_path / "agents.yaml"
    agents_path.write_text(AGENTS)
    namespace = f"sip-{uuid.uuid4().hex[:8]}"
    settings = VoxraySettings(
        namespace=namespace,
        sim_speed=TEST_SPEED,
        engine=EngineTuning(speed=TEST_SPEED),
        supervisor=SupervisorSettings(tools=ToolPoolSettings(size=1, max_size=1)),
    )
    records_path = tmp_path / "calls.jsonl"
    gateway = GatewaySettings(
        port=0,
        browser_secret=SecretStr("browser"),
        xai_webhook_secret=SECRET,
        records_path=str(records_path),
        max_messages_per_s=200 * TEST_SPEED,
    )
    deployment = deploy(load_agent_file(agents_path), settings, gateway)
    supervisor = find_supervisor(namespace)
    state = None if supervisor is None else state_api.actors(supervisor._actor_id.hex())["State"]
    try:
        yield _Served(
            namespace=namespace,
            webhook=next(line.split()[-1] for line in deployment.lines if "/sip/webhook" in line),
            # As a user rings it (README: xAI direct SIP): through the typed client, which
            # hands the webhook secret over sealed, never in the call's arguments.
            simulator=_simulator_client(namespace),
            records_path=records_path,
            supervisor_state_on_return=state,
        )
    finally:
        drain_gateways(deployment.gateways, namespace, 5.0)
        if supervisor is not None:
            ray.get(supervisor.drain.remote(0.0))
            ray.kill(supervisor, no_restart=True)


def _simulator_client(namespace: str) -> SimulatorClient:
    actor = ray.get_actor(GATEWAY_SIMULATOR, namespace=namespace)
    return SimulatorClient(actor, ray.get(actor.url.remote()))


def _ring(served: _Served, scripts: list[SipCallScript]) -> list[SipCallReport]:
    calls = served.simulator.place_calls(served.webhook, SECRET, scripts)
    return asyncio.run(asyncio.wait_for(calls, 60))


def test_sip_calls_reach_the_agent_of_the_called_number_on_ray(served: _Served) -> None:
    script = SipCallScript(called="+15559990000", steps=(SipStep(say="Hello"), SipStep(dtmf="9")))
    # Two callers at once: one Ray call, the calls run concurrently in the simulator.
    reports = _ring(served, [script, script])
    records = _wait_for_records(served.records_path, reports)
    for report in reports:
        assert report.outcome == "completed", report
        assert report.agent_turns == 2 and report.dtmf_sent == "9"
    assert sorted(r.call_id for r in records) == sorted(r.call_id for r in reports)
    for record in records:
        assert (record.ingress, record.agent) == ("sip", "frontdesk")
        assert record.transcript[0].text == "Front desk, how can I help?"
        assert [d.digit for d in record.dtmf] == ["9"]
        assert record.status == "completed" and record.end_reason == "hangup"


def test_the_supervisor_is_up_when_serve_returns(served: _Served) -> None:
    # The gateway started it (and waited for it), so the first caller does not wait for a
    # new actor's process: it was still being created when the first webhook came, before.
    assert served.supervisor_state_on_return == "ALIVE"


def test_gateway_calls_start_no_session_actors(served: _Served) -> None:
    script = SipCallScript(called="+15559990000", steps=(SipStep(say="Hello"),))
    [report] = _ring(served, [script])
    assert report.outcome == "completed", report
    # The call ran inside the gateway and its slot came from the supervisor: no warm pool
    # of session actors was started for calls that never use one.
    status = ray.get(find_supervisor(served.namespace).status.remote())
    assert [(node.warm_idle, node.warm_starting) for node in status.nodes] == [(0, 0)]
    sessions = [
        entry["name"]
        for entry in ray.util.list_named_actors(all_namespaces=True)
        if entry["namespace"] == served.namespace and entry["name"].startswith("voxray-session-")
    ]
    assert sessions == []


def _wait_for_records(
    path: Path, reports: list[SipCallReport], timeout_s: float = 30.0
) -> list[CallRecord]:
    """The call records of ``reports``' calls once each was appended (each call appends its
    own as it ends)."""
    wanted = {report.call_id for report in reports}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        records = [CallRecord.model_validate_json(line) for line in lines]
        if wanted <= {record.call_id for record in records}:
            return [record for record in records if record.call_id in wanted]
        time.sleep(0.05)
    raise AssertionError(f"the call records of {sorted(wanted)} never appeared in {path}")
