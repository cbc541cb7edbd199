"""One simulated session's websocket: one reader, one writer, one fate.

The reader is the connection's own task; the writer, the keepalive and every response run in
one ``asyncio.TaskGroup``, so nothing outlives the socket. Outbound events go through a bounded
queue (``SimulatorConfig.outbound_queue_size``) whose policy is to block the producer: a client
that reads slowly slows the simulated model instead of growing memory, and no event is ever
dropped or reordered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from enum import Enum

from aiohttp import WSMsgType, web

from actors.realtime.server_events import KnownServerEvent, Ping, encode_server_event
from actors.simulator.brain import Brain
from actors.simulator.config import SimulatorConfig
from actors.simulator.ids import new_id
from actors.simulator.protocol import SimProtocol
from actors.simulator.voice import VoiceBank

__all__ = ["ConnectionState", "SimConnection"]

logger = logging.getLogger("voxray.simulator")


class ConnectionState(Enum):
    """Where a :class:`SimConnection` is in its life."""

    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class SimConnection:
    """Serves the realtime protocol on one accepted websocket until either side closes."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        config: SimulatorConfig,
        brain: Brain,
        model: str,
        voices: VoiceBank,
        rng: random.Random,
    ) -> None:
        self.name = f"sim-{new_id('conn').removeprefix('conn_')[:8]}"
        self.state = ConnectionState.NEW
        self._ws = ws
        self._config = config
        self._outbound: asyncio.Queue[str] = asyncio.Queue(maxsize=config.outbound_queue_size)
        self._send_failed = False
        self._sent = 0
        self._protocol = SimProtocol(
            emit=self._emit,
            config=config,
            brain=brain,
            model=model,
            voices=voices,
            rng=rng,
            name=self.name,
        )

    @property
    def protocol(self) -> SimProtocol:
        """The session behind this socket."""
        return self._protocol

    def statistics(self) -> dict[str, int]:
        """Outbound counters: events sent and waiting."""
        return {"sent": self._sent, "queued": self._outbound.qsize()}

    async def serve(self) -> None:
        """Greet, then read frames until the socket closes; returns when everything stopped."""
        self.state = ConnectionState.OPEN
        try:
            async with asyncio.TaskGroup() as tasks:
                writer = tasks.create_task(self._write(), name=f"{self.name}-send")
                keepalive = None
                if self._config.ping_interval_s is not None:
                    keepalive = tasks.create_task(self._ping(), name=f"{self.name}-ping")
                try:
                    await self._protocol.open(tasks)
                    await self._read()
                finally:
                    # The socket is gone: nothing left to flush, so stop everything at once.
                    self._protocol.abort()
                    writer.cancel()
                    if keepalive is not None:
                        keepalive.cancel()
        finally:
            self.state = ConnectionState.CLOSED
            logger.debug("%s: closed after %d events", self.name, self._sent)

    async def aclose(self) -> None:
        """Close the socket (idempotent); :meth:`serve` then returns."""
        with contextlib.suppress(Exception):
            await self._ws.close(code=1001, message=b"simulator shutting down")

    async def _emit(self, event: KnownServerEvent) -> None:
        if self._send_failed:
            return
        event.event_id = new_id("event")
        await self._outbound.put(encode_server_event(event))

    async def _read(self) -> None:
        ws = self._ws
        while True:
            msg = await ws.receive()
            match msg.type:
                case WSMsgType.TEXT:
                    await self._protocol.on_text(msg.data)
                case WSMsgType.BINARY:
                    await self._protocol.on_binary(msg.data)
                case WSMsgType.CLOSE | WSMsgType.CLOSING | WSMsgType.CLOSED:
                    return
                case WSMsgType.ERROR:
                    logger.info("%s: websocket error: %s", self.name, ws.exception())
                    return
                case WSMsgType.PING | WSMsgType.PONG | WSMsgType.CONTINUATION:
                    # aiohttp answers pings itself (autoping) and reassembles fragments.
                    continue

    async def _write(self) -> None:
        while True:
            payload = await self._outbound.get()
            if self._send_failed:
                continue  # keep draining so producers never block on a dead socket
            try:
                await self._ws.send_str(payload)
                self._sent += 1
            except (ConnectionError, RuntimeError) as exc:
                # The peer vanished mid-send; the reader sees the close and ends the session.
                logger.debug("%s: send failed: %s", self.name, exc)
                self._send_failed = True
                with contextlib.suppress(Exception):
                    await self._ws.close()

    async def _ping(self) -> None:
        interval = self._config.ping_interval_s
        assert interval is not None
        while True:
            await asyncio.sleep(interval)
            await self._emit(Ping(timestamp=int(time.time() * 1000)))
