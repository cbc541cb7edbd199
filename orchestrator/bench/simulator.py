"""``voxray bench sim``: the simulator's own CPU per real-time session.

The simulator runs alone in a child process (spawned, so it shares nothing with the driver);
this process is the load generator: N websocket sessions, each streaming user audio at real-time
pace in 100 ms appends (an espeak sentence, then silence, round and round) while the simulator's
server VAD turns each sentence into a turn and answers it with ~3 s of speech in 40 ms deltas,
also at real-time pace (``speed`` 1). No transcription. After every session is up and has
talked for a while, the child's process CPU time is sampled over a measurement window:
CPU seconds / wall seconds / sessions is the figure, against the target of 0.3 % of one core
per session at 200 sessions. The load generator's own CPU is reported for context: on a shared
2-core machine both compete for the same cores.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import multiprocessing.connection
import os
import time
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from voxray.actors import event_loop
from voxray.bench.registry import Benchmark, BenchResult, Figure, register

__all__ = ["run"]

RATE: Final = 24_000
CHUNK_MS: Final = 100
TARGET_PERCENT: Final = 0.3
REPLY: Final = "Sure. The shop opens at nine and closes at five."
UTTERANCE: Final = "Hello, what time does the shop open tomorrow morning?"
PERIOD_S: Final = 8.0
"""One conversational round: the user's sentence, then silence while the reply plays."""
_SESSIONS_PER_GENERATOR: Final = 100


# ---------------------------------------------------------------- the simulator process


def _serve(conn: multiprocessing.connection.Connection) -> None:
    """Child process: run a simulator; answer ``cpu`` with process CPU seconds; exit on ``stop``."""
    from voxray.actors.simulator import BrainScript, Simulator, SimulatorConfig

    async def main() -> None:
        simulator = Simulator(SimulatorConfig(speed=1.0, port=0))
        url = await simulator.start()
        token = simulator.register(BrainScript(default_reply=REPLY))
        conn.send((url, token))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_command() -> None:
            command = conn.recv()
            if command == "cpu":
                conn.send((time.process_time(), simulator.statistics()))
            else:
                stop.set()

        loop.add_reader(conn.fileno(), on_command)
        await stop.wait()
        loop.remove_reader(conn.fileno())
        await simulator.aclose()

    event_loop.run(main())


# ---------------------------------------------------------------- the load generator


@dataclass
class _Load:
    """What the sessions of one generator saw inside the measurement window."""

    appends: int = 0
    late_appends: int = 0
    audio_deltas: int = 0
    responses: int = 0
    errors: int = 0
    failed_sessions: int = 0
    cpu_s: float = 0.0

    def add(self, other: _Load) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class _Schedule:
    """Wall-clock (``time.time``) instants shared by every process of one measurement."""

    url: str
    token: str
    begin: float
    window_start: float
    window_end: float
    stop: float


def _append_frames() -> list[str]:
    """One round of user audio as ready-to-send append frames (speech, then silence)."""
    from voxray.actors.audio.resample import StreamResampler
    from voxray.actors.audio.speech import SpeechSynthesizer

    spoken = SpeechSynthesizer().synthesize(UTTERANCE)
    resampler = StreamResampler(spoken.rate, RATE)
    voice = np.concatenate((resampler.process(spoken.samples), resampler.flush()))
    total = int(PERIOD_S * RATE)
    audio = np.zeros(total, np.int16)
    audio[: min(voice.size, total)] = voice[:total]
    step = RATE * CHUNK_MS // 1000
    return [
        '{"type":"input_audio_buffer.append","audio":"'
        + base64.b64encode(audio[i : i + step].tobytes()).decode()
        + '"}'
        for i in range(0, total, step)
    ]


_SESSION_UPDATE: Final = json.dumps(
    {
        "type": "session.update",
        "session": {
            "voice": "eve",
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
        },
    }
)
_LATE_S: Final = 0.05


async def _session(http: Any, plan: _Schedule, frames: list[str], number: int, load: _Load) -> None:
    import aiohttp

    def counting() -> bool:
        return plan.window_start <= time.time() < plan.window_end

    try:
        ws = await http.ws_connect(plan.url, headers={"Authorization": f"Bearer {plan.token}"})
    except aiohttp.ClientError:
        load.failed_sessions += 1
        return

    async def read() -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT or not counting():
                continue
            head = msg.data[:48]
            if head.startswith('{"type":"response.output_audio.delta"'):
                load.audio_deltas += 1
            elif head.startswith('{"type":"response.done"'):
                load.responses += 1
            elif head.startswith('{"type":"error"'):
                load.errors += 1

    reader = asyncio.create_task(read())
    await ws.send_str(_SESSION_UPDATE)
    # Each session starts at its own point of the round, so turns do not all line up.
    offset = number * 7 % len(frames)
    start = time.time()
    index = 0
    while (deadline := start + index * CHUNK_MS / 1000) < plan.stop:
        delay = deadline - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if counting():
            load.appends += 1
            load.late_appends += delay < -_LATE_S
        await ws.send_str(frames[(offset + index) % len(frames)])
        index += 1
    await ws.close()
    reader.cancel()


