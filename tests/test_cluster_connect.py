"""``connect_ray``: what an embedded cluster's processes inherit, and what joining leaves alone.

``ray.init`` is replaced by a recorder here: what matters is the environment Ray's processes
are started with (they inherit it) and that this process's environment is left as it was.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import ray
from voxray import cluster
from voxray.actors.errors import ConfigError
from voxray.cluster import EMBEDDED_RAY_ENVIRONMENT, connect_ray


class _InitRecorder:
    """Stands in for ``ray.init``: keeps its options and the environment at the call."""

    def __init__(self) -> None:
        self.options: dict[str, Any] = {}
        self.environment: dict[str, str] = {}

    def __call__(self, **options: Any) -> None:
        self.options = options
        self.environment = dict(os.environ)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> _InitRecorder:
    init = _InitRecorder()
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    for name in EMBEDDED_RAY_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    return init


def test_an_embedded_cluster_starts_with_the_trims_and_takes_them_back(
    recorder: _InitRecorder,
) -> None:
    assert connect_ray(None, namespace="t") is True
    assert recorder.options["address"] == "local"
    for name, value in EMBEDDED_RAY_ENVIRONMENT.items():
        assert recorder.environment[name] == value
        assert name not in os.environ  # this process's environment is as it was


def test_a_value_the_user_set_wins_and_stays(
    recorder: _InitRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    stats = "RAY_event_stats"  # Ray's names are case-sensitive
    monkeypatch.setenv(stats, "1")
    connect_ray(None, namespace="t")
    assert recorder.environment[stats] == "1"
    assert os.environ[stats] == "1"
    assert recorder.environment["RAY_task_events_report_interval_ms"] == "5000"


def test_joining_a_cluster_changes_nothing_in_the_environment(
    recorder: _InitRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "_token_available", lambda: False)
    connect_ray("127.0.0.1:6379", namespace="t")
    assert recorder.options["address"] == "127.0.0.1:6379"
    assert not EMBEDDED_RAY_ENVIRONMENT.keys() & recorder.environment.keys()


def test_the_environment_is_restored_when_ray_fails_to_start(
    recorder: _InitRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**options: Any) -> None:
        raise ConnectionError("no cluster")

    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(ConfigError, match="no cluster"):
        connect_ray(None, namespace="t")
    assert not EMBEDDED_RAY_ENVIRONMENT.keys() & os.environ.keys()
