"""A SIP call through ``voxray serve``'s deployment on the test Ray cluster.

The gateway actor (what ``voxray serve`` deploys per node) verifies the simulator's signed
webhook, attaches a session by ``?call_id=``, and appends the call record; the simulator actor
plays the phone network, the caller and the model.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import ray
from pydantic import SecretStr
from voxray.actors.conversation.endpoint import EngineTuning
from voxray.actors.gateway.records import CallRecord
from voxray.actors.gateway.settings import GatewaySettings
from voxray.actors.simulator.sip_caller import SipCallReport, SipCallScript, SipStep
from voxray.actors.tools.settings import ToolPoolSettings
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


def test_a_sip_call_reaches_the_agent_of_the_called_number_on_ray(
    ray_cluster: None, tmp_path: Path
) -> None:
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
    try:
        webhook = next(line.split()[-1] for line in deployment.lines if "/sip/webhook" in line)
        simulator = ray.get_actor(GATEWAY_SIMULATOR, namespace=namespace)
        script = SipCallScript(
            called="+15559990000", steps=(SipStep(say="Hello"), SipStep(dtmf="9"))
        )
        report: SipCallReport = ray.get(
            simulator.place_call.remote(webhook, SECRET, script), timeout=60
        )
        deadline = time.monotonic() + 30
        while not records_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        records = [
            CallRecord.model_validate_json(line) for line in records_path.read_text().splitlines()
        ]
    finally:
        drain_gateways(deployment.gateways, namespace, 5.0)
    assert report.outcome == "completed", report
    assert report.agent_turns == 2 and report.dtmf_sent == "9"
    [record] = records
    assert (record.ingress, record.agent, record.call_id) == ("sip", "frontdesk", report.call_id)
    assert record.transcript[0].text == "Front desk, how can I help?"
    assert [d.digit for d in record.dtmf] == ["9"]
    assert record.status == "completed" and record.end_reason == "hangup"
