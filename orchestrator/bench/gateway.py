"""``voxray bench gateway``: concurrent Twilio phone calls through the gateway.

Three processes on this machine, as in production minus the network: the simulator (speed 1,
20 ms output deltas), one gateway (:class:`~voxray.actors.gateway.server.GatewayServer`, the
code a gateway actor runs, here in a plain process so its CPU is its own), and the callers
(:class:`~voxray.actors.simulator.twilio_caller.TwilioCaller`, one per call: a Media Streams
``media`` message every 20 ms for the whole call, marks echoed as audio plays, ``clear``
honoured). Ten callers arrive at once (a burst), the rest spread over a few seconds; each hears
the agent's greeting, then says a sentence whenever the agent has been quiet for a moment, and
hangs up at the end.

Figures: calls held (up to the end, frame lateness p99 < 20 ms, no gap in the agent's audio),
the gateway's CPU per call over a window with every call up (it hosts the calls' conversations
too: μ-law passes through untouched, so this is the engine plus the Twilio relay), and arrival
(the ``start`` message) to the agent's first audio at the caller, p50/p99, for the burst and
for all. The first audio includes the simulator's scripted response latency (300 ms mean).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any, Final

from voxray.bench.child import until_parent_says_stop
from voxray.bench.registry import Benchmark, BenchResult, Figure, percentile, register

__all__ = ["run"]

GREETING: Final = "Thanks for calling. How can I help you today?"
REPLY: Final = "Sure, I can help with that. Anything else?"
SENTENCE: Final = "I would like to check the status of my order please."
_BURST: Final = 10


# ---------------------------------------------------------------- child processes


def _serve_simulator(conn: multiprocessing.connection.Connection) -> None:
    from voxray.actors import event_loop
    from voxray.actors.heap import freeze_startup_heap
    from voxray.actors.simulator import BrainScript, Simulator, SimulatorConfig

    async def main() -> None:
        simulator = Simulator(SimulatorConfig(speed=1.0, port=0, output_chunk_ms=20))
        url = await simulator.start()
        freeze_startup_heap()
        conn.send((url, simulator.register(BrainScript(default_reply=REPLY)), os.getpid()))
        await until_parent_says_stop(conn)
        await simulator.aclose()

    event_loop.run(main())


def _serve_gateway(
    url: str, token: str, max_calls: int, conn: multiprocessing.connection.Connection
) -> None:
    from pydantic import SecretStr
    from voxray.actors import event_loop
    from voxray.actors.conversation.agent import AgentConfig
    from voxray.actors.conversation.endpoint import ProviderEndpoint
    from voxray.actors.gateway.agents import HostedAgent
    from voxray.actors.gateway.server import GatewayServer
    from voxray.actors.gateway.settings import GatewaySettings
    from voxray.actors.heap import freeze_startup_heap
    from voxray.actors.tools.inprocess import InProcessToolBackend

    async def main() -> None:
        endpoint = ProviderEndpoint(url=url, api_key=SecretStr(token))
        gateway = GatewayServer(
            GatewaySettings(
                host="127.0.0.1",
                port=0,
                browser_secret=SecretStr("bench"),
                max_calls=max_calls,
            ),
            [HostedAgent(name="support", agent=AgentConfig(), greeting=GREETING)],
            endpoints=lambda agent: endpoint,
            tools=InProcessToolBackend(),
        )
        base = await gateway.start()
        freeze_startup_heap()
        conn.send((base.replace("http://", "ws://") + "/twilio/stream", os.getpid()))
        await until_parent_says_stop(conn)
        await gateway.aclose()

    event_loop.run(main())


def _direct(
    url: str, token: str, calls: int, run_s: float, conn: multiprocessing.connection.Connection
) -> None:
    """The baseline: the same conversations in one process with no caller sockets at all.

    Each is opened as the Twilio ingress opens one (μ-law both ways, the greeting said), fed a
    20 ms μ-law frame from a timer (the sentence every 7 s, silence otherwise) and its agent
    audio taken from the wire listener. The gateway's CPU minus this is what the relay adds.
    """
    from pydantic import SecretStr
    from voxray.actors import event_loop
    from voxray.actors.conversation.agent import AgentConfig, AudioFormatConfig
    from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
    from voxray.actors.gateway.admission import LocalAdmitter
    from voxray.actors.gateway.agents import HostedAgent
    from voxray.actors.gateway.calls import Calls
    from voxray.actors.gateway.metrics import GatewayMetrics
    from voxray.actors.gateway.settings import GatewaySettings
    from voxray.actors.simulator.twilio_caller import speech_mulaw
    from voxray.actors.tools.inprocess import InProcessToolBackend

    telephone = AudioFormatConfig(encoding="pcmu", rate=8000)
    agent = HostedAgent(
        name="support",
        agent=AgentConfig(input_audio=telephone, output_audio=telephone),
        greeting=GREETING,
    )
    sentence = speech_mulaw(SENTENCE)
    frames = [sentence[i : i + 160].ljust(160, b"\xff") for i in range(0, len(sentence), 160)]
    silence = b"\xff" * 160

    async def main() -> int:
        endpoint = ProviderEndpoint(url=url, api_key=SecretStr(token))
        book = Calls(
            GatewaySettings(browser_secret=SecretStr("bench"), max_calls=calls + 10),
            endpoints=lambda hosted: endpoint,
            tools=InProcessToolBackend(),
            tuning=EngineTuning(),
            admitter=LocalAdmitter(),
            metrics=GatewayMetrics(),
        )
        received = [0]

        async def one(index: int) -> None:
            await asyncio.sleep(0.02 * index)
            call = await book.open(ingress="bench", agent=agent, caller=str(index))
            call.conversation.add_wire_audio_listener(
                lambda response_id, item_id, delta: received.__setitem__(0, received[0] + 1)
            )
            loop = asyncio.get_running_loop()
            start = loop.time()
            tick = 0
            while loop.time() < start + run_s:
                at_s = (tick * 0.02) % 7.0
                index_in = int((at_s - 4.0) / 0.02)
                frame = frames[index_in] if 0 <= index_in < len(frames) else silence
                call.conversation.send_wire_audio(frame)
                tick += 1
                await asyncio.sleep(max(0.0, start + tick * 0.02 - loop.time()))
            await call.end()

        await asyncio.gather(*(one(i) for i in range(calls)))
        return received[0]

    conn.send(event_loop.run(main()))


@dataclass(frozen=True)
class _Call:
    """One caller's figures, sent back to the driver."""

    index: int
    first_audio_ms: float | None
    lateness_p99_ms: float
    gaps: int
    agent_audio_ms: float
    held: bool
    turns: int
    error: str | None


