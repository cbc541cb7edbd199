"""The typed clients' one mapping of Ray's errors into voxray's tree (no cluster needed; the
clients themselves are exercised against real actors in test_job_faults and test_fleet)."""

from __future__ import annotations

import pickle
from pathlib import Path

from ray.exceptions import ActorDiedError, GetTimeoutError, RayActorError, RayTaskError
from voxray.actors.errors import (
    ActorLostError,
    ActorTimeoutError,
    CapacityError,
    VoxrayError,
)
from voxray.handles.ray_errors import voxray_error

ROOT = Path(__file__).resolve().parents[1]


def test_a_voxray_error_raised_in_the_actor_comes_back_as_itself() -> None:
    refused = CapacityError("the job was stopped", limit=10, in_use=10, queued=2)
    error = RayTaskError("run_session", "traceback", refused).as_instanceof_cause()
    mapped = voxray_error(error, actor="supervisor")
    assert mapped is refused and mapped.retryable and mapped.queued == 2


def test_a_dead_actor_is_actor_lost_and_names_the_actor() -> None:
    for died in (ActorDiedError(), RayActorError()):
        mapped = voxray_error(died, actor="simulator")
        assert type(mapped) is ActorLostError and mapped.actor == "simulator"
        assert mapped.retryable and "the simulator actor died" in str(mapped)
        assert "\n" not in str(mapped)  # one line, not Ray's traceback


def test_a_timeout_and_a_foreign_exception_are_typed_too() -> None:
    timeout = voxray_error(GetTimeoutError("slow"), actor="supervisor", timeout_s=30.0)
    assert type(timeout) is ActorTimeoutError and timeout.timeout_s == 30.0
    bug = voxray_error(RayTaskError("status", "tb", KeyError("x")), actor="supervisor")
    assert type(bug) is VoxrayError and "KeyError" in str(bug) and not bug.retryable
    assert pickle.loads(pickle.dumps(bug)).message == bug.message


def test_no_control_flow_parses_error_text() -> None:
    """Errors cross processes typed (ErrorInfo); a prefix of a message decides nothing."""
    offenders = []
    for path in [
        *ROOT.joinpath("orchestrator").rglob("*.py"),
        *ROOT.joinpath("actors").rglob("*.py"),
    ]:
        text = path.read_text(encoding="utf-8")
        for name in (
            "RateLimitedError",
            "CapacityError",
            "SessionLostError",
            "AuthenticationError",
        ):
            if f'startswith("{name}' in text or f"startswith('{name}" in text:
                offenders.append(f"{path.relative_to(ROOT)}: startswith({name})")
    assert offenders == []
