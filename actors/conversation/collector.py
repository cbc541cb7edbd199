"""Collects what a conversation did, from its events, into a :class:`SessionResult`.

Used by the scenario player and by live sessions alike: the timeline (every event but audio
chunks and transcript deltas), the tool calls, and the session's metrics.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np
from voxray.actors.conversation.engine import Conversation
from voxray.actors.conversation.events import (
    AgentAudio,
    AgentTranscript,
    ConversationEvent,
    DtmfReceived,
    ErrorOccurred,
    Interrupted,
    ToolCallFinished,
    UserSpeechEnded,
    UserSpeechStarted,
)
from voxray.actors.conversation.result import (
    SessionMetrics,
    SessionResult,
    TimelineEvent,
    TokenUsage,
    ToolCallRecord,
    TurnMetrics,
)
from voxray.actors.errors import ErrorInfo, VoxrayError

__all__ = ["AUDIO_USD_PER_MINUTE", "SessionCollector"]

AUDIO_USD_PER_MINUTE = 0.05
"""xAI's price per audio minute, sent or received."""

_FALSE_INTERRUPTION_MS = 250.0


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _quantile(values: Sequence[float], fraction: float) -> float | None:
    """Interpolated quantile (numpy's default method) of ``values``."""
    if not values:
        return None
    return round(float(np.quantile(np.asarray(values), fraction)), 2)


