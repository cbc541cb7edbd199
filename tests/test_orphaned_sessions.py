"""A driver killed with SIGKILL leaves no session talking to the provider for nobody.

The shape of the fault: ``voxray eval --backend xai`` runs as its own process against a cluster
that outlives it (here the test session's cluster, joined by address, as a ``ray start``
cluster would be), with an endpoint that outlives it too (a simulator in this process standing
in for xAI). Killing the driver must close the conversation's socket within seconds, not when
its two-minute script ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import ray
from voxray.actors.simulator.rules import BrainScript
from voxray.actors.simulator.server import Simulator

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SCRIPT_S = 120  # how long the conversation would run on its own

SUITE = f"""
name: orphan
backend: xai
scenarios:
  - name: long-call
    turns:
      - text: Hello, are you there?
      - wait_ms: {SCRIPT_S * 1000}
"""


async def until(condition: Callable[[], bool], timeout_s: float) -> None:
    """Poll ``condition`` (the simulator's own count of open sockets) until it holds."""
    async with asyncio.timeout(timeout_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.1)


async def test_killing_the_driver_stops_its_sessions(
    ray_cluster: None, simulator: Simulator, tmp_path: Path
) -> None:
    (tmp_path / "suite.yaml").write_text(SUITE)
    namespace = f"orphan-{uuid.uuid4().hex[:8]}"
    environment = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {
        "XAI_API_KEY": simulator.register(BrainScript()),
        "VOXRAY_XAI_URL": simulator.url,
        "VOXRAY_NAMESPACE": namespace,
        "VOXRAY_SUPERVISOR__WARM_PER_NODE": "1",
        "VOXRAY_SUPERVISOR__TOOLS__SIZE": "1",
    }
    driver = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voxray.cli",
        "eval",
        str(tmp_path / "suite.yaml"),
        "--address",
        ray.get_runtime_context().gcs_address,
        "--out",
        str(tmp_path / "run"),
        cwd=ROOT,
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await until(lambda: simulator.statistics()["connections"] == 1, 90)
        driver.kill()  # SIGKILL: no handler, no drain, no goodbye
        await driver.wait()
        assert driver.returncode == -signal.SIGKILL
        killed_at = time.monotonic()
        await until(lambda: simulator.statistics()["connections"] == 0, 20)
        assert time.monotonic() - killed_at < SCRIPT_S / 4
        supervisor = ray.get_actor("supervisor", namespace=namespace)
        status = await supervisor.status.remote()
        assert status.live_sessions == 0
        assert any("driver of job" in failure for failure in status.recent_failures), (
            status.recent_failures
        )
    finally:
        if driver.returncode is None:
            driver.kill()
            await driver.wait()
        with contextlib.suppress(ValueError):  # the driver died before it created one
            ray.kill(ray.get_actor("supervisor", namespace=namespace), no_restart=True)
