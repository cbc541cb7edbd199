"""Calls: admission, a conversation per call hosted in this process, drain, and call records.

The conversation of a call runs in the gateway's own process, next to the caller's socket, so
caller audio never crosses a process boundary (no Ray call per 20 ms frame). The ingress that
took the call drives it (audio in, events out) and ends it; :class:`Calls` counts it, bounds
it, ends it at a drain's deadline, and appends its record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Literal

import numpy as np
from voxray.actors.audio.wav import write_wav
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.engine import Conversation
from voxray.actors.conversation.live import LiveConversation, LiveSessionRequest
from voxray.actors.conversation.result import Recording, SessionResult
from voxray.actors.errors import VoxrayError
from voxray.actors.gateway.admission import Admitter, CallRefused, RefusalCause
from voxray.actors.gateway.agents import HostedAgent
from voxray.actors.gateway.metrics import GatewayMetrics
from voxray.actors.gateway.records import CallRecord, CallRecordWriter
from voxray.actors.gateway.settings import GatewaySettings
from voxray.actors.gateway.tracker import CallTracker
from voxray.actors.tools.executor import ToolBackend

__all__ = ["Call", "Calls", "CallsState", "DrainOutcome", "EndpointSource"]

logger = logging.getLogger("voxray.gateway")

EndpointSource = Callable[[HostedAgent], ProviderEndpoint]
"""Where an agent's sessions connect (the xAI endpoint with the key, or a simulator token)."""


class CallsState(Enum):
    """Whether the gateway takes calls."""

    RUNNING = "running"
    DRAINING = "draining"
    STOPPED = "stopped"


