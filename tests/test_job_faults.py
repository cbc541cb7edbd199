"""Faults during an eval job, shaped as they happen: a drain mid-job, the simulator actor
killed, the supervisor actor killed. Nothing is lost, nothing that did not finish is counted as
a failure, the outputs are always written, and ``resume`` reruns exactly what did not finish."""

from __future__ import annotations

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
from voxray.actors.errors import RunDirectoryBusyError, SessionLostError
from voxray.actors.supervision.models import SupervisorStatus
from voxray.actors.supervisor import find_supervisor
from voxray.actors.tools.settings import ToolPoolSettings
from voxray.evals.outputs import RunDirectory
from voxray.evals.suite import Suite, load_suite
from voxray.settings import SupervisorSettings, VoxraySettings

pytestmark = pytest.mark.ray

SCENARIO = """
  - name: {name}
    turns: [{{text: ping {name}}}, {{wait_ms: {wait_ms}}}]
    sim: {{rules: [{{heard: ping, reply: Pong.}}]}}
    expect: {{transcript_contains: [pong]}}
"""


def _suite(tmp_path: Path, waits: dict[str, int], *, concurrency: int = 1) -> Suite:
    """Scenarios named by ``waits``, each a typed question then a wait (timeline ms)."""
    scenarios = "".join(SCENARIO.format(name=name, wait_ms=ms) for name, ms in waits.items())
    path = tmp_path / f"suite-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(
        f"name: faults\nbackend: sim\nconcurrency: {concurrency}\n"
        f"output_dir: {tmp_path / 'runs'}\nscenarios:{scenarios}"
    )
    return load_suite(path)


