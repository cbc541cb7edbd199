"""A scaled-down density run as a correctness check: every microphone frame arrives, in order.

A handful of conversations go through the supervisor with one conversation per actor and packed
three to a host, in 20 ms frames as ``voxray bench density`` sends them (at test speed: this is
not a timing test). Each conversation has its own simulator token, so the simulator's per-
connection tally (frames, bytes, and a digest over the audio in arrival order) can be set
against what that conversation says it sent: its ``frames_sent``, and the user channel of its
recording (the audio it put on the wire, speech included, so a reordered or missing frame
changes the digest).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import ray
from pydantic import SecretStr
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.result import SessionResult
from voxray.actors.conversation.script import SayTurn, ScenarioScript, TextTurn, WaitTurn
from voxray.actors.session import SessionRequest
from voxray.actors.simulator.actor import SimulatorActor
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.rules import BrainScript
from voxray.actors.supervisor import SupervisorSettings, get_supervisor
from voxray.actors.tools.settings import ToolPoolSettings

pytestmark = pytest.mark.ray

SPEED = 8.0
FRAME_MS = 20
CONVERSATIONS = 4


@pytest.fixture(scope="module")
def simulator(ray_cluster: None) -> Iterator[tuple[Any, str]]:
    """A simulator actor sending 20 ms output deltas."""
    actor = SimulatorActor.options(num_cpus=0).remote()
    try:
        url = ray.get(actor.start.remote(SimulatorConfig(speed=SPEED, output_chunk_ms=FRAME_MS)))
        yield actor, url
    finally:
        ray.get(actor.stop.remote())
        ray.kill(actor)


def _digest(result: SessionResult, size_bytes: int) -> str:
    """BLAKE2b of the first ``size_bytes`` of audio the conversation sent (its user channel)."""
    assert result.recording is not None
    stereo = np.frombuffer(result.recording.pcm, dtype=np.int16).reshape(-1, 2)
    user = np.ascontiguousarray(stereo[:, 0]).tobytes()
    assert len(user) >= size_bytes
    return hashlib.blake2b(user[:size_bytes], digest_size=16).hexdigest()


@pytest.mark.parametrize("packing", [1, 3])
async def test_every_frame_arrives_in_order(simulator: tuple[Any, str], packing: int) -> None:
    sim, url = simulator
    supervisor = get_supervisor(
        SupervisorSettings(
            conversations_per_actor=packing, tools=ToolPoolSettings(size=1), warm_per_node=1
        ),
        f"density-test-{uuid.uuid4().hex[:6]}",
    )
    try:
        tokens = [await sim.register.remote(BrainScript()) for _ in range(CONVERSATIONS)]
        requests = [
            SessionRequest(
                session_id=f"density-{packing}-{index}",
                agent=AgentConfig(),
                script=ScenarioScript(
                    turns=(
                        SayTurn(say=f"hello number {index}, what time is it"),
                        TextTurn(text="and tomorrow?"),
                        WaitTurn(wait_ms=500),
                    )
                ),
                endpoint=ProviderEndpoint(url=url, api_key=SecretStr(token)),
                tuning=EngineTuning(append_chunk_ms=FRAME_MS, speed=SPEED),
            )
            for index, token in enumerate(tokens)
        ]
        results = await asyncio.gather(
            *(supervisor.run_session.remote(request) for request in requests)
        )
        for token, result in zip(tokens, results, strict=True):
            assert result.status == "completed", result.error
            (tally,) = await sim.input_audio.remote(token)  # one connection each
            frames_sent = result.metrics.frames_sent
            assert frames_sent > 50
            assert result.metrics.dropped_audio_chunks == 0
            assert tally["frames"] == frames_sent
            assert tally["bytes"] == frames_sent * 24_000 * FRAME_MS // 1000 * 2
            assert tally["digest"] == _digest(result, int(tally["bytes"]))
    finally:
        ray.get(supervisor.shutdown_tools.remote())
        ray.kill(supervisor)