class SessionCollector:
    """A conversation listener that keeps the timeline, tool calls and interruption counts."""

    def __init__(self, conversation: Conversation) -> None:
        self._conversation = conversation
        self.timeline: list[TimelineEvent] = []
        self.tool_calls: list[ToolCallRecord] = []
        self._interruptions = 0
        self._false_interruptions = 0
        self._speech_started_ms: float | None = None
        self._speech_interrupted = False
        self._counted_false = False
        self.caller_has_floor: bool | None = None
        """Set by a scripted caller: True while it speaks a turn, False while it listens or
        murmurs a backchannel, when an interruption is a false barge-in (background talk, a
        noise, an "uh-huh"); None (a live caller): unknown, only the short-sound rule counts."""
        self._malformed = 0
        self._provider_errors = 0
        self._dtmf = 0
        conversation.add_listener(self.on_event)

    def note(self, kind: str, detail: dict[str, object]) -> None:
        """Put something the caller observed on the timeline, now."""
        self.timeline.append(
            TimelineEvent(t_ms=round(self._conversation.now_ms(), 1), kind=kind, detail=detail)
        )

    def on_event(self, event: ConversationEvent) -> None:
        """Record one conversation event."""
        match event:
            case AgentAudio() | AgentTranscript(final=False):
                return  # too frequent for the timeline; the recording holds the audio
            case UserSpeechStarted(t_ms=t_ms):
                self._speech_started_ms, self._speech_interrupted = t_ms, False
                self._counted_false = False
            case Interrupted():
                self._interruptions += 1
                self._speech_interrupted = True
                if self.caller_has_floor is False and not self._counted_false:
                    # The script knows the caller was not taking a turn, however long the
                    # sound the provider heard: the agent stopped for nothing.
                    self._false_interruptions += 1
                    self._counted_false = True
            case UserSpeechEnded(t_ms=t_ms):
                started = self._speech_started_ms
                if (
                    self._speech_interrupted
                    and not self._counted_false
                    and started is not None
                    and t_ms - started < _FALSE_INTERRUPTION_MS
                ):
                    self._false_interruptions += 1
            case ErrorOccurred(code="malformed_frame"):
                self._malformed += 1
            case ErrorOccurred():
                self._provider_errors += 1
            case DtmfReceived():
                self._dtmf += 1
            case ToolCallFinished(outcome=outcome, arguments=arguments):
                self.tool_calls.append(
                    ToolCallRecord(
                        call_id=outcome.call_id,
                        name=outcome.name,
                        arguments=arguments,
                        output=outcome.output,
                        ok=outcome.ok,
                        error_type=outcome.error_type,
                        latency_ms=round(outcome.latency_ms, 2),
                        t_ms=round(event.t_ms, 1),
                    )
                )
        self.timeline.append(_timeline_entry(event))

    def metrics(self, *, frame_lateness_ms: Sequence[float] = ()) -> SessionMetrics:
        """The session's figures so far (``frame_lateness_ms``: the microphone's, if any)."""
        conversation = self._conversation
        records = conversation.response_records()

        def since_created(value: float | None, created: float | None) -> float | None:
            return None if value is None or created is None else value - created

        first_audio = [
            d for r in records if (d := since_created(r.first_audio_ms, r.created_ms)) is not None
        ]
        first_text = [
            d
            for r in records
            if (d := since_created(r.first_transcript_ms, r.created_ms)) is not None
        ]
        durations = [
            d for r in records if (d := since_created(r.done_ms, r.created_ms)) is not None
        ]
        audio_in_min = conversation.user_audio_ms / 60_000
        audio_out_min = conversation.agent_audio_ms / 60_000
        return SessionMetrics(
            responses=len(records),
            responses_cancelled=sum(1 for r in records if r.status == "cancelled"),
            first_audio_p50_ms=_median(first_audio),
            first_transcript_p50_ms=_median(first_text),
            response_duration_p50_ms=_median(durations),
            interruptions=self._interruptions,
            false_interruptions=self._false_interruptions,
            tool_calls=len(self.tool_calls),
            tool_errors=sum(1 for call in self.tool_calls if not call.ok),
            tool_latency_p50_ms=_median([call.latency_ms for call in self.tool_calls]),
            malformed_frames=self._malformed,
            provider_errors=self._provider_errors,
            dtmf_events=self._dtmf,
            reconnects=conversation.reconnects,
            dropped_audio_chunks=conversation.dropped_audio_chunks,
            frames_sent=len(frame_lateness_ms),
            frame_lateness_p50_ms=_quantile(frame_lateness_ms, 0.5),
            frame_lateness_p99_ms=_quantile(frame_lateness_ms, 0.99),
            frame_lateness_max_ms=round(max(frame_lateness_ms), 2) if frame_lateness_ms else None,
            audio_in_min=round(audio_in_min, 4),
            audio_out_min=round(audio_out_min, 4),
            cost_estimate_usd=round((audio_in_min + audio_out_min) * AUDIO_USD_PER_MINUTE, 4),
        )

    def result(
        self,
        error: VoxrayError | None,
        *,
        turns: Sequence[TurnMetrics] = (),
        record: bool = True,
        frame_lateness_ms: Sequence[float] = (),
    ) -> SessionResult:
        """Everything collected, as the session's result."""
        conversation = self._conversation
        input_tokens, output_tokens = conversation.usage
        return SessionResult(
            status="completed" if error is None else "failed",
            error_info=None if error is None else ErrorInfo.of(error),
            turns=tuple(turns),
            tool_calls=tuple(self.tool_calls),
            timeline=tuple(self.timeline),
            usage=TokenUsage(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                total_tokens=input_tokens + output_tokens,
            ),
            audio_in_ms=round(conversation.user_audio_ms, 1),
            audio_out_ms=round(conversation.agent_audio_ms, 1),
            duration_ms=round(conversation.now_ms(), 1),
            metrics=self.metrics(frame_lateness_ms=frame_lateness_ms),
            recording=conversation.recorder.to_recording() if record else None,
        )


def _timeline_entry(event: ConversationEvent) -> TimelineEvent:
    fields = {
        key: value
        for key, value in vars(event).items()
        if key not in ("t_ms", "samples", "outcome") and isinstance(value, str | int | float | bool)
    }
    if isinstance(event, ToolCallFinished):
        fields |= {
            "name": event.outcome.name,
            "ok": event.outcome.ok,
            "call_id": event.outcome.call_id,
        }
    return TimelineEvent(t_ms=round(event.t_ms, 1), kind=event.type, detail=fields)
