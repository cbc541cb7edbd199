"""The websocket transport's send path: frames written at once, in order, and under congestion."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import WSMsgType, web
from pydantic import SecretStr
from voxray.actors.conversation.endpoint import ProviderEndpoint
from voxray.actors.realtime.transport import Inbound, RealtimeTransport

from tests.local_websocket import serve_websocket

FRAMES = 400
PAYLOAD = "A" * 65_536  # 400 x 64 KiB: far more than the socket buffers hold


@dataclass
class Peer:
    """A server that reads nothing until ``reading`` is set, then records every frame."""

    url: str = ""
    reading: asyncio.Event = field(default_factory=asyncio.Event)
    received: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    state = Peer()

    async def handle(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(max_msg_size=1 << 20)
        await socket.prepare(request)
        await state.reading.wait()
        async for message in socket:
            if message.type is WSMsgType.TEXT:
                state.received.append(message.data)
                state.changed.set()
        return socket

    async with serve_websocket(handle) as url:
        state.url = url
        yield state


async def _open(url: str, events: list[Inbound]) -> RealtimeTransport:
    transport = RealtimeTransport(
        ProviderEndpoint(url=url, api_key=SecretStr("k")),
        "grok-test",
        name="transport-test",
        connect_timeout_s=5.0,
        max_queued_audio=8,
        on_event=events.append,
    )
    await transport.connect()
    return transport


async def _received(peer: Peer, count: int) -> list[int]:
    while len(peer.received) < count:
        peer.changed.clear()
        await asyncio.wait_for(peer.changed.wait(), timeout=20)
    return [int(json.loads(text)["audio"][:6]) for text in peer.received]


async def test_frames_arrive_in_order_and_a_congested_socket_drops_the_oldest_audio(
    peer: Peer,
) -> None:
    transport = await _open(peer.url, [])
    try:
        for index in range(FRAMES):  # no await in between: the peer reads nothing meanwhile
            transport.send_audio_nowait(f"{index:06d}{PAYLOAD}")
        backlog = transport.statistics()
        peer.reading.set()
        assert backlog.dropped_audio > 0, "the socket never pushed back"
        assert backlog.queued_audio <= 8
        expected = FRAMES - backlog.dropped_audio
        indices = await _received(peer, expected)
    finally:
        await transport.aclose()
    assert indices == sorted(indices), "frames were reordered"
    assert len(set(indices)) == expected
    assert indices[0] == 0 and indices[-1] == FRAMES - 1, "the newest audio is kept"
    assert transport.statistics().sent == expected


async def test_frames_on_an_idle_socket_are_written_at_once(peer: Peer) -> None:
    peer.reading.set()
    transport = await _open(peer.url, [])
    try:
        for index in range(3):
            transport.send_audio_nowait(f"{index:06d}")
            # Written without the writer task: nothing waits in the queue, even before any
            # other task has run.
            assert transport.statistics().queued == 0
        assert await _received(peer, 3) == [0, 1, 2]
    finally:
        await transport.aclose()
