"""No secret travels in a Ray task's arguments: not the API key, not the gateway's secrets.

The shape of the fault: what Ray ships for a call (an actor's creation arguments, a method's
arguments, a task's) is pickled into the task spec, which the GCS and the state API keep and
show; a ``SecretStr`` masks its value when printed, but pickled it holds the plain value.

A driver subprocess starts its own small cluster with a ``worker_process_setup_hook`` that wraps
``ActorMethod._remote``, ``ActorClass._remote`` and ``RemoteFunction._remote`` in every process
(the driver's too) and pickle-scans what each call is given for the secrets' values. Then it
does what a user does: ``voxray eval --backend xai`` with a recognisable fake key (a simulator in
the driver's process plays xAI and the judge), and ``voxray serve --detach`` on the same cluster
with a webhook secret, a Twilio token and a browser secret, plus one SIP call into the gateway,
and ``voxray drain``. Every hit names the call and the secret's name (never its value).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray
from pydantic import SecretStr
from ray.exceptions import RayActorError
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.errors import SecretLostError
from voxray.actors.gateway.server import GatewayServer
from voxray.actors.gateway.settings import GatewaySettings
from voxray.actors.sealed import SealedSecret, seal, unseal
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.sip_caller import SipCallScript, SipStep
from voxray.actors.tools.inprocess import InProcessToolBackend
from voxray.handles.simulator import SimulatorClient

from tests.conftest import TEST_SPEED
from tests.gateway_fixtures import support_agent
from tests.ray_arg_capture import install_capture, read_capture

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[1]

SECRETS = {
    "XAI_API_KEY": "xai-fakekey-ray-args-0123456789abcdefghijkl",
    "VOXRAY_XAI_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "VOXRAY_TWILIO_AUTH_TOKEN": "twilio-token-ray-args-0123456789abcdef",
    "VOXRAY_GATEWAY_BROWSER_SECRET": "browser-secret-ray-args-0123456789abcd",
}

SUITE = """\
name: keyed
backend: xai
scenarios:
  - name: typed
    turns:
      - text: Hello there.
    expect:
      judge: [The agent answers.]
  - name: called
    caller:
      persona: A short caller.
      goal: say hello
      success: the agent says hello
      max_duration_s: 1
"""

AGENTS = """\
backend: xai
agents:
  - name: frontdesk
    greeting: Front desk, how can I help?
    routes: {numbers: ["+15559990000"]}
"""

# The driver: its own cluster (with the capture hook), a simulator in a thread of its own playing
# xAI, then eval and serve as a user runs them. Prints one JSON line: the run's record status
# and the SIP call's outcome.
DRIVER = r"""
import asyncio, json, os, sys, threading
from pathlib import Path

work = Path(sys.argv[1])
names = ("XAI_API_KEY", "VOXRAY_XAI_WEBHOOK_SECRET", "VOXRAY_TWILIO_AUTH_TOKEN",
         "VOXRAY_GATEWAY_BROWSER_SECRET")
needles = {name: os.environ.pop(name) for name in names}  # kept out of Ray's processes' env

import ray
from tests.ray_arg_capture import capture_hook, install_capture

hits_path = str(work / "hits.jsonl")
hook = capture_hook(needles, hits_path)
ray.init(
    num_cpus=2,
    include_dashboard=False,
    namespace="secrets-in-args",
    log_to_driver=False,
    runtime_env={"worker_process_setup_hook": hook},
)
install_capture(needles, hits_path)  # the driver's own calls
os.environ.update(needles)

from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.server import Simulator
from voxray.actors.simulator.sip_caller import SipCallScript, SipStep
from voxray.cli import main

loop = asyncio.new_event_loop()
threading.Thread(target=loop.run_forever, daemon=True).start()
def on_loop(coroutine, timeout=60):
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

simulator = Simulator(SimulatorConfig(speed=8.0, api_keys=frozenset({needles["XAI_API_KEY"]})))
os.environ["VOXRAY_XAI_URL"] = on_loop(simulator.start())
address = ray.get_runtime_context().gcs_address

main(["eval", str(work / "suite.yaml"), "--address", address, "--out", str(work / "run")])
records = [json.loads(line) for line in (work / "run" / "results.jsonl").read_text().splitlines()]

from voxray.client import Fleet
with Fleet.connect(address) as fleet, fleet.open_session(backend="xai") as session:
    session.send_text("Hello")
live = session.close().status

