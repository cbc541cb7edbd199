"""Response state of one conversation: the one-active-response rule and what each produced.

The realtime API allows one active response at a time; a second ``response.create`` is an
error. The tracker counts a response as active from the moment the client asks for it (or the
server starts one on its own, as server VAD does) until its ``response.done``, and queues any
request made meanwhile so it is sent exactly once, afterwards.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from voxray.actors.errors import ProviderError
from voxray.actors.tools.outcome import ToolOutcome

__all__ = ["ResponseRecord", "ResponseTracker"]

_PENDING = "<requested>"


@dataclass
class ResponseRecord:
    """What one response produced."""

    response_id: str
    created_ms: float | None = None
    done_ms: float | None = None
    first_audio_ms: float | None = None
    first_transcript_ms: float | None = None
    audio_ms: float = 0.0
    transcript: str = ""
    dropped_transcript: str = ""
    """What it had said when its connection dropped (the answer is asked for again)."""
    status: str = "in_progress"
    calls: list[tuple[str, str, asyncio.Task[ToolOutcome]]] = field(default_factory=list)


class ResponseTracker:
    """Active/queued responses, per-response records and usage of a conversation."""

    def __init__(self) -> None:
        self.records: dict[str, ResponseRecord] = {}
        self.order: list[str] = []
        self.active_id: str | None = None
        self.current_item: str | None = None
        self.done_count = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.last_usage = (0, 0)
        self.fatal_error: ProviderError | None = None
        self._requested = False
        self._queued = False
        self._awaiting_tool_outputs = 0
        self._cancelled: set[str] = set()

    @property
    def idle(self) -> bool:
        """Nothing active, requested, queued, or waiting on tool outputs."""
        return (
            self.active_id is None
            and not self._requested
            and not self._queued
            and self._awaiting_tool_outputs == 0
        )

    def want_response(self) -> bool:
        """Record a request; True when it may be sent now, False when it was queued."""
        if self.active_id is not None or self._requested:
            self._queued = True
            return False
        self._requested = True
        return True

    def take_queued_request(self) -> bool:
        """After a response ended: whether a queued request should be sent now."""
        if self._queued and self.active_id is None and not self._requested:
            self._queued = False
            self._requested = True
            return True
        return False

    def requeue_after_conflict(self) -> None:
        """The server refused our create because one was active: send it after that one."""
        if self._requested:
            self._requested = False
            self._queued = True

    def created(self, response_id: str, now_ms: float) -> None:
        """``response.created``: ours, or one the server started (VAD, force_message)."""
        self._requested = False
        self.active_id = response_id
        self.records[response_id] = ResponseRecord(response_id, created_ms=now_ms)
        self.order.append(response_id)

    def message_item(self, item_id: str) -> None:
        """The assistant message item of the active response."""
        self.current_item = item_id

    def _record(self, response_id: str) -> ResponseRecord:
        record = self.records.get(response_id)
        if record is None:  # audio before response.created: tolerate the reordering
            record = self.records[response_id] = ResponseRecord(response_id)
            self.order.append(response_id)
        return record

    def audio_scheduled(self, response_id: str, at_ms: float, duration_ms: float) -> bool:
        """Audio of a response plays from ``at_ms``; True when it is the response's first."""
        record = self._record(response_id)
        record.audio_ms += duration_ms
        if record.first_audio_ms is None:
            record.first_audio_ms = at_ms
            return True
        return False

    def transcript_delta(self, response_id: str, delta: str, now_ms: float) -> None:
        """Accumulate the agent's transcript."""
        record = self._record(response_id)
        if record.first_transcript_ms is None:
            record.first_transcript_ms = now_ms
        record.transcript += delta

    def transcript_done(self, response_id: str, transcript: str | None) -> str:
        """The final transcript (the server's, when it sent one); returns it."""
        record = self._record(response_id)
        if transcript:
            record.transcript = transcript
        return record.transcript

    def cancelled(self, response_id: str) -> None:
        """We cancelled this response on barge-in: drop any audio still arriving for it."""
        self._cancelled.add(response_id)

    def is_cancelled(self, response_id: str) -> bool:
        """Whether this response was cut off by barge-in."""
        return response_id in self._cancelled

    def tool_started(
        self, response_id: str, call_id: str, arguments: str, task: asyncio.Task[ToolOutcome]
    ) -> None:
        """A function call of this response is running."""
        self._record(response_id).calls.append((call_id, arguments, task))

    def finished(
        self, response_id: str, usage: object, now_ms: float, status: str
    ) -> list[tuple[str, str, asyncio.Task[ToolOutcome]]]:
        """``response.done``: returns the calls whose outputs must now be sent."""
        record = self._record(response_id)
        record.done_ms = now_ms
        record.status = status
        if self.active_id == response_id or self.active_id is None:
            self.active_id = None
        self._requested = False
        self.done_count += 1
        input_tokens = int(getattr(usage, "input_tokens", 0) or 0)
        output_tokens = int(getattr(usage, "output_tokens", 0) or 0)
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.last_usage = (input_tokens, output_tokens)
        calls = record.calls
        record.calls = []
        if calls:
            self._awaiting_tool_outputs += 1
        return calls

    def abandon(self, now_ms: float) -> bool:
        """The connection dropped: the response in flight is gone. True if one was wanted."""
        wanted = self.active_id is not None or self._requested or self._queued
        if self.active_id is not None:
            record = self._record(self.active_id)
            record.done_ms, record.status = now_ms, "interrupted"
            record.calls = []  # the server never finished them; the model will ask again
            # Its words so far are said again, whole, by the response asked for on the new
            # connection: kept, they would read "We  We open at nine." in the transcript.
            record.dropped_transcript, record.transcript = record.transcript, ""
            self.done_count += 1
        self.active_id = None
        self._requested = self._queued = False
        return wanted

    def tool_outputs_sent(self) -> None:
        """The outputs of one response's calls went out; the follow-up is being requested."""
        self._awaiting_tool_outputs -= 1