@pytest.fixture(scope="module")
def fleet(ray_cluster: None) -> Iterator[Fleet]:
    settings = VoxraySettings(
        namespace=f"faults-{uuid.uuid4().hex[:6]}",
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


def _until(fleet: Fleet, check: Callable[[SupervisorStatus], bool]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = fleet.status()
        if status is not None and check(status):
            return
        time.sleep(0.05)
    pytest.fail("the supervisor never reached the expected state")


def _statuses(out: Path) -> dict[str, str]:
    """The latest status of each key in results.jsonl."""
    lines = (out / "results.jsonl").read_text().splitlines()
    return {entry["key"]: entry["status"] for entry in map(json.loads, lines)}


def _outputs_written(out: Path) -> bool:
    return all((out / name).exists() for name in ("summary.json", "junit.xml", "report.html"))


def test_drain_mid_job_then_resume_reruns_what_did_not_finish(fleet: Fleet, tmp_path: Path) -> None:
    out = tmp_path / "drained"
    waits = {"a": 100, "b": 400_000, "c": 100, "d": 100}
    job = fleet.submit(_suite(tmp_path, waits), out=out)
    assert next(iter(job)).key == "a"
    _until(fleet, lambda status: status.live_sessions == 1)  # b is talking
    job.drain(deadline_s=0.2)
    result = job.wait(timeout=60)

    # b was cut by the drain, c and d never started: none of them is a failure.
    assert _statuses(out) == {
        "a": "completed",
        "b": "interrupted",
        "c": "not_run",
        "d": "not_run",
    }
    assert result.summary.scenarios_failed == 0 and result.summary.runs_unfinished == 3
    assert _outputs_written(out)
    assert RunDirectory(out).completed_keys() == {"a"}

    resumed = fleet.submit(
        _suite(tmp_path, dict.fromkeys(waits, 100)), out=out, resume=True, concurrency=3
    )
    again = resumed.wait(timeout=120)
    assert sorted(record.key for record in again.records) == ["b", "c", "d"]
    assert again.passed, again.summary
    assert (again.summary.runs, again.summary.runs_unfinished) == (4, 0)


def test_a_killed_simulator_comes_back_and_its_runs_are_run_again(
    fleet: Fleet, tmp_path: Path
) -> None:
    out = tmp_path / "sim-killed"
    job = fleet.submit(_suite(tmp_path, {"x": 24_000, "y": 24_000}, concurrency=2), out=out)
    _until(fleet, lambda status: status.live_sessions == 2)
    simulator = ray.get_actor(f"voxray-sim-{job.id}", namespace=fleet.settings.namespace)
    ray.kill(simulator, no_restart=True)
    result = job.wait(timeout=120)

    assert _statuses(out) == {"x": "completed", "y": "completed"}, result.records
    assert result.passed
    assert _outputs_written(out)


def test_a_second_job_on_a_busy_run_directory_is_refused(fleet: Fleet, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    job = fleet.submit(_suite(tmp_path, {"slow": 400_000}), out=out)
    _until(fleet, lambda status: status.live_sessions == 1)
    with pytest.raises(RunDirectoryBusyError, match="in use by another voxray run"):
        fleet.submit(_suite(tmp_path, {"slow": 100}), out=out, resume=True)
    job.cancel()
    assert job.wait(timeout=60).cancelled
    assert _statuses(out) == {"slow": "interrupted"}  # the refused one wrote nothing
    _until(fleet, lambda status: status.live_sessions == 0)


def test_a_killed_supervisor_ends_the_job_and_resume_reruns_its_runs(
    fleet: Fleet, tmp_path: Path
) -> None:
    out = tmp_path / "supervisor-killed"
    waits = {"p": 400_000, "q": 100, "r": 100}
    job = fleet.submit(_suite(tmp_path, waits), out=out)
    _until(
        fleet, lambda status: [(j.job_id, j.live_sessions) for j in status.jobs] == [(job.id, 1)]
    )
    supervisor = find_supervisor(fleet.settings.namespace)
    assert supervisor is not None
    ray.kill(supervisor, no_restart=True)
    result = job.wait(timeout=60)

    assert _statuses(out) == {"p": "interrupted", "q": "not_run", "r": "not_run"}
    assert "supervisor" in (result.records[0].error or "")
    assert result.summary.scenarios_failed == 0 and _outputs_written(out)

    resumed = fleet.submit(
        _suite(tmp_path, dict.fromkeys(waits, 100)), out=out, resume=True, concurrency=3
    )
    again = resumed.wait(timeout=120)  # on a new supervisor
    assert sorted(record.key for record in again.records) == ["p", "q", "r"]
    assert again.passed, again.summary


def test_a_cluster_drain_mid_job_leaves_its_runs_to_resume(fleet: Fleet, tmp_path: Path) -> None:
    """What `voxray drain` does from another shell, while a job runs."""
    out = tmp_path / "cluster-drained"
    waits = {"m": 400_000, "n": 100, "o": 100}
    job = fleet.submit(_suite(tmp_path, waits), out=out)
    _until(
        fleet, lambda status: [(j.job_id, j.live_sessions) for j in status.jobs] == [(job.id, 1)]
    )
    assert fleet.drain(deadline_s=0) is not None
    result = job.wait(timeout=60)

    # m was stopped by the drain (its session lost); n and o were refused by the draining
    # supervisor, or sent as it was removed, or never sent: none finished, none failed.
    statuses = _statuses(out)
    assert statuses.pop("m") == "lost"
    assert statuses.keys() == {"n", "o"} and set(statuses.values()) <= {"not_run", "interrupted"}
    assert result.summary.scenarios_failed == 0 and _outputs_written(out)

    resumed = fleet.submit(
        _suite(tmp_path, dict.fromkeys(waits, 100)), out=out, resume=True, concurrency=3
    )
    again = resumed.wait(timeout=120)  # on a new supervisor
    assert sorted(record.key for record in again.records) == ["m", "n", "o"]
    assert again.passed, again.summary


def test_live_sessions_after_the_supervisor_died(fleet: Fleet) -> None:
    session = fleet.open_session(backend="sim")
    supervisor = find_supervisor(fleet.settings.namespace)
    assert supervisor is not None
    ray.kill(supervisor, no_restart=True)

    result = session.close()  # its actor went with the supervisor: lost, not a traceback
    assert result.status == "lost" and "supervisor" in (result.error or "")
    with fleet.open_session(backend="sim") as again:  # a new supervisor is asked for
        assert again.id != session.id
    assert fleet.status() is not None


def test_a_killed_live_session_actor_is_a_lost_session(fleet: Fleet) -> None:
    session = fleet.open_session(backend="sim")
    supervisor = find_supervisor(fleet.settings.namespace)
    assert supervisor is not None
    (info,) = ray.get(supervisor.sessions.remote())
    ray.kill(ray.get_actor(info.actor_name, namespace=fleet.settings.namespace), no_restart=True)

    with pytest.raises(SessionLostError, match=f"session {session.id} was lost"):
        session.send_text("anyone there?")
    with pytest.raises(SessionLostError):
        next(iter(session.events()))
    assert session.close().status == "lost"
