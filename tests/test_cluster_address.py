"""Which cluster a command joins: `auto` means the one cluster on this machine or an error that
lists them, the address joined can be printed, and Ray's token notice stays out of the output."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
import ray
from voxray import cluster
from voxray.actors.errors import ConfigError
from voxray.cluster import connect_ray, find_local_clusters


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, object]]]:
    """ray.init recorded, not run; RAY_ADDRESS unset."""
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **options: calls.append(options))
    monkeypatch.setattr(cluster, "_token_available", lambda: False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    yield calls


def test_auto_with_two_clusters_refuses_and_lists_them(
    no_ray: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "find_local_clusters", lambda: ["10.0.0.1:6379", "10.0.0.1:7000"])
    monkeypatch.setattr(cluster, "_latest_ray_start", lambda: "10.0.0.1:7000")
    with pytest.raises(ConfigError) as caught:
        connect_ray("auto", namespace="t")
    message = caught.value.message
    assert "2 Ray clusters run on this machine" in message
    assert "10.0.0.1:6379, 10.0.0.1:7000 (the last `ray start`)" in message
    assert "--address 10.0.0.1:7000" in message
    assert no_ray == []  # nothing was joined


def test_auto_with_one_cluster_joins_that_address(
    no_ray: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "find_local_clusters", lambda: ["10.0.0.1:6379"])
    assert connect_ray("auto", namespace="t") is True
    assert no_ray[0]["address"] == "10.0.0.1:6379"


def test_no_cluster_error_does_not_suggest_leaving_out_an_address(
    no_ray: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "find_local_clusters", lambda: [])
    with pytest.raises(ConfigError) as caught:
        connect_ray("auto", namespace="t")
    message = caught.value.message
    assert message.startswith("no Ray cluster is running on this machine (address 'auto')")
    assert "ray start --head" in message
    assert "leave out" not in message


def test_ray_address_from_the_environment_is_named_in_errors(
    no_ray: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_ADDRESS", "auto")
    monkeypatch.setattr(cluster, "find_local_clusters", lambda: [])
    with pytest.raises(ConfigError, match=r"\(RAY_ADDRESS=auto\)"):
        connect_ray(None, namespace="t")


def test_an_explicit_address_is_joined_as_given(
    no_ray: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail() -> list[str]:
        raise AssertionError("an explicit address needs no search")

    monkeypatch.setattr(cluster, "find_local_clusters", fail)
    connect_ray("10.0.0.9:6379", namespace="t")
    assert no_ray[0]["address"] == "10.0.0.9:6379"


def test_a_refused_address_says_which_and_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(cluster, "_token_available", lambda: False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)

    def refuse(**options: object) -> None:
        raise ConnectionError("GCS at 10.0.0.9:6379 did not answer\nlong Ray detail")

    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(ConfigError) as caught:
        connect_ray("10.0.0.9:6379", namespace="t")
    assert caught.value.message == (
        "cannot join the Ray cluster at address '10.0.0.9:6379': GCS at 10.0.0.9:6379 did not "
        "answer; start one with `ray start --head`, or check the address"
    )


_EMBEDDED = textwrap.dedent(
    """
    import sys
    from voxray.cluster import connect_ray, describe_address
    connect_ray(None, namespace="voxray-test-address")
    print("joined:", describe_address(), flush=True)
    sys.stdin.read()  # hold the cluster until the test closes stdin
    """
)


@pytest.mark.ray
@pytest.mark.usefixtures("ray_cluster")
def test_auto_refuses_on_a_machine_with_two_real_clusters() -> None:
    # The test session's cluster is one; a second embedded one starts in a child process.
    holder = subprocess.Popen(
        [sys.executable, "-c", _EMBEDDED],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        joined = holder.stdout.readline()
        assert joined.startswith("joined: embedded Ray ("), joined
        mine = ray.get_runtime_context().gcs_address
        theirs = joined.split("(")[1].split(",")[0]
        assert {mine, theirs} <= set(find_local_clusters())
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "from voxray.cluster import connect_ray\nconnect_ray('auto', namespace='t')",
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
            env=_environment_without_ray_address(),
        )
        assert probe.returncode != 0
        assert "is ambiguous" in probe.stderr
        assert mine in probe.stderr and theirs in probe.stderr
    finally:
        _, errors = holder.communicate(input="", timeout=60)
    # Ray's "token authentication is enabled" notice is not printed into a command's output.
    assert "Token authentication is enabled" not in errors, errors


def _environment_without_ray_address() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
