"""The Python API on a real Ray cluster: jobs stream and cancel, live sessions talk, the CLI
shows status and drains."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import ray
from voxray import Fleet
from voxray.actors.conversation.backoff import ReconnectPolicy
from voxray.actors.conversation.endpoint import EngineTuning
from voxray.actors.conversation.events import AgentTranscript, ResponseFinished
from voxray.actors.simulator.rules import BrainRule, BrainScript
from voxray.actors.supervision.models import SupervisorStatus
from voxray.actors.supervisor import find_supervisor, get_supervisor
from voxray.actors.tools.settings import ToolPoolSettings
from voxray.cli import main
from voxray.evals.suite import Suite, load_suite
from voxray.settings import SupervisorSettings, VoxraySettings

pytestmark = pytest.mark.ray

SUITE = """
name: fleet-test
backend: sim
concurrency: 2
output_dir: {out}
scenarios:
  - name: first
    turns: [{{text: ping one}}]
    sim: {{rules: [{{heard: ping, reply: Pong one.}}]}}
    expect: {{transcript_contains: [pong]}}
  - name: second
    turns: [{{text: ping two}}]
    sim: {{rules: [{{heard: ping, reply: Pong two.}}]}}
    expect: {{transcript_contains: [pong]}}
  - name: slow
    turns: [{{text: ping three}}, {{wait_ms: {wait_ms}}}]
    sim: {{rules: [{{heard: ping, reply: Pong three.}}]}}