class Call:
    """One caller's call: its conversation, its tracker, and how it ends.

    The ingress drives ``conversation`` and watches :attr:`stop_requested`; when it is set
    (drain deadline, maximum duration) the ingress hangs up and calls :meth:`end`.
    """

    def __init__(
        self,
        calls: Calls,
        *,
        call_id: str,
        ingress: str,
        agent: HostedAgent,
        caller: str,
        called: str | None,
        arrived: float,
        live: LiveConversation,
        slot: object,
    ) -> None:
        self.call_id = call_id
        self.ingress = ingress
        self.agent = agent
        self.caller = caller
        self.called = called
        self.live = live
        self.tracker = CallTracker(
            calls.metrics,
            ingress=ingress,
            agent=agent.name,
            tools=frozenset(tool.name for tool in live.request.agent.tools),
        )
        self.stop_requested = asyncio.Event()
        self.stop_reason = "hangup"
        self.max_duration: asyncio.TimerHandle | None = None
        self._calls = calls
        self._arrived = arrived
        self._started_at = datetime.now(UTC)
        self._slot = slot
        self._first_audio_ms: float | None = None
        self._record: CallRecord | None = None
        live.conversation.add_listener(self.tracker.on_event)

    @property
    def conversation(self) -> Conversation:
        """The conversation engine of this call."""
        return self.live.conversation

    @property
    def ended(self) -> bool:
        """Whether :meth:`end` ran."""
        return self._record is not None

    def first_audio_sent(self) -> None:
        """The ingress sent the caller the agent's first audio (measured once)."""
        if self._first_audio_ms is None:
            elapsed = time.monotonic() - self._arrived
            self._first_audio_ms = round(elapsed * 1000, 1)
            self._calls.metrics.first_audio.labels(self.ingress, self.agent.name).observe(elapsed)

    def request_stop(self, reason: str) -> None:
        """Ask the ingress to hang up (drain deadline, maximum duration)."""
        if not self.stop_requested.is_set():
            self.stop_reason = reason
            self.stop_requested.set()

    async def wait_until_over(self) -> bool:
        """Wait until the gateway asks to hang up or the session closes on its own; whether
        the gateway asked (then :attr:`stop_reason` says why)."""
        stop = asyncio.ensure_future(self.stop_requested.wait())
        closed = asyncio.ensure_future(self.conversation.wait_closed())
        try:
            await asyncio.wait({stop, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            closed.cancel()
        return self.stop_requested.is_set()

    async def end(self, reason: str | None = None) -> CallRecord:
        """Close the conversation, free the slot, append the record. Idempotent."""
        if self._record is not None:
            return self._record
        result = await self.live.aclose()
        record = self._build_record(result, reason or self.stop_reason)
        recordings = self._calls.settings.recordings_dir
        if recordings is not None and result.recording is not None:
            path = Path(recordings) / f"{self.call_id}.wav"
            try:
                await asyncio.to_thread(_write_recording, path, result.recording)
                record = record.model_copy(update={"recording": str(path)})
            except VoxrayError as error:  # AudioError: the file could not be written
                logger.error("call %s: writing its recording failed: %s", self.call_id, error)
        self._record = record
        await self._calls._finished(self, record, self._slot)
        return record

    def _build_record(self, result: SessionResult, reason: str) -> CallRecord:
        failure = self.conversation.failure
        status: Literal["completed", "failed"] = "failed" if failure is not None else "completed"
        return CallRecord(
            call_id=self.call_id,
            ingress=self.ingress,
            agent=self.agent.name,
            caller=self.caller,
            called=self.called,
            started_at=self._started_at.isoformat(timespec="milliseconds"),
            duration_s=round(time.monotonic() - self._arrived, 3),
            status=status,
            end_reason="error" if failure is not None else reason,
            error=failure.message if failure is not None else None,
            first_agent_audio_ms=self._first_audio_ms,
            transcript=tuple(self.tracker.transcript),
            turns=self.tracker.turns(),
            tool_calls=result.tool_calls,
            barge_ins=self.tracker.barge_ins,
            dtmf=tuple(self.tracker.dtmf),
            usage=result.usage,
            audio_in_min=result.metrics.audio_in_min,
            audio_out_min=result.metrics.audio_out_min,
            cost_usd=result.metrics.cost_estimate_usd,
        )


def _write_recording(path: Path, recording: Recording) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = np.frombuffer(recording.pcm, dtype="<i2")
    write_wav(path, samples, recording.rate, channels=2)


class DrainOutcome:
    """What a drain did."""

    def __init__(self, finished: int, stopped: int, elapsed_s: float) -> None:
        self.finished = finished
        self.stopped = stopped
        self.elapsed_s = elapsed_s


class Calls:
    """Every call of one gateway.

    Args:
        settings: caps and bounds.
        endpoints: where an agent's sessions connect.
        tools: where function calls run (the tool pool, or in-process in tests).
        tuning: the engine's knobs.
        admitter: the slot beyond this gateway's own cap (the supervisor's, on Ray).
        metrics: the gateway's figures.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        endpoints: EndpointSource,
        tools: ToolBackend,
        tuning: EngineTuning,
        admitter: Admitter,
        metrics: GatewayMetrics,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.state = CallsState.RUNNING
        self.records = CallRecordWriter(settings.records_path)
        self._endpoints = endpoints
        self._tools = tools
        self._tuning = tuning
        self._admitter = admitter
        self._live: dict[str, Call] = {}
        self._opening = 0
        self._changed = asyncio.Event()
        self.total = 0
        self.refused = 0
        self._stopped_by_drain = 0

    @property
    def live(self) -> int:
        """Calls in progress."""
        return len(self._live)

    def calls(self) -> list[Call]:
        """The calls in progress."""
        return list(self._live.values())

    def endpoint_for(self, agent: HostedAgent) -> ProviderEndpoint:
        """Where ``agent``'s sessions connect (the SIP ingress adds the call id to it)."""
        return self._endpoints(agent)

    def refuse(self, ingress: str, cause: RefusalCause, message: str) -> CallRefused:
        """Count and log a refusal; returns the error for the ingress to answer with."""
        self.refused += 1
        self.metrics.refusals.labels(ingress, cause).inc()
        logger.warning("%s: refused (%s): %s", ingress, cause, message)
        return CallRefused(cause, message)

    async def open(
        self,
        *,
        ingress: str,
        agent: HostedAgent,
        caller: str,
        called: str | None = None,
        arrived: float | None = None,
        endpoint: ProviderEndpoint | None = None,
        config: AgentConfig | None = None,
        greet: bool = True,
        call_id: str | None = None,
        admitted: Callable[[], None] | None = None,
    ) -> Call:
        """Admit a call and open its conversation (returns once ``session.updated`` arrived).

        ``endpoint`` overrides where the session connects (the SIP ingress joins a call id);
        ``config`` overrides the agent's session configuration (a phone ingress sets G.711
        audio); with ``greet`` the agent's greeting is said first. ``call_id`` names the call
        in its record (the SIP ingress uses the provider's; default: a fresh id).
        ``admitted`` is called once the call holds its slot, before its session connects (the
        SIP ingress answers its webhook then: the provider must not wait for the connect).

        Raises:
            CallRefused: draining, over a cap, or the provider could not be reached.
        """
        arrived = time.monotonic() if arrived is None else arrived
        if self.state is not CallsState.RUNNING:
            raise self.refuse(ingress, "draining", "the gateway is draining: call back later")
        if len(self._live) + self._opening >= self.settings.max_calls:
            raise self.refuse(
                ingress, "capacity", f"the gateway holds its {self.settings.max_calls} calls"
            )
        self._opening += 1
        try:
            try:
                slot = await self._admitter.claim()
            except CallRefused as refused:
                raise self.refuse(ingress, refused.cause, refused.message) from None
            if admitted is not None:
                admitted()
            call_id = call_id or f"call-{uuid.uuid4().hex[:12]}"
            endpoint = endpoint or self._endpoints(agent)
            request = LiveSessionRequest(
                session_id=call_id,
                agent=config or agent.agent,
                endpoint=endpoint,
                tuning=self._tuning,
                # The ingress listens to the conversation directly; this buffer is for
                # `events()`, which nobody iterates here: keep it from holding audio.
                event_buffer=16,
                # A session attached to a SIP call (by call id) carries no audio: the phone
                # network and xAI exchange it directly, so there is nothing to record (an
                # empty file would pass for a silent call).
                record=self.settings.recordings_dir is not None and endpoint.call_id is None,
            )
            live = LiveConversation(request, self._tools)
            try:
                await live.start()
            except VoxrayError as error:
                await live.aclose()
                await self._admitter.release(slot)
                raise self.refuse(
                    ingress, "connect_failed", f"the agent's session did not open: {error.message}"
                ) from error
            except BaseException:
                await live.aclose()
                await self._admitter.release(slot)
                raise
        finally:
            self._opening -= 1
        if self.state is not CallsState.RUNNING:  # a drain began while it connected
            await live.aclose()
            await self._admitter.release(slot)
            raise self.refuse(ingress, "draining", "the gateway is draining: call back later")
        call = Call(
            self,
            call_id=call_id,
            ingress=ingress,
            agent=agent,
            caller=caller,
            called=called,
            arrived=arrived,
            live=live,
            slot=slot,
        )
        self._live[call_id] = call
        self.total += 1
        self.metrics.calls_total.labels(ingress, agent.name).inc()
        self.metrics.calls_live.labels(ingress, agent.name).inc()
        self.metrics.sessions_per_node.labels(self.metrics.node_id).set(len(self._live))
        call.max_duration = asyncio.get_running_loop().call_later(
            self.settings.max_call_s, call.request_stop, "max duration"
        )
        if greet and agent.greeting:
            live.say(agent.greeting)
        return call

    async def drain(self, deadline_s: float | None = None) -> DrainOutcome:
        """Take no new calls; let live ones run until ``deadline_s``; then end them cleanly."""
        deadline_s = self.settings.drain_deadline_s if deadline_s is None else deadline_s
        started = time.monotonic()
        if self.state is CallsState.RUNNING:
            self.state = CallsState.DRAINING
            self.metrics.draining.set(1)
        at_start = len(self._live)
        await self._wait_until_empty(started + deadline_s)
        remaining = [call for call in self._live.values() if not call.stop_requested.is_set()]
        for call in remaining:
            call.request_stop("drain deadline")
        self._stopped_by_drain += len(remaining)
        # The ingress hangs up and ends each call; a stuck one is ended here.
        await self._wait_until_empty(time.monotonic() + 10.0)
        for call in list(self._live.values()):
            with contextlib.suppress(Exception):
                await call.end("drain deadline")
        self.state = CallsState.STOPPED
        # Counted over every drain: a second one (no deadline) may have ended them.
        stopped = min(at_start, self._stopped_by_drain)
        return DrainOutcome(
            finished=at_start - stopped,
            stopped=stopped,
            elapsed_s=round(time.monotonic() - started, 3),
        )

    async def _finished(self, call: Call, record: CallRecord, slot: object) -> None:
        if self._live.pop(call.call_id, None) is None:
            return
        if call.max_duration is not None:
            call.max_duration.cancel()  # or the loop holds the ended call for hours
        self.metrics.calls_live.labels(call.ingress, call.agent.name).dec()
        self.metrics.calls_ended.labels(call.ingress, call.agent.name, record.status).inc()
        self.metrics.sessions_per_node.labels(self.metrics.node_id).set(len(self._live))
        self._changed.set()
        with contextlib.suppress(Exception):
            await self._admitter.release(slot)
        try:
            await self.records.append(record)
        except OSError as error:
            logger.error("call %s: writing its record failed: %s", call.call_id, error)

    async def _wait_until_empty(self, deadline: float) -> None:
        while self._live:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=remaining)
