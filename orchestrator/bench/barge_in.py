"""``voxray bench barge-in``: from ``speech_started`` to playback cleared and cancel sent.

A scripted websocket server in the same process (so one clock measures both ends) makes the
agent speak — a response with a second of audio — then sends ``speech_started``, and times
how long the client takes to clear its playback and have ``response.cancel`` (and the
``conversation.item.truncate`` that follows it) arrive back over the socket. Both event loops
and the socket are inside the figure, not just the handler. Target: p99 < 5 ms.
"""

from __future__ import annotations

import asyncio
import base64
import time

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.engine import Conversation
from voxray.actors.conversation.events import ConversationEvent, Interrupted
from voxray.actors.realtime.client_events import parse_client_event
from voxray.actors.realtime.items import ServerItem
from voxray.actors.realtime.server_events import (
    InputAudioBufferSpeechStarted,
    ResponseCreated,
    ResponseOutputAudioDelta,
    ResponseOutputItemAdded,
    ServerEvent,
    SessionUpdated,
    encode_server_event,
)
from voxray.actors.realtime.server_payloads import ResponseInfo
from voxray.actors.realtime.session_params import SessionState
from voxray.actors.tools.executor import ToolExecutor
from voxray.actors.tools.inprocess import InProcessToolBackend
from voxray.bench.registry import Benchmark, BenchResult, Figure, percentile, register

__all__ = ["run"]

_AUDIO_CHUNK = base64.b64encode(bytes(24_000 * 2 // 25)).decode("ascii")  # 40 ms at 24 kHz


class _ScriptedServer:
    """Just enough of the protocol to make an agent speak and be interrupted, on demand."""

    def __init__(self) -> None:
        self.socket: web.WebSocketResponse | None = None
        self.connected = asyncio.Event()
        self.cancel_arrived = asyncio.Event()
        self.truncate_arrived = asyncio.Event()
        self.cancel_at = 0.0
        self.truncate_at = 0.0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.socket = socket
        async for message in socket:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            event = parse_client_event(message.data)
            if event.type == "session.update":
                await self.send(SessionUpdated(event_id="e0", session=SessionState()))
                self.connected.set()
            elif event.type == "response.cancel":
                self.cancel_at = time.perf_counter()
                self.cancel_arrived.set()
            elif event.type in ("conversation.item.truncate", "conversation.item.delete"):
                self.truncate_at = time.perf_counter()
                self.truncate_arrived.set()
        return socket

    async def send(self, event: ServerEvent) -> None:
        assert self.socket is not None
        await self.socket.send_str(encode_server_event(event))


async def _measure(rounds: int) -> tuple[list[float], list[float], list[float]]:
    server = _ScriptedServer()
    app = web.Application()
    app.router.add_get("/v1/realtime", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    cleared: list[float] = []
    conversation = Conversation(
        AgentConfig(),
        ProviderEndpoint(url=f"ws://127.0.0.1:{port}/v1/realtime", api_key=SecretStr("bench")),
        EngineTuning(),
        ToolExecutor((), InProcessToolBackend()),
        session_id="bench",
    )

    def on_event(event: ConversationEvent) -> None:
        if isinstance(event, Interrupted):
            cleared.append(time.perf_counter())

    conversation.add_listener(on_event)
    to_clear: list[float] = []
    to_cancel: list[float] = []
    to_truncate: list[float] = []
    try:
        await conversation.start()
        for index in range(rounds):
            response = f"resp_{index}"
            item = f"item_{index}"
            server.cancel_arrived.clear()
            server.truncate_arrived.clear()
            await server.send(
                ResponseCreated(event_id=f"c{index}", response=ResponseInfo(id=response))
            )
            await server.send(
                ResponseOutputItemAdded(
                    event_id=f"a{index}",
                    response_id=response,
                    output_index=0,
                    item=ServerItem(id=item, type="message", role="assistant"),
                )
            )
            for chunk in range(25):  # one second of agent audio, queued for playback
                await server.send(
                    ResponseOutputAudioDelta(
                        event_id=f"d{index}-{chunk}",
                        response_id=response,
                        item_id=item,
                        output_index=0,
                        content_index=0,
                        delta=_AUDIO_CHUNK,
                    )
                )
            await asyncio.sleep(0.02)  # the client has scheduled the audio; it is speaking
            started = time.perf_counter()
            await server.send(
                InputAudioBufferSpeechStarted(event_id=f"s{index}", item_id=f"user_{index}")
            )
            await asyncio.wait_for(server.cancel_arrived.wait(), timeout=5)
            await asyncio.wait_for(server.truncate_arrived.wait(), timeout=5)
            to_clear.append((cleared[-1] - started) * 1000)
            to_cancel.append((server.cancel_at - started) * 1000)
            to_truncate.append((server.truncate_at - started) * 1000)
    finally:
        await conversation.aclose()
        await runner.cleanup()
    return to_clear, to_cancel, to_truncate


def run(quick: bool) -> BenchResult:
    """Measure barge-in reaction over many rounds on one connection."""
    rounds = 30 if quick else 300
    to_clear, to_cancel, to_truncate = asyncio.run(_measure(rounds))
    p99_cancel = percentile(to_cancel, 0.99)
    return BenchResult(
        name="barge-in",
        description=f"speech_started -> playback cleared / cancel at the server, {rounds} rounds",
        figures=[
            Figure(name="playback cleared, p50", value=percentile(to_clear, 0.5), unit="ms"),
            Figure(name="playback cleared, p99", value=percentile(to_clear, 0.99), unit="ms"),
            Figure(
                name="response.cancel received, p50", value=percentile(to_cancel, 0.5), unit="ms"
            ),
            Figure(
                name="response.cancel received, p99",
                value=p99_cancel,
                unit="ms",
                target="< 5",
                met=p99_cancel < 5,
            ),
            Figure(name="truncate received, p99", value=percentile(to_truncate, 0.99), unit="ms"),
        ],
    )


register(Benchmark("barge-in", "barge-in reaction: speech_started -> cancel sent", run))
