"""Several Ray nodes on this machine (``ray.cluster_utils.Cluster``): sessions spread across
nodes, and the sessions of a node that disappears are reported lost and retried elsewhere.

The cluster runs in a subprocess (this file, run as a script), so it never meets the test
session's own Ray, and everything it started ends with it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.ray

SPEED = 8.0
SESSIONS = 3
_MARK = "voxray-cluster-report: "


def test_sessions_spread_over_nodes_and_survive_a_lost_node() -> None:
    # Its own temp dir (short: Ray's socket paths must stay within 107 bytes): the Cluster
    # writes its address to <RAY_TMPDIR>/ray/ray_current_cluster, where no other program on
    # this machine can mistake it for theirs.
    temp_dir = tempfile.mkdtemp(prefix="vxc-")
    env = {
        **os.environ,
        "RAY_TMPDIR": temp_dir,
        "RAY_AUTH_MODE": "disabled",
        "PYTHONPATH": str(Path(__file__).parents[1]),
    }
    try:
        proc = subprocess.run(
            [sys.executable, __file__],
            capture_output=True,
            text=True,
            timeout=170,
            env=env,
            check=False,
        )
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith(_MARK))
    report = json.loads(line.removeprefix(_MARK))

    # Three sessions on three nodes: one each, by live-session count.
    assert len(set(report["first_nodes"].values())) == SESSIONS, report
    lost_session = report["lost_session"]
    assert report["first_nodes"][lost_session] == report["removed_node"]
    # The removed node's session was retried on a node that is still there, and finished.
    assert report["retry_node"] not in (None, report["removed_node"]), report
    assert report["statuses"] == ["completed"] * SESSIONS, report
    assert report["retried"] == 1 and report["lost"] == 0, report
    assert report["removed_node_alive"] is False, report


# --- the subprocess -----------------------------------------------------------------------


async def _scenario(cluster: Any, workers: list[Any]) -> dict[str, Any]:
    import ray
    from pydantic import SecretStr
    from voxray.actors.conversation.agent import AgentConfig
    from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
    from voxray.actors.conversation.script import ScenarioScript, TextTurn, WaitTurn
    from voxray.actors.session import SessionRequest
    from voxray.actors.simulator.actor import SimulatorActor
    from voxray.actors.simulator.config import SimulatorConfig
    from voxray.actors.simulator.rules import BrainRule, BrainScript
    from voxray.actors.supervision.models import SessionTicket
    from voxray.actors.supervisor import SupervisorSettings, get_supervisor
    from voxray.actors.tools.settings import ToolPoolSettings

    namespace = "voxray-cluster-test"
    settings = SupervisorSettings(
        tools=ToolPoolSettings(size=1),
        warm_per_node=0,
        max_sessions_per_node=2,
        node_refresh_s=0.5,
        progress_check_s=0.5,
        stall_timeout_s=10.0,
    )
    supervisor = get_supervisor(settings, namespace)
    simulator = SimulatorActor.options(num_cpus=0, resources={"head": 0.01}).remote()
    url = await simulator.start.remote(SimulatorConfig(speed=SPEED))
    script = BrainScript(rules=[BrainRule(heard="ping", reply="Pong.")])
    requests = [
        SessionRequest(
            session_id=f"spread-{index}-{uuid.uuid4().hex[:4]}",
            agent=AgentConfig(),
            # 40 s of audio at 8x: five seconds of wall time, long enough to lose a node.
            script=ScenarioScript(turns=(TextTurn(text="ping"), WaitTurn(wait_ms=40_000))),
            endpoint=ProviderEndpoint(
                url=url, api_key=SecretStr(await simulator.register.remote(script))
            ),
            tuning=EngineTuning(speed=SPEED),
        )
        for index in range(SESSIONS)
    ]
    ticket = SessionTicket(job_id="spread", retries=1)
    refs = [supervisor.run_session.remote(request, ticket) for request in requests]

    async def running(attempt: int, count: int) -> dict[str, str]:
        async with asyncio.timeout(90):
            while True:
                infos = await supervisor.sessions.remote()
                found = {i.session_id: i.node_id for i in infos if i.attempt == attempt}
                if len(found) >= count:
                    return found
                await asyncio.sleep(0.05)

    first_nodes = await running(0, SESSIONS)
    # A worker that hosts a session, and not this driver's node.
    here = ray.get_runtime_context().get_node_id()
    worker_ids = {worker.node_id: worker for worker in workers if worker.node_id != here}
    lost_session, removed = next((s, n) for s, n in first_nodes.items() if n in worker_ids)
    cluster.remove_node(worker_ids[removed], allow_graceful=False)
    retry_node = (await running(1, 1)).get(lost_session)
    results = await asyncio.gather(*refs)
    status = await supervisor.status.remote()
    removed_alive = next(n.alive for n in status.nodes if n.node_id == removed)
    await simulator.stop.remote()
    ray.kill(supervisor)
    return {
        "first_nodes": first_nodes,
        "removed_node": removed,
        "lost_session": lost_session,
        "retry_node": retry_node,
        "statuses": [result.status for result in results],
        "retried": status.retried,
        "lost": status.lost,
        "removed_node_alive": removed_alive,
    }


def _main() -> None:
    import ray
    from ray.cluster_utils import Cluster

    started = time.monotonic()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "resources": {"head": 1},
            "include_dashboard": False,
            # Notice a dead node in ~2 s rather than the default ~30 s.
            "_system_config": {
                "health_check_initial_delay_ms": 0,
                "health_check_period_ms": 500,
                "health_check_timeout_ms": 500,
                "health_check_failure_threshold": 3,
            },
        },
    )
    try:
        workers = [
            cluster.add_node(num_cpus=1, resources={f"worker_{index}": 1}) for index in range(2)
        ]
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
        report = asyncio.run(_scenario(cluster, workers))
        report["wall_s"] = round(time.monotonic() - started, 1)
        print(_MARK + json.dumps(report), flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    _main()