def _callers(
    stream_url: str,
    calls: int,
    spread_s: float,
    end_at_s: float,
    conn: multiprocessing.connection.Connection,
) -> None:
    import aiohttp
    from voxray.actors import event_loop
    from voxray.actors.simulator.twilio_caller import TwilioCaller, speech_mulaw

    sentence = speech_mulaw(SENTENCE)

    async def one(session: aiohttp.ClientSession, index: int, start: float) -> _Call:
        delay = 0.0 if index < _BURST else spread_s * (index - _BURST) / max(1, calls - _BURST)
        await asyncio.sleep(delay)
        caller = TwilioCaller(
            stream_url,
            parameters={"agent": "support", "from": f"+1555{index:07d}"},
            stream_sid=f"MZ{index:032d}",
        )
        task = asyncio.ensure_future(caller.run(session))
        turns = 0
        try:
            await caller.wait_for_agent_audio(1, timeout_s=10)
            while time.monotonic() < start + end_at_s and not task.done():
                if await caller.wait_for_quiet(700, timeout_s=2):
                    heard = caller.report_agent_audio_ms()
                    caller.say(sentence)
                    await caller.wait_spoken()
                    # The answer comes after the turn ends (VAD silence, model latency): wait
                    # for it rather than speaking over it.
                    if await caller.wait_for_agent_audio(heard + 200, timeout_s=5):
                        turns += 1
        finally:
            held = not task.done()
            caller.hang_up()
            try:
                report = await asyncio.wait_for(task, 10)
                error = None
            except Exception as failure:
                report, error = caller.report, repr(failure)
        first = report.first_audio_s
        return _Call(
            index=index,
            first_audio_ms=None if first is None else round(first * 1000, 1),
            lateness_p99_ms=round(report.lateness_p99_ms, 2),
            gaps=report.gaps,
            agent_audio_ms=report.agent_audio_ms,
            held=held and report.refused_status is None,
            turns=turns,
            error=error or (f"refused {report.refused_status}" if report.refused_status else None),
        )

    async def main() -> list[_Call]:
        start = time.monotonic()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            return list(await asyncio.gather(*(one(session, i, start) for i in range(calls))))

    conn.send(event_loop.run(main()))


