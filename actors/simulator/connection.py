"""One simulated session's websocket: one reader, one writer, one fate.

The reader is the connection's own task; the writer, the keepalive, the session timers, fault
timers and every response run in one ``asyncio.TaskGroup``, so nothing outlives the socket.
Outbound frames go through a bounded queue (``SimulatorConfig.outbound_queue_size``) whose
policy is to block the producer: a client that reads slowly slows the simulated model instead
of growing memory, and no event is ever dropped or reordered. Faults act in the writer, in
order with the events around them (:mod:`voxray.actors.simulator.fault_runner`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from aiohttp import WSMsgType, web
from voxray.actors.realtime.eager_send import EagerWriter
from voxray.actors.realtime.server_events import (
    ErrorDetail,
    ErrorEvent,
    KnownServerEvent,
    Ping,
    encode_server_event,
)
from voxray.actors.simulator.context import ServerContext, SessionSetup
from voxray.actors.simulator.fault_runner import FaultRunner
from voxray.actors.simulator.faults import (
    CloseFault,
    DropFault,
    ErrorFault,
    FaultAction,
    FaultPlan,
    MalformedFault,
    StallFault,
    UnknownEventFault,
)
from voxray.actors.simulator.frame_log import FrameLog
from voxray.actors.simulator.ids import new_id
from voxray.actors.simulator.protocol import SimProtocol
from voxray.actors.simulator.quirks import apply_quirks
from voxray.actors.simulator.sip_line import CallerAudio, Dtmf, HangUp, SipLine

__all__ = ["ConnectionState", "SimConnection"]

logger = logging.getLogger("voxray.simulator")

_ERROR_MESSAGES = {
    "invalid_request_error": "Invalid request (injected fault).",
    "invalid_event": "Unsupported event (injected fault).",
    "internal_error": "Internal server error (injected fault).",
    "timeout": "Inactivity timeout: the session was closed.",
    "max_duration": "The session exceeded its maximum duration and was closed.",
}


class ConnectionState(Enum):
    """Where a :class:`SimConnection` is in its life."""

    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class _Frame:
    type: str
    data: str | bytes


@dataclass(frozen=True)
class _Command:
    action: FaultAction


class SimConnection:
    """Serves the realtime protocol on one accepted websocket until either side closes.

    ``drop`` resets the TCP connection without a close frame (the ``drop`` fault);
    ``frame_log``, when given, keeps every client frame (tests assert on it).
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        context: ServerContext,
        setup: SessionSetup,
        rng: random.Random,
        drop: Callable[[], None],
        frame_log: FrameLog | None = None,
    ) -> None:
        self.name = f"sim-{new_id('conn').removeprefix('conn_')[:8]}"
        self.state = ConnectionState.NEW
        self.setup = setup
        self._ws = ws
        self._config = context.config
        self._drop = drop
        self.frame_log = frame_log
        """What the client sent, when the simulator records frames (else None)."""
        self._outbound: asyncio.Queue[_Frame | _Command] = asyncio.Queue(
            maxsize=context.config.outbound_queue_size
        )
        self._send_failed = False
        self._sent = 0
        self._eager_allowed = False  # frames may be written without the writer (see _enqueue)
        self._eager = EagerWriter()
        self._last_client_frame = time.monotonic()
        self._faults = FaultRunner(self._queue_fault)
        self._protocol = SimProtocol(
            outbox=self, context=context, setup=setup, rng=rng, name=self.name
        )

    @property
    def protocol(self) -> SimProtocol:
        """The session behind this socket."""
        return self._protocol

    def statistics(self) -> dict[str, int]:
        """Outbound counters: frames sent and waiting."""
        return {"sent": self._sent, "queued": self._outbound.qsize()}

    async def serve(self) -> None:
        """Greet, then read frames until the socket closes; returns when everything stopped."""
        self.state = ConnectionState.OPEN
        try:
            async with asyncio.TaskGroup() as tasks:
                background = [tasks.create_task(self._write(), name=f"{self.name}-send")]
                if self._config.ping_interval_s is not None:
                    background.append(tasks.create_task(self._ping(), name=f"{self.name}-ping"))
                inactivity = self._limit("inactivity_timeout_s")
                if inactivity is not None:
                    background.append(
                        tasks.create_task(
                            self._watch_inactivity(inactivity), name=f"{self.name}-idle"
                        )
                    )
                self._faults.start(tasks)
                try:
                    await self._protocol.open(tasks)
                    await self._arm_plans()
                    # Fault triggers count events from the greeting on: until they are armed,
                    # the greeting waits in the queue rather than being written at once.
                    self._eager_allowed = True
                    if self.setup.call is not None:
                        background.append(
                            tasks.create_task(
                                self._phone_line(self.setup.call), name=f"{self.name}-phone"
                            )
                        )
                    await self._read()
                finally:
                    # The socket is gone: nothing left to flush, so stop everything at once.
                    self._protocol.abort()
                    for task in background:
                        task.cancel()
                    self._faults.stop()
        finally:
            self.state = ConnectionState.CLOSED
            if self.frame_log is not None:
                self.frame_log.close()
            self._protocol.closed()
            if self.setup.call is not None:
                self.setup.call.end("the agent hung up")  # unless the caller did first
            logger.debug("%s: closed after %d frames", self.name, self._sent)

    async def _phone_line(self, line: SipLine) -> None:
        """SIP: what the caller sends goes into the model; the caller hanging up closes the
        socket normally (1000), which is how the attached session learns the call ended."""
        while True:
            item = await line.from_caller()
            match item:
                case CallerAudio(mulaw=mulaw):
                    self._last_client_frame = time.monotonic()  # a live call is not idle
                    await self._protocol.caller_audio(mulaw)
                case Dtmf(digit=digit):
                    await self._protocol.dtmf(digit)
                case HangUp():
                    line.end("the caller hung up")
                    await self.aclose(1000, "call ended")
                    return

    async def aclose(self, code: int = 1001, reason: str = "simulator shutting down") -> None:
        """Close the socket (idempotent); :meth:`serve` then returns."""
        with contextlib.suppress(Exception):
            await self._ws.close(code=code, message=reason.encode())

    async def inject(self, fault: FaultAction | FaultPlan) -> None:
        """Arm a fault (or a plan's actions, quirks and limits) on this open session."""
        if isinstance(fault, FaultPlan):
            await self._arm_plan(fault, ordinal=1)
        else:
            await self._faults.arm(fault)

    # ------------------------------------------------------------------ outbox

    async def send(self, event: KnownServerEvent) -> None:
        """Queue one server event (an ``event_id`` is assigned here)."""
        if self._send_failed:
            return
        event.event_id = new_id("event")
        payload = encode_server_event(event)
        if self._faults.quirks:
            for frame in apply_quirks(self._faults.quirks, payload):
                await self._outbound.put(_Frame(event.type, frame))
            return
        await self._enqueue(_Frame(event.type, payload))

    async def send_rendered(self, event_type: str, render: Callable[[str], str]) -> None:
        """Queue a pre-rendered event; ``render(event_id)`` is its JSON text."""
        if self._send_failed:
            return
        payload = render(new_id("event"))
        if self._faults.quirks:
            for frame in apply_quirks(self._faults.quirks, payload):
                await self._outbound.put(_Frame(event_type, frame))
            return
        await self._enqueue(_Frame(event_type, payload))

    async def send_binary(self, event_type: str, data: bytes) -> None:
        """Queue a binary frame."""
        if not self._send_failed:
            await self._enqueue(_Frame(event_type, data))

    async def _enqueue(self, frame: _Frame) -> None:
        # With nothing queued, the writer idle and no delay fault holding events, the frame is
        # written at once (see voxray.actors.realtime.eager_send): no task switch per audio delta.
        if (
            self._eager_allowed
            and self._outbound.empty()
            and not self._eager.busy
            and not self._faults.holds_events
            and self._write_now(frame)
        ):
            return
        await self._outbound.put(frame)

    def _write_now(self, frame: _Frame) -> bool:
        """Write a frame without the writer task; False if it must go through the writer."""
        try:
            self._eager.write_now(self._ws, frame.data)
        except (ConnectionError, RuntimeError):
            return False  # not written: the writer meets the same error and handles it
        self._sent += 1
        for action in self._faults.observe(frame.type):
            self._outbound.put_nowait(_Command(action))  # the queue was empty: room enough
        return True

    # ------------------------------------------------------------------ faults and limits

    def _limit(self, name: str) -> float | None:
        """A session limit: the script's plan, else a global plan, else the config."""
        for plan, _ in self.setup.faults:
            value: float | None = getattr(plan, name)
            if value is not None:
                return value
        config_value: float | None = getattr(self._config, name)
        return config_value

    async def _arm_plans(self) -> None:
        for plan, ordinal in self.setup.faults:
            await self._arm_plan(plan, ordinal, limits=False)
        max_duration = self._limit("max_duration_s")
        if max_duration is not None:
            await self._faults.arm(_max_duration(max_duration))

    async def _arm_plan(self, plan: FaultPlan, ordinal: int, *, limits: bool = True) -> None:
        self._faults.quirks.update(plan.quirks)
        for action in plan.actions_for(ordinal):
            await self._faults.arm(action)
        if limits and plan.max_duration_s is not None:
            await self._faults.arm(_max_duration(plan.max_duration_s))

    async def _queue_fault(self, action: FaultAction) -> None:
        await self._outbound.put(_Command(action))

    async def _execute(self, action: FaultAction) -> None:
        """Carry out a fault in the writer (so it keeps its place among the events)."""
        logger.info("%s: injecting fault %s", self.name, action.do)
        if self._faults.enable(action):
            return
        match action:
            case DropFault():
                self._send_failed = True
                self._drop()
            case CloseFault(code=code, reason=reason):
                self._send_failed = True
                await self.aclose(code, reason)
            case ErrorFault():
                await self._send_now(self._error_frame(action))
                if action.closes:
                    self._send_failed = True
                    await self.aclose(action.close_code, action.type)
            case StallFault(seconds=seconds):
                await asyncio.sleep(seconds)
            case MalformedFault(text=text):
                await self._send_now(text)
            case UnknownEventFault(type=kind, fields=fields):
                frame = {**fields, "type": kind, "event_id": new_id("event")}
                await self._send_now(json.dumps(frame, separators=(",", ":")))
            case _:  # delay and quirks were enabled above
                pass

    @staticmethod
    def _error_frame(fault: ErrorFault) -> str:
        detail = ErrorDetail(
            type=fault.type,
            code=fault.code or fault.type,
            message=fault.message or _ERROR_MESSAGES[fault.type],
            param=None,
            event_id=None,
        )
        return encode_server_event(ErrorEvent(event_id=new_id("event"), error=detail))

    async def _watch_inactivity(self, timeout_s: float) -> None:
        while True:
            remaining = self._last_client_frame + timeout_s - time.monotonic()
            if remaining <= 0:
                fault = ErrorFault(
                    type="timeout",
                    code="inactivity_timeout",
                    message=f"Inactivity timeout: no client event for {timeout_s:g} s.",
                )
                await self._queue_fault(fault)
                return
            await asyncio.sleep(remaining)

    # ------------------------------------------------------------------ socket

    async def _read(self) -> None:
        ws = self._ws
        log = self.frame_log
        while True:
            msg = await ws.receive()
            match msg.type:
                case WSMsgType.TEXT:
                    self._last_client_frame = time.monotonic()
                    if log is not None:
                        log.text(msg.data)
                    await self._protocol.on_text(msg.data)
                case WSMsgType.BINARY:
                    self._last_client_frame = time.monotonic()
                    if log is not None:
                        log.binary(msg.data)
                    await self._protocol.on_binary(msg.data)
                case WSMsgType.CLOSE | WSMsgType.CLOSING | WSMsgType.CLOSED:
                    return
                case WSMsgType.ERROR:
                    logger.info("%s: websocket error: %s", self.name, ws.exception())
                    return
                case WSMsgType.PING | WSMsgType.PONG | WSMsgType.CONTINUATION:
                    # aiohttp answers pings itself (autoping) and reassembles fragments.
                    continue

    async def _send_now(self, data: str | bytes) -> None:
        if self._send_failed:
            return
        try:
            if isinstance(data, str):
                await self._ws.send_str(data)
            else:
                await self._ws.send_bytes(data)
            self._sent += 1
        except (ConnectionError, RuntimeError) as exc:
            # The peer vanished mid-send; the reader sees the close and ends the session.
            logger.debug("%s: send failed: %s", self.name, exc)
            self._send_failed = True
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def _write(self) -> None:
        faults = self._faults
        while True:
            self._eager.waiting_for_frames(queue_empty=self._outbound.empty())
            item = await self._outbound.get()
            await self._eager.ready_to_send()
            if isinstance(item, _Command):
                if not self._send_failed:
                    await self._execute(item.action)
                continue
            if self._send_failed:
                continue  # keep draining so producers never block on a dead socket
            delay_s = faults.delay_s(item.type)
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            await self._send_now(item.data)
            for action in faults.observe(item.type):
                if not self._send_failed:
                    await self._execute(action)

    async def _ping(self) -> None:
        interval = self._config.ping_interval_s
        assert interval is not None
        while True:
            await asyncio.sleep(interval)
            await self.send(Ping(timestamp=int(time.time() * 1000)))


def _max_duration(seconds: float) -> ErrorFault:
    message = f"Maximum session duration of {seconds:g} s exceeded: the session was closed."
    return ErrorFault(type="max_duration", after_s=seconds, message=message)
