"""Shared fixtures: one local Ray cluster per test session, and simulators on loopback."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.server import Simulator

# Fast pacing for tests: the simulator's audio and the scripted microphone run 8x real time.
TEST_SPEED = 8.0


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """A local Ray cluster for the whole session: dashboard off, its own temp dir, shut down."""
    import ray

    temp_dir = Path(tempfile.mkdtemp(prefix="voxray-ray-"))
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _temp_dir=str(temp_dir),
        namespace="voxray-tests",
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """A simulator on 127.0.0.1 with a random port, at test speed."""
    sim = Simulator(SimulatorConfig(speed=TEST_SPEED))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.aclose()