# ---------------------------------------------------------------- the driver


def _cores(process: Any, window_s: float) -> float:
    before = process.cpu_times()
    started = time.monotonic()
    time.sleep(window_s)
    after = process.cpu_times()
    used: float = after.user + after.system - before.user - before.system
    return used / (time.monotonic() - started)


def measure(calls: int, spread_s: float, settle_s: float, window_s: float) -> dict[str, Any]:
    """One run: ``calls`` callers; CPU sampled over ``window_s`` once all are up and greeted."""
    import psutil

    context = multiprocessing.get_context("spawn")
    sim_conn, sim_child = context.Pipe()
    gw_conn, gw_child = context.Pipe()
    callers_conn, callers_child = context.Pipe()
    simulator = context.Process(target=_serve_simulator, args=(sim_child,), daemon=True)
    simulator.start()
    sim_child.close()
    gateway: Any = None
    callers: Any = None
    try:
        url, token, sim_pid = sim_conn.recv()
        gateway = context.Process(
            target=_serve_gateway, args=(url, token, calls + 10, gw_child), daemon=True
        )
        gateway.start()
        gw_child.close()
        stream_url, gateway_pid = gw_conn.recv()
        end_at_s = spread_s + settle_s + window_s + 1.0
        callers = context.Process(
            target=_callers,
            args=(stream_url, calls, spread_s, end_at_s, callers_child),
            daemon=True,
        )
        callers.start()
        callers_child.close()
        time.sleep(spread_s + settle_s)
        gateway_process, sim_process = psutil.Process(gateway_pid), psutil.Process(sim_pid)
        callers_process = psutil.Process(callers.pid)
        for process in (gateway_process, sim_process, callers_process):
            process.cpu_percent()
        gateway_cores = _cores(gateway_process, window_s)
        sim_cores = sim_process.cpu_percent() / 100
        callers_cores = callers_process.cpu_percent() / 100
        results: list[_Call] = callers_conn.recv()
        callers.join(timeout=30)
    finally:
        for process in (callers, gateway):
            if process is not None and process.is_alive():
                process.kill()
        for pipe in (gw_conn, sim_conn):
            with contextlib.suppress(OSError):  # the child is gone already
                pipe.send("stop")
        simulator.join(timeout=10)
        if simulator.is_alive():
            simulator.kill()
    return {
        "calls": results,
        "gateway_cores": gateway_cores,
        "sim_cores": sim_cores,
        "callers_cores": callers_cores,
        "direct_cores": _measure_direct(calls, settle_s, window_s),
    }


def _measure_direct(calls: int, settle_s: float, window_s: float) -> float:
    """CPU (cores) of the same conversations hosted with no caller sockets."""
    import psutil

    context = multiprocessing.get_context("spawn")
    sim_conn, sim_child = context.Pipe()
    direct_conn, direct_child = context.Pipe()
    simulator = context.Process(target=_serve_simulator, args=(sim_child,), daemon=True)
    simulator.start()
    sim_child.close()
    direct: Any = None
    try:
        url, token, _ = sim_conn.recv()
        run_s = settle_s + window_s + 1.0
        direct = context.Process(
            target=_direct, args=(url, token, calls, run_s, direct_child), daemon=True
        )
        direct.start()
        direct_child.close()
        time.sleep(settle_s)
        cores = _cores(psutil.Process(direct.pid), window_s)
        direct_conn.recv()
        direct.join(timeout=30)
    finally:
        if direct is not None and direct.is_alive():
            direct.kill()
        with contextlib.suppress(OSError):
            sim_conn.send("stop")
        simulator.join(timeout=10)
        if simulator.is_alive():
            simulator.kill()
    return cores