serve = ["serve", str(work / "agents.yaml"), "--address", address, "--detach", "--port", "0"]
assert main([*serve, "--records", str(work / "calls.jsonl")]) == 0
from voxray.serve.deploy import find_gateways, gateway_statuses
url = gateway_statuses(find_gateways(os.environ["VOXRAY_NAMESPACE"]))[0].url
script = SipCallScript(called="+15559990000", steps=(SipStep(say="Hello"),))
secret = needles["VOXRAY_XAI_WEBHOOK_SECRET"]
report = on_loop(simulator.place_call(url + "/sip/webhook", secret, script))
assert main(["drain", "--address", address, "--deadline", "5"]) == 0
on_loop(simulator.aclose())
ray.shutdown()
statuses = {r["key"]: r["status"] for r in records}
print(json.dumps({"eval": statuses, "live": live, "sip": report.outcome}))
"""


@pytest.mark.slow
def test_no_secret_in_the_arguments_of_any_ray_call(tmp_path: Path) -> None:
    (tmp_path / "suite.yaml").write_text(SUITE)
    (tmp_path / "agents.yaml").write_text(AGENTS)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    environment |= SECRETS | {
        "VOXRAY_NAMESPACE": "secrets-in-args",
        "VOXRAY_SUPERVISOR__WARM_PER_NODE": "0",
        "VOXRAY_SUPERVISOR__TOOLS__SIZE": "1",
        "VOXRAY_ENGINE__SPEED": "8",
        "PYTHONPATH": str(ROOT),  # the capture hook (tests.ray_arg_capture) in every worker
    }
    finished = subprocess.run(
        [sys.executable, "-c", DRIVER, str(tmp_path)],
        check=False,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    outcome = json.loads(finished.stdout.strip().splitlines()[-1])
    assert outcome == {
        "eval": {"typed": "completed", "called": "completed"},
        "live": "completed",
        "sip": "completed",
    }, outcome
    lines = read_capture(tmp_path / "hits.jsonl")
    installed = {line["installed"] for line in lines if "installed" in line}
    scanned = {line["scanned"] for line in lines if "scanned" in line}
    # The capture saw the calls that carry sessions and the gateway's launch, in several
    # processes (driver, supervisor, gateway): it was not blind.
    assert len(installed) >= 3, lines
    for call in (
        "method _Supervisor.run_session",  # driver -> supervisor
        "method _Supervisor.open_session",  # driver -> supervisor: a live session
        "method _Session.open",  # supervisor -> session actor
        "method _Session.run_scenario",  # supervisor -> session actor
        "method _Gateway.start",  # driver -> gateway: its launch
        "method _Supervisor.claim_call",  # gateway -> supervisor, per call
    ):
        assert call in scanned, (call, sorted(scanned))
    assert not [line for line in lines if "unscannable" in line], lines
    hits = sorted({f"{line['hit']}: {line['secret']}" for line in lines if "hit" in line})
    assert not hits, "secrets in Ray task arguments:\n" + "\n".join(hits)
    for value in SECRETS.values():
        assert value not in finished.stdout + finished.stderr


KEY = SECRETS["XAI_API_KEY"]


@ray.remote(num_cpus=0)
class _Receiver:
    """Receives sealed values as an actor does, and seals as a detached gateway does."""

    async def opened(self, value: object) -> bool:
        endpoint = await unseal(value)
        assert isinstance(endpoint, ProviderEndpoint)
        return endpoint.api_key.get_secret_value() == KEY

    def sealed_here(self, value: SecretStr) -> SecretStr:
        return seal(value)  # owned by this actor's process


def test_a_sealed_value_reaches_an_actor_whole_and_reads_only_there(ray_cluster: None) -> None:
    endpoint = ProviderEndpoint(url="ws://127.0.0.1:1/v1/realtime", api_key=SecretStr(KEY))
    sealed = seal(endpoint)
    assert isinstance(sealed.api_key, SealedSecret)
    assert seal(sealed) is sealed  # sealing twice puts nothing new
    with pytest.raises(RuntimeError, match="unseal"):
        sealed.api_key.get_secret_value()
    receiver = _Receiver.remote()
    try:
        assert ray.get(receiver.opened.remote(sealed), timeout=30)
        assert ray.get(receiver.opened.remote(endpoint), timeout=30)  # plain passes through
    finally:
        ray.kill(receiver)


async def test_a_secret_whose_owner_ended_is_a_clear_error(ray_cluster: None) -> None:
    receiver = _Receiver.remote()
    sealed = await receiver.sealed_here.remote(SecretStr(KEY))
    ray.kill(receiver)
    with pytest.raises(RayActorError):  # returns once the kill took effect
        await receiver.sealed_here.remote(SecretStr(KEY))
    # Ray learns of the owner's death a moment later: until then a copy may still be read.
    deadline = time.monotonic() + 30
    with pytest.raises(SecretLostError, match="the gateway's secrets could not be read") as lost:
        while time.monotonic() < deadline:
            await unseal(sealed, what="the gateway's secrets")
            await asyncio.sleep(0.1)
    assert "OwnerDiedError" in str(lost.value) and KEY not in str(lost.value)


async def test_the_simulator_client_rings_a_sip_call_with_a_sealed_webhook_secret(
    ray_cluster: None, tmp_path: Path
) -> None:
    """The simulator actor plays the phone network for a gateway (as in ``voxray serve``'s
    offline backend): the webhook secret reaches it whole, yet is not in the call's arguments."""
    webhook_secret = SecretStr(SECRETS["VOXRAY_XAI_WEBHOOK_SECRET"])
    simulator = await SimulatorClient.astart(SimulatorConfig(speed=TEST_SPEED))
    try:
        endpoint = await simulator.aendpoint()
        gateway = GatewayServer(
            GatewaySettings(
                port=0, browser_secret=SecretStr("test-secret"), xai_webhook_secret=webhook_secret
            ),
            [support_agent()],
            endpoints=lambda agent: endpoint,
            tools=InProcessToolBackend(),
            tuning=EngineTuning(speed=TEST_SPEED),
        )
        await gateway.start()
        hits = tmp_path / "hits.jsonl"
        uninstall = install_capture(
            {"webhook secret": webhook_secret.get_secret_value()}, str(hits)
        )
        try:
            script = SipCallScript(steps=(SipStep(say="Hello"),))
            reports = await simulator.place_calls(
                f"{gateway.url}/sip/webhook", webhook_secret, [script]
            )
        finally:
            uninstall()
            await gateway.aclose()
    finally:
        await simulator.astop()
    assert [(r.webhook_status, r.outcome) for r in reports] == [(200, "completed")], reports
    lines = read_capture(hits)
    assert {"scanned": "method SimulatorActorImpl.place_calls", "pid": os.getpid()} in lines
    assert [line for line in lines if "hit" in line or "unscannable" in line] == []