def _generate(
    plan: _Schedule, first: int, count: int, conn: multiprocessing.connection.Connection
) -> None:
    """Generator process: ``count`` sessions, connected from ``plan.begin`` at 100/s."""
    import aiohttp

    async def main() -> _Load:
        frames = _append_frames()
        load = _Load()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

            async def one(number: int) -> None:
                await asyncio.sleep(max(0.0, plan.begin + number / 100 - time.time()))
                await _session(http, plan, frames, number, load)

            async def window_cpu() -> None:
                await asyncio.sleep(max(0.0, plan.window_start - time.time()))
                cpu0 = time.process_time()
                await asyncio.sleep(max(0.0, plan.window_end - time.time()))
                load.cpu_s = time.process_time() - cpu0

            await asyncio.gather(window_cpu(), *(one(n) for n in range(first, first + count)))
        return load

    conn.send(event_loop.run(main()))


def _measure(sessions: int, warmup_s: float, window_s: float) -> tuple[float, float, _Load]:
    """(simulator cores, window wall s, summed generator counters) for ``sessions`` sessions."""
    context = multiprocessing.get_context("spawn")
    sim_conn, sim_child = context.Pipe()
    simulator = context.Process(target=_serve, args=(sim_child,), name="voxray-bench-sim")
    simulator.start()
    generators: list[tuple[multiprocessing.connection.Connection, Any]] = []
    try:
        url, token = sim_conn.recv()
        begin = time.time() + 1.5  # generators need a moment to start
        window_start = begin + sessions / 100 + warmup_s
        plan = _Schedule(
            url, token, begin, window_start, window_start + window_s, window_start + window_s + 1
        )
        per_generator = _SESSIONS_PER_GENERATOR
        for first in range(0, sessions, per_generator):
            conn, child = context.Pipe()
            count = min(per_generator, sessions - first)
            process = context.Process(target=_generate, args=(plan, first, count, child))
            process.start()
            generators.append((conn, process))
        time.sleep(max(0.0, plan.window_start - time.time()))
        sim_conn.send("cpu")
        cpu0, _ = sim_conn.recv()
        wall0 = time.monotonic()
        time.sleep(max(0.0, plan.window_end - time.time()))
        sim_conn.send("cpu")
        cpu1, _ = sim_conn.recv()
        wall = time.monotonic() - wall0
        total = _Load()
        for conn, process in generators:
            total.add(conn.recv())
            process.join(timeout=10)
    finally:
        for _, process in generators:
            if process.is_alive():
                process.kill()
        sim_conn.send("stop")
        simulator.join(timeout=10)
        if simulator.is_alive():
            simulator.kill()
    return (cpu1 - cpu0) / wall, wall, total


def run(quick: bool) -> BenchResult:
    """Measure at several concurrencies; ``quick`` uses few sessions and short windows."""
    levels, warmup_s, window_s = ((10,), 3.0, 3.0) if quick else ((50, 100, 200), 6.0, 16.0)
    figures: list[Figure] = []
    notes = [
        f"speed 1, server VAD, {CHUNK_MS} ms appends in, 40 ms deltas out, no transcription, "
        f"load from {_SESSIONS_PER_GENERATOR} sessions per generator process; "
        f"{os.cpu_count()} CPUs shared by the simulator, the generators and anything else running"
    ]
    for sessions in levels:
        cores, wall, load = _measure(sessions, warmup_s, window_s)
        per_session = cores / sessions * 100
        at_target = sessions == 200
        figures += [
            Figure(
                name=f"{sessions} sessions: simulator CPU per session",
                value=per_session,
                unit="% of a core",
                target=f"<= {TARGET_PERCENT}" if at_target else None,
                met=bool(per_session <= TARGET_PERCENT) if at_target else None,
            ),
            Figure(name=f"{sessions} sessions: simulator CPU", value=cores, unit="cores"),
            Figure(
                name=f"{sessions} sessions: user audio sent",
                value=load.appends * CHUNK_MS / 1000 / wall / sessions * 100,
                unit="% of real time",
                target="~100 (full load)",
            ),
            Figure(
                name=f"{sessions} sessions: agent audio received",
                value=load.audio_deltas * 0.040 / wall / sessions,
                unit="s per session-s",
            ),
            Figure(
                name=f"{sessions} sessions: responses per session",
                value=load.responses / sessions / (wall / 60),
                unit="/min",
            ),
            Figure(
                name=f"{sessions} sessions: load generators CPU",
                value=load.cpu_s / wall,
                unit="cores",
            ),
        ]
        if load.errors or load.failed_sessions or load.late_appends:
            notes.append(
                f"{sessions} sessions: {load.errors} error events, {load.failed_sessions} "
                f"sessions failed to connect, {load.late_appends} appends sent > 50 ms late"
            )
    return BenchResult(
        name="sim",
        description="simulator CPU per real-time session (audio both ways)",
        figures=figures,
        notes=notes,
    )


register(Benchmark("sim", "the simulator's CPU per real-time session", run))