"""


def _suite(tmp_path: Path, *, wait_ms: int = 100) -> Suite:
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE.format(out=tmp_path / "runs", wait_ms=wait_ms))
    return load_suite(path)


@pytest.fixture(scope="module")
def fleet(ray_cluster: None) -> Iterator[Fleet]:
    settings = VoxraySettings(
        namespace=f"fleet-test-{uuid.uuid4().hex[:6]}",
        sim_speed=8.0,
        # A dead simulator's sessions give up reconnecting quickly.
        engine=EngineTuning(reconnect=ReconnectPolicy(max_attempts=2, base_delay_s=0.05)),
        supervisor=SupervisorSettings(
            tools=ToolPoolSettings(size=1), warm_per_node=1, stop_grace_s=2.0
        ),
    )
    with Fleet.connect(settings=settings) as connected:
        yield connected
        connected.drain(deadline_s=0)


def test_a_job_streams_records_as_they_finish_and_waits(fleet: Fleet, tmp_path: Path) -> None:
    job = fleet.submit(_suite(tmp_path), out=tmp_path / "run")
    seen = [record.key for record in job]  # blocks until each one finishes
    result = job.wait(timeout=120)

    assert sorted(seen) == ["first", "second", "slow"]
    assert [record.key for record in result.records] == seen
    assert result.passed and not result.cancelled
    assert result.summary.runs_passed == 3
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["key"] for line in lines) == sorted(seen)
    assert (tmp_path / "run" / "summary.json").exists() and result.report.exists()


async def _eventually(fleet: Fleet, check: Callable[[SupervisorStatus], bool]) -> None:
    async with asyncio.timeout(60):
        while True:
            status = fleet.status()
            if status is not None and check(status):
                return
            await asyncio.sleep(0.05)


async def test_async_iteration_and_cancel(fleet: Fleet, tmp_path: Path) -> None:
    job = fleet.submit(_suite(tmp_path), filter="first", out=tmp_path / "one")
    keys = [record.key async for record in job]
    assert keys == ["first"]
    assert (await job).passed

    slow = fleet.submit(_suite(tmp_path, wait_ms=400_000), filter="slow", out=tmp_path / "slow")
    await _eventually(fleet, lambda status: status.live_sessions == 1)
    started = time.monotonic()
    slow.cancel()
    result = await slow
    # Cut short by the cancel: recorded as interrupted (resume reruns it), outputs written.
    assert result.cancelled and [(r.key, r.status) for r in result.records] == [
        ("slow", "interrupted")
    ]
    assert result.summary.runs_unfinished == 1 and result.summary.scenarios_failed == 0
    assert (tmp_path / "slow" / "junit.xml").exists() and result.report.exists()
    assert time.monotonic() - started < 15
    await _eventually(fleet, lambda status: status.live_sessions == 0)


def test_drain_lets_a_job_end_at_its_deadline(fleet: Fleet, tmp_path: Path) -> None:
    job = fleet.submit(_suite(tmp_path, wait_ms=400_000), out=tmp_path / "drained")
    done = {record.key for record in itertools.islice(job, 2)}  # the two quick ones
    started = time.monotonic()
    job.drain(deadline_s=0.5)
    result = job.wait(timeout=60)
    assert done == {"first", "second"}
    # The slow one was stopped at the deadline: interrupted, not failed; a resume runs it.
    statuses = {record.key: record.status for record in result.records}
    assert statuses == {"first": "completed", "second": "completed", "slow": "interrupted"}
    assert time.monotonic() - started < 15
    assert not result.cancelled and not result.passed
    assert result.summary.scenarios_failed == 0 and result.summary.runs_unfinished == 1


def test_a_live_session_answers_text_and_closes(fleet: Fleet) -> None:
    script = BrainScript(rules=[BrainRule(heard="hello", reply="Hello from the fleet.")])
    with fleet.open_session({"voice": "rex"}, backend="sim", sim=script) as session:
        assert (fleet.status() or pytest.fail("no supervisor")).live_sessions == 1
        session.send_text("hello there")
        said = ""
        for event in session.events():
            if isinstance(event, AgentTranscript) and event.final:
                said += event.text
            if isinstance(event, ResponseFinished):
                break
        result = session.close()
    assert "hello from the fleet" in said.lower()
    assert result.status == "completed", result.error
    status = fleet.status()
    assert status is not None and status.live_sessions == 0


def test_a_dead_live_simulator_is_started_again(fleet: Fleet) -> None:
    script = BrainScript(rules=[BrainRule(heard="hello", reply="Hello again.")])
    with fleet.open_session(backend="sim", sim=script):
        pass  # the fleet's live simulator runs now
    names = [
        actor["name"]
        for actor in ray.util.list_named_actors(all_namespaces=True)
        if actor["namespace"] == fleet.settings.namespace
        and actor["name"].startswith("voxray-sim-live-")
    ]
    assert len(names) == 1
    simulator = ray.get_actor(names[0], namespace=fleet.settings.namespace)
    ray.kill(simulator, no_restart=True)
    # ray.kill only asks: until the process is gone the actor may still answer (and hand out the
    # port it is about to close). The test is about an actor that has died.
    deadline = time.monotonic() + 30
    with pytest.raises(ray.exceptions.RayActorError):
        while time.monotonic() < deadline:
            ray.get(simulator.__ray_ready__.remote(), timeout=10)

    with fleet.open_session(backend="sim", sim=script) as session:
        session.send_text("hello there")
        said = ""
        for event in session.events():
            if isinstance(event, AgentTranscript) and event.final:
                said += event.text
            if isinstance(event, ResponseFinished):
                break
    assert "hello again" in said.lower()


def test_status_and_drain_commands(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOXRAY_NAMESPACE", f"cli-{uuid.uuid4().hex[:6]}")
    assert main(["status"]) == 1
    assert "no voxray supervisor" in capsys.readouterr().out
    assert main(["status", "--json"]) == 1  # still one parsable document
    assert json.loads(capsys.readouterr().out) == {"supervisor": None, "gateways": []}

    monkeypatch.setenv("VOXRAY_NAMESPACE", fleet.settings.namespace)
    assert main(["status"]) == 0
    shown = capsys.readouterr().out
    # Which cluster it reads, before anything else (the test session's own, in-process).
    assert shown.startswith("status of embedded Ray ("), shown[:200]
    for heading in ("caps", "nodes", "alive", "per API key"):
        assert heading in shown
    assert main(["status", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["supervisor"]["state"] == "running" and document["gateways"] == []


def test_drain_command_removes_the_supervisor(
    ray_cluster: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = f"drain-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("VOXRAY_NAMESPACE", namespace)
    supervisor = get_supervisor(SupervisorSettings(warm_per_node=0), namespace)
    assert ray.get(supervisor.ping.remote()) == "ok"

    assert main(["drain", "--deadline", "0"]) == 0
    drained = capsys.readouterr().out
    assert drained.startswith("draining on embedded Ray (") and "drained" in drained
    assert find_supervisor(namespace) is None
    assert main(["drain"]) == 1