def run(quick: bool) -> BenchResult:
    """Quick: 12 calls for a few seconds; full: 50 calls (``VOXRAY_BENCH_GATEWAY_CALLS`` to
    try another number), a 20 s window."""
    calls, spread_s, settle_s, window_s = (12, 1.0, 3.0, 4.0) if quick else (50, 5.0, 5.0, 20.0)
    wanted = os.environ.get("VOXRAY_BENCH_GATEWAY_CALLS")
    if wanted and not quick:
        calls = max(_BURST, int(wanted))
    measured = measure(calls, spread_s, settle_s, window_s)
    results: list[_Call] = measured["calls"]
    good = [call for call in results if call.held and call.lateness_p99_ms < 20 and call.gaps == 0]
    firsts = [call.first_audio_ms for call in results if call.first_audio_ms is not None]
    burst = [c.first_audio_ms for c in results if c.index < _BURST and c.first_audio_ms is not None]
    per_call = measured["gateway_cores"] / calls * 100
    direct_per_call = measured["direct_cores"] / calls * 100
    relay = per_call - direct_per_call
    figures = [
        Figure(
            name=f"calls held of {calls} (lateness p99 < 20 ms, no gaps)",
            value=len(good),
            unit="calls",
            target=">= 50 Twilio calls",
            met=len(good) >= 50 if not quick else None,
        ),
        Figure(
            name="gateway CPU per call (engine + Twilio relay)",
            value=round(per_call, 3),
            unit="% of a core",
            target="<= 0.5 %",
            met=per_call <= 0.5,
        ),
        Figure(
            name="same conversations with no caller sockets, CPU per call",
            value=round(direct_per_call, 3),
            unit="% of a core (the engine alone)",
        ),
        Figure(
            name="what the Twilio relay adds per call (the difference)",
            value=round(relay, 3),
            unit="% of a core",
            target="<= 0.5 %",
            met=relay <= 0.5,
        ),
        Figure(
            name="arrival -> first agent audio p50",
            value=round(statistics.median(firsts), 1) if firsts else float("nan"),
            unit="ms (incl. 300 ms simulated model latency)",
        ),
        Figure(
            name="arrival -> first agent audio p99",
            value=round(percentile(firsts, 0.99), 1) if firsts else float("nan"),
            unit="ms",
            target="< 1000 ms",
            met=bool(firsts) and percentile(firsts, 0.99) < 1000,
        ),
        Figure(
            name=f"burst of {_BURST} at once: first agent audio p99",
            value=round(percentile(burst, 0.99), 1) if burst else float("nan"),
            unit="ms",
            target="< 1000 ms",
            met=bool(burst) and percentile(burst, 0.99) < 1000,
        ),
        Figure(
            name="caller frame lateness p99, worst call",
            value=max((c.lateness_p99_ms for c in results), default=float("nan")),
            unit="ms",
            target="< 20 ms",
        ),
        Figure(
            name="caller frame lateness p99, median call",
            value=statistics.median(c.lateness_p99_ms for c in results) if results else 0.0,
            unit="ms",
        ),
        Figure(
            name="calls up to the end (not dropped or refused)",
            value=sum(c.held for c in results),
            unit="calls",
        ),
        Figure(
            name="gaps in agent audio (40 ms playout buffer), all calls",
            value=sum(c.gaps for c in results),
            unit="gaps",
        ),
        Figure(
            name="caller turns answered",
            value=sum(c.turns for c in results),
            unit="turns",
        ),
        Figure(
            name="simulator CPU per call",
            value=round(measured["sim_cores"] / calls * 100, 3),
            unit="% of a core",
        ),
        Figure(
            name="callers' CPU per call (Twilio's side)",
            value=round(measured["callers_cores"] / calls * 100, 3),
            unit="% of a core",
        ),
    ]
    notes = [f"call {c.index}: {c.error}" for c in results if c.error][:5]
    return BenchResult(
        name="gateway",
        description="concurrent Twilio calls through the gateway (callers, gateway, simulator)",
        figures=figures,
        notes=notes,
    )


register(
    Benchmark(
        name="gateway",
        description="concurrent Twilio Media Streams calls through voxray's gateway",
        run=run,
    )
)
