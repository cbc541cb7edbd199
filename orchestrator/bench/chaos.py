"""``voxray bench chaos``: a suite under fire loses nothing, repeats nothing, fails nothing wrongly.

A job of concurrent scenarios (typed questions and tool calls) runs against the simulator while
a chaos thread kills, at random moments, a tool runner, a session actor or the job's simulator
actor (``ray.kill`` by handle, as the OOM killer or a crash would end them), and every scenario's
socket is reset once, as its first or its second answer starts (the simulator's ``drop``
fault).
Afterwards ``results.jsonl`` is read back and judged:

- **lost**: planned runs with no record, or recorded ``lost``: must be 0 (the supervisor re-runs
  a session whose actor died, the job restarts a dead simulator and re-runs what it served);
- **unfinished**: runs recorded ``interrupted`` or ``not_run`` (kept for ``--resume``, not
  lost, but not done either): must be 0 too while the simulator dies less often than the job's
  restart budget allows (the bench kills it at most twice a round);
- **duplicated**: records beyond one per run: must be 0;
- **wrongly failed**: finished runs that did not pass, except those whose tool call was running
  when its runner was killed (that call *is* a ``runner_died``, by design): must be 0.

Not part of CI's time budget: a full run takes a few minutes. ``--quick`` runs fewer scenarios.
Starts an embedded Ray cluster when none is running in this process.
"""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from voxray.bench.registry import Benchmark, BenchResult, Figure, register

__all__ = ["run"]

_CONCURRENCY: Final = 6
_SPEED: Final = 4.0
_KINDS: Final = ("tool runner", "session actor", "simulator")
_PREFIXES: Final = {
    "tool runner": "voxray-tool-runner-",
    "session actor": "voxray-session-",
    "simulator": "voxray-sim-",
}
_WEIGHTS: Final = (4, 4, 1)  # a simulator restart costs every live run a reconnect
_PAUSE_S: Final = (0.5, 2.5)  # between two kills
_MAX_SIMULATOR_KILLS: Final = 2  # under the job's restart budget (a 4th death ends the job)


def _scenario(index: int, rng: random.Random) -> str:
    """One scenario's YAML: a tool call or a two-question chat, with one socket reset."""
    # Reset right after the first or the second answer starts: mid-sentence, mid-tool-call.
    faults = f"      faults: [{{do: drop, mid_response: {rng.choice((1, 2))}, times: 1}}]\n"
    if index % 2 == 0:
        return (
            f"  - name: weather-{index:02d}\n"
            "    agent: {tools: [voxray.examples.tools:get_weather]}\n"
            '    turns: [{text: "What is the weather in Paris?"}]\n'
            "    sim:\n"
            "      rules:\n"
            "        - turn: 1\n"
            "          calls: [{name: get_weather, arguments: {city: Paris}}]\n"
            '          after_tool: "It is {output.temperature} degrees in Paris."\n'
            f"{faults}"
            "    expect:\n"
            "      tools_called: [{name: get_weather, arguments: {city: Paris}, ok: true}]\n"
            "      transcript_contains: [Paris]\n"
        )
    return (
        f"  - name: chat-{index:02d}\n"
        '    turns: [{text: "When do you open?"}, {text: "And when do you close?"}]\n'
        "    sim:\n"
        "      rules:\n"
        "        - {heard: open, reply: We open at nine in the morning.}\n"
        "        - {heard: close, reply: We close at six in the evening.}\n"
        f"{faults}"
        "    expect:\n"
        "      transcript_contains: [nine, six]\n"
    )


def _suite(runs: int, seed: int) -> str:
    rng = random.Random(seed)
    scenarios = "".join(_scenario(index, rng) for index in range(runs))
    return (
        "name: chaos\nbackend: sim\n"
        f"concurrency: {_CONCURRENCY}\n"
        "defaults:\n  reply_timeout_s: 30\n"
        f"scenarios:\n{scenarios}"
    )


@dataclass
class _Chaos:
    """Kills one actor of a random kind every few seconds until told to stop."""

    namespace: str
    kinds: tuple[str, ...]
    seed: int
    kills: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        import ray

        rng = random.Random(self.seed)
        weights = [_WEIGHTS[_KINDS.index(kind)] for kind in self.kinds]
        while not self.stop.wait(rng.uniform(*_PAUSE_S)):
            kind = rng.choices(self.kinds, weights)[0]
            if kind == "simulator" and self.kills[kind] >= _MAX_SIMULATOR_KILLS:
                continue
            names = [
                entry["name"]
                for entry in ray.util.list_named_actors(all_namespaces=True)
                if entry["namespace"] == self.namespace
                and entry["name"].startswith(_PREFIXES[kind])
            ]
            if not names:
                continue
            try:
                ray.kill(ray.get_actor(rng.choice(names), namespace=self.namespace))
            except ValueError:
                continue  # it ended on its own meanwhile
            self.kills[kind] += 1


@dataclass(frozen=True)
class _Outcome:
    planned: int
    lost: int
    unfinished: int
    duplicated: int
    wrongly_failed: int
    killed_mid_call: int
    kills: dict[str, int]
    drops: int
    wall_s: float
    failures: list[str]


