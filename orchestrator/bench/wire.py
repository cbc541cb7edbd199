"""``voxray bench wire``: what the websocket traffic alone costs, on asyncio and on uvloop.

The floor under ``voxray bench density``: N bare aiohttp websocket connections between a client
process and a server process on this machine, at the density benchmark's pace and no more
work than any realtime client and server must do. The client sends a 20 ms
``input_audio_buffer.append`` (PCM16 at 24 kHz, base64 in JSON) on each connection every 20 ms
from a timer callback, written at once as the engine writes (``send_eagerly``), and parses
every message it receives and decodes its audio. The server decodes each append's audio and,
three seconds in every six (an agent speaking half the time), answers each append with a 20 ms
``response.output_audio.delta``. No resampling, recording, VAD, models or Ray.

CPU of both processes is sampled over a window after every connection is up; the figure is
percent of one core per connection, side by side for the standard asyncio loop and uvloop in
one run, alternating, median of three pairs (this machine is shared and noisy: compare within
a run). Whatever voxray's engine and
the simulator add sits on top of these figures, so they bound how many conversations a machine
can hold at 20 ms frames both ways.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import multiprocessing.connection
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from voxray.bench.child import WorkWindow, cores_used, until_parent_says_stop
from voxray.bench.registry import Benchmark, BenchResult, Figure, register

__all__ = ["Measured", "measure", "run"]

FRAME_S: Final = 0.020
_AUDIO_B64: Final = base64.b64encode(bytes(960)).decode("ascii")  # 20 ms of PCM16 at 24 kHz
_APPEND_HEAD: Final = '{"type":"input_audio_buffer.append","audio":"'
APPEND: Final = _APPEND_HEAD + _AUDIO_B64 + '"}'
DELTA: Final = json.dumps(
    {
        "type": "response.output_audio.delta",
        "event_id": "event_0",
        "response_id": "resp_0",
        "item_id": "item_0",
        "output_index": 0,
        "content_index": 0,
        "delta": _AUDIO_B64,
    },
    separators=(",", ":"),
)
SPEAK_PERIOD_S: Final = 6.0
"""The server answers appends with deltas during the first half of every period."""
LOOPS: Final = ("asyncio", "uvloop")


def _loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop]:
    # Not voxray.actors.event_loop.loop_factory: that one falls back to asyncio quietly, which would
    # label an asyncio run "uvloop" here; this one fails if uvloop is missing.
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


# ---------------------------------------------------------------- the server process


def _serve(kind: str, conn: multiprocessing.connection.Connection) -> None:
    """Child process: a bare websocket server; sends its port, exits on any message."""
    from aiohttp import WSMsgType, web
    from voxray.actors.realtime.eager_send import send_eagerly

    async def connection(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            data: str = message.data
            if data.startswith(_APPEND_HEAD):
                base64.b64decode(data[len(_APPEND_HEAD) : -2], validate=True)
            if time.monotonic() % SPEAK_PERIOD_S < SPEAK_PERIOD_S / 2:
                drain = send_eagerly(ws, DELTA)
                if drain is not None:
                    await drain
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/", connection)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.create_server(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        conn.send(sock.getsockname()[1])
        await until_parent_says_stop(conn)
        await runner.cleanup()

    with asyncio.Runner(loop_factory=_loop_factory(kind)) as runner:
        runner.run(main())


# ---------------------------------------------------------------- the client process


@dataclass
class _ClientReport:
    """What the client process counted; sent back to the driver at the end."""

    appends: int = 0
    deltas: int = 0
    errors: list[str] = field(default_factory=list)
    lateness_ms: list[float] = field(default_factory=list)
    window: WorkWindow = field(default_factory=WorkWindow)


def _client(
    kind: str,
    port: int,
    connections: int,
    window: tuple[float, float],
    conn: multiprocessing.connection.Connection,
) -> None:
    """Child process: ``connections`` websockets at 20 ms both ways for the ``window`` (warm-up,
    measured) and a second more."""
    from aiohttp import ClientSession, TCPConnector, WSMsgType
    from voxray.actors.realtime.eager_send import send_eagerly

    report = _ClientReport()

    async def one(session: ClientSession, index: int, end: float) -> None:
        loop = asyncio.get_running_loop()
        ws = await session.ws_connect(f"http://127.0.0.1:{port}/")
        due = loop.time() + FRAME_S * index / connections  # phases spread like real sessions
        done: asyncio.Future[None] = loop.create_future()

        def tick() -> None:
            nonlocal due
            now = loop.time()
            if now >= end or ws.closed:
                if not done.done():
                    done.set_result(None)
                return
            report.lateness_ms.append(max(0.0, now - due) * 1000)
            try:
                send_eagerly(ws, APPEND)
            except Exception as error:  # a dead socket ends this connection, visibly
                report.errors.append(f"send: {error!r}")
                done.set_result(None)
                return
            report.appends += 1
            due += FRAME_S
            loop.call_at(due, tick)

        async def read() -> None:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    base64.b64decode(json.loads(message.data)["delta"])
                    report.deltas += 1

        loop.call_at(due, tick)
        reader = asyncio.ensure_future(read())
        await done
        reader.cancel()  # the server may be silent now: nothing would end the read
        await ws.close()

    async def main() -> None:
        # No connection limit: aiohttp's default of 100 would hold the rest back unseen.
        warmup_s, window_s = window
        report.window.measure(
            warmup_s=warmup_s, window_s=window_s, audio_sent_s=lambda: report.appends * FRAME_S
        )
        async with ClientSession(connector=TCPConnector(limit=0)) as session:
            end = asyncio.get_running_loop().time() + warmup_s + window_s + 1.0
            outcomes = await asyncio.gather(
                *(one(session, i, end) for i in range(connections)), return_exceptions=True
            )
        report.errors += [repr(o) for o in outcomes if isinstance(o, BaseException)]

    with asyncio.Runner(loop_factory=_loop_factory(kind)) as runner:
        runner.run(main())
    conn.send(report)


# ---------------------------------------------------------------- one measurement


@dataclass(frozen=True)
class Measured:
    """CPU of the client and server processes over the window, in cores, and the client's
    counts."""

    client_cores: float
    server_cores: float
    report: _ClientReport


def measure(kind: str, connections: int, warmup_s: float, window_s: float) -> Measured:
    """One run of ``connections`` bare websockets on the ``kind`` loop (asyncio or uvloop)."""

    context = multiprocessing.get_context("spawn")
    server_conn, server_child = context.Pipe()
    client_conn, client_child = context.Pipe()
    server = context.Process(target=_serve, args=(kind, server_child), daemon=True)
    server.start()
    server_child.close()  # ours closed, a child that dies shows as EOF instead of a hang
    client: Any = None
    try:
        port = server_conn.recv()
        client = context.Process(
            target=_client,
            args=(kind, port, connections, (warmup_s, window_s), client_child),
            daemon=True,
        )
        client.start()
        client_child.close()
        client_cores, server_cores = cores_used(
            [client.pid, server.pid], warmup_s=warmup_s, window_s=window_s
        )
        report: _ClientReport = client_conn.recv()
        client.join(timeout=10)
    finally:
        if client is not None and client.is_alive():
            client.kill()
        server_conn.send("stop")
        server.join(timeout=10)
        if server.is_alive():
            server.kill()
    return Measured(client_cores, server_cores, report)


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else float("nan")


def run(quick: bool) -> BenchResult:
    """Both loops at each concurrency, alternating; medians over ``repeats`` pairs."""
    # The window spans whole speaking periods, so every run carries the same traffic.
    levels, warmup_s, window_s, repeats = (
        ((10,), 1.5, 2.0, 1) if quick else ((100, 200), 4.0, 2 * SPEAK_PERIOD_S, 3)
    )
    figures: list[Figure] = []
    notes: list[str] = []
    for connections in levels:
        runs: dict[str, list[Measured]] = {kind: [] for kind in LOOPS}
        for _ in range(repeats):
            for kind in LOOPS:
                runs[kind].append(measure(kind, connections, warmup_s, window_s))
        totals: dict[str, float] = {}
        for kind, measured in runs.items():
            tag = f"{connections} connections, {kind}"
            client = statistics.median(m.client_cores for m in measured)
            server = statistics.median(m.server_cores for m in measured)
            totals[kind] = statistics.median(m.client_cores + m.server_cores for m in measured)
            figures += [
                Figure(
                    name=f"{tag}: client CPU per connection",
                    value=round(client / connections * 100, 3),
                    unit=f"% of a core (median of {repeats})",
                ),
                Figure(
                    name=f"{tag}: server CPU per connection",
                    value=round(server / connections * 100, 3),
                    unit=f"% of a core (median of {repeats})",
                ),
                Figure(
                    name=f"{tag}: send lateness p99",
                    value=round(statistics.median(_p99(m.report.lateness_ms) for m in measured), 2),
                    unit="ms",
                ),
                Figure(
                    name=f"{tag}: appends sent",
                    value=min(m.report.appends for m in measured),
                    unit="frames (fewest of the runs)",
                ),
                Figure(
                    name=f"{tag}: deltas received",
                    value=min(m.report.deltas for m in measured),
                    unit="frames (fewest of the runs)",
                ),
            ]
            for m in measured:
                if m.report.errors:
                    notes.append(f"{tag}: {len(m.report.errors)} errors: {m.report.errors[0]}")
        if totals["asyncio"] > 0:
            figures.append(
                Figure(
                    name=f"{connections} connections: uvloop / asyncio, client + server CPU",
                    value=round(totals["uvloop"] / totals["asyncio"], 3),
                    unit="ratio of medians",
                )
            )
    return BenchResult(
        name="wire",
        description="bare websocket traffic at 20 ms both ways: the floor under density",
        figures=figures,
        notes=notes,
    )


register(Benchmark("wire", "bare websocket traffic at 20 ms both ways (density's floor)", run))