def _judge(run_dir: Path, planned: list[str]) -> tuple[int, int, int, int, int, int, list[str]]:
    """(lost, unfinished, duplicated, wrongly failed, failed by a kill mid-call, drops, why)."""
    lines = (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    counts = Counter(record["key"] for record in records)
    duplicated = sum(count - 1 for count in counts.values())
    finished = {r["key"]: r for r in records if r["status"] in ("completed", "failed")}
    last = {record["key"]: record["status"] for record in records}
    lost = sum(1 for key in planned if last.get(key, "lost") == "lost")
    unfinished = sum(1 for key in planned if last.get(key) in ("interrupted", "not_run"))
    wrongly_failed = killed_mid_call = drops = 0
    why: list[str] = []
    for key, record in finished.items():
        drops += sum(
            1
            for event in record.get("timeline", [])
            if (event.get("detail") or {}).get("code") == "reconnecting"
        )
        if record["passed"]:
            continue
        if any(call.get("error_type") == "runner_died" for call in record["tool_calls"]):
            killed_mid_call += 1
            continue
        wrongly_failed += 1
        failed = [c["name"] for c in record["checks"] if not c["passed"]]
        why.append(f"{key}: {record['status']} {record.get('error') or ''} {failed}".strip())
    errors = {record["key"]: record.get("error") or "" for record in records}
    why += [
        f"{key}: {last.get(key, 'no record')}: {errors.get(key, '')}"
        for key in planned
        if key not in finished
    ]
    return lost, unfinished, duplicated, wrongly_failed, killed_mid_call, drops, why


def _run_once(runs: int, kinds: tuple[str, ...], seed: int) -> _Outcome:
    from voxray.actors.supervision.settings import SupervisorSettings
    from voxray.actors.tools.settings import ToolPoolSettings
    from voxray.client import Fleet
    from voxray.settings import VoxraySettings

    namespace = f"voxray-bench-chaos-{uuid.uuid4().hex[:6]}"
    settings = VoxraySettings(
        namespace=namespace,
        sim_speed=_SPEED,
        session_retries=3,
        supervisor=SupervisorSettings(tools=ToolPoolSettings(size=2), warm_per_node=2),
    )
    folder = Path(tempfile.mkdtemp(prefix="voxray-chaos-"))
    (folder / "chaos.yaml").write_text(_suite(runs, seed), encoding="utf-8")
    chaos = _Chaos(namespace, kinds, seed)
    thread = threading.Thread(target=chaos.run, name="voxray-chaos", daemon=True)
    started = time.monotonic()
    with Fleet.connect(settings=settings) as fleet:
        job = fleet.submit(folder / "chaos.yaml", out=folder / "run")
        planned = [planned_run.key for planned_run in job.plan.runs]
        thread.start()
        try:
            result = job.wait()
        finally:
            chaos.stop.set()
            thread.join()
            _drain(fleet)
    wall_s = time.monotonic() - started
    lost, unfinished, duplicated, wrong, mid_call, drops, why = _judge(result.run_dir, planned)
    kills = dict(chaos.kills)
    return _Outcome(
        len(planned), lost, unfinished, duplicated, wrong, mid_call, kills, drops, wall_s, why
    )


def _drain(fleet: Any) -> None:
    try:
        fleet.drain(0.0)  # the namespace's supervisor, its session actors and tool pool
    except Exception:  # already dead: nothing left to stop
        return


def run(quick: bool) -> BenchResult:
    """Two rounds: tool runners and session actors killed, then the simulator too."""
    runs = 12 if quick else 30
    rounds = {
        "runners+sessions": ("tool runner", "session actor"),
        "runners+sessions+simulator": _KINDS,
    }
    figures: list[Figure] = []
    notes: list[str] = []
    for round_index, (label, kinds) in enumerate(rounds.items()):
        outcome = _run_once(runs, kinds, seed=round_index + 1)
        for name, value in (
            ("runs lost", outcome.lost),
            ("runs unfinished (resumable)", outcome.unfinished),
            ("runs duplicated", outcome.duplicated),
            ("runs wrongly failed", outcome.wrongly_failed),
        ):
            figures.append(
                Figure(
                    name=f"{label}: {name}", value=value, unit="runs", target="0", met=value == 0
                )
            )
        counted = [
            ("runs", outcome.planned, "runs"),
            ("failed by a kill mid-call", outcome.killed_mid_call, "runs"),
            *((f"{kind}s killed", outcome.kills.get(kind, 0), "") for kind in kinds),
            ("socket drops recovered", outcome.drops, ""),
            ("wall time", round(outcome.wall_s, 1), "s"),
        ]
        figures += [Figure(name=f"{label}: {n}", value=v, unit=u) for n, v, u in counted]
        notes += [f"{label}: {line}" for line in outcome.failures[:10]]
    notes.append(
        f"{runs} scenarios per round at concurrency {_CONCURRENCY}, simulator speed {_SPEED:g}x; "
        "every scenario's socket is reset once (1st or 2nd answer); one actor killed every "
        f"{_PAUSE_S[0]:g}-{_PAUSE_S[1]:g} s"
    )
    return BenchResult(
        name="chaos",
        description="concurrent runs while runners, sessions and the simulator are killed",
        figures=figures,
        notes=notes,
    )


register(Benchmark("chaos", "runs lost/duplicated/wrongly failed under kills and drops", run))
