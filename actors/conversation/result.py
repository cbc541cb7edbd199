"""What one conversation produced: transcripts, tool calls, a timeline, metrics and a recording.

Times are milliseconds on the session's audio timeline: 0 is the first sample the user's
microphone sent, and the timeline advances with the audio, whatever the simulator's speed.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from voxray.actors.conversation.caller import CallerReport
from voxray.actors.errors import ErrorInfo, SessionLostError

__all__ = [
    "Recording",
    "SessionMetrics",
    "SessionResult",
    "SessionStatus",
    "TimelineEvent",
    "TokenUsage",
    "ToolCallRecord",
    "TurnMetrics",
]

SessionStatus = Literal["completed", "failed", "lost"]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class TimelineEvent(_Result):
    """One thing that happened, placed on the audio timeline.

    ``kind`` is the conversation event's ``type`` tag (``"user_speech_started"``, ...), or one
    of the kinds a caller notes itself, named here.
    """

    TURN_TIMEOUT: ClassVar[str] = "turn_timeout"
    """Noted by the scenario player: the agent did not answer a turn in time."""

    t_ms: float
    kind: str
    detail: dict[str, Any] = Field(default_factory=dict)


class ToolCallRecord(_Result):
    """One function call the model made and what it got back."""

    call_id: str
    name: str
    arguments: str
    output: str
    ok: bool
    error_type: str | None = None
    latency_ms: float
    t_ms: float


class TurnMetrics(_Result):
    """Figures for one user turn and the agent's answer to it."""

    index: int
    kind: str
    user_speech_end_ms: float | None = None
    first_agent_audio_ms: float | None = None
    response_latency_ms: float | None = Field(
        None, description="End of user speech to first agent audio, on the audio timeline."
    )
    agent_audio_ms: float = 0.0
    user_transcript: str | None = None
    agent_transcript: str = ""
    user_speech_start_ms: float | None = Field(
        None, description="Where the user's speech of this turn began on the timeline."
    )
    interrupted_agent: bool = Field(False, description="This turn cut the agent off.")
    barge_in_stop_ms: float | None = Field(
        None, description="User speech start to agent audio stopping (barge-in turns only)."
    )


class SessionMetrics(_Result):
    """Figures of one session, kept per session (never process-global)."""

    responses: int = 0
    responses_cancelled: int = 0
    first_audio_p50_ms: float | None = Field(
        None, description="response.created to first agent audio, median over responses."
    )
    first_transcript_p50_ms: float | None = Field(
        None, description="response.created to first agent transcript text, median."
    )
    response_duration_p50_ms: float | None = Field(
        None, description="response.created to response.done, median."
    )
    interruptions: int = 0
    false_interruptions: int = Field(
        0,
        description="False barge-ins: interruptions while a scripted caller was not taking a "
        "turn (listening, or murmuring a backchannel 'uh-huh': background talk or noise set off "
        "the VAD), or by user 'speech' shorter than 250 ms (a cough, a click).",
    )
    tool_calls: int = 0
    tool_errors: int = 0
    tool_latency_p50_ms: float | None = None
    malformed_frames: int = 0
    provider_errors: int = 0
    dtmf_events: int = Field(0, description="Keypad digits the caller pressed (SIP calls).")
    reconnects: int = 0
    dropped_audio_chunks: int = 0
    frames_sent: int = Field(0, description="Microphone frames sent (scripted sessions).")
    frame_lateness_p50_ms: float | None = Field(
        None, description="How late frames left against their real-time schedule, median."
    )
    frame_lateness_p99_ms: float | None = None
    frame_lateness_max_ms: float | None = None
    audio_in_min: float = 0.0
    audio_out_min: float = 0.0
    cost_estimate_usd: float = Field(0.0, description="Audio minutes in + out at $0.05/min.")


class TokenUsage(_Result):
    """Token usage summed over the session's responses."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class Recording(_Result):
    """A time-aligned stereo recording: user left, agent right, PCM16 interleaved."""

    rate: int
    pcm: bytes = Field(repr=False)

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds."""
        return len(self.pcm) / 4 / self.rate


class SessionResult(_Result):
    """The outcome of one scripted conversation.

    ``error_info`` is what callers decide on (its type, ``retryable``); ``error`` is the same
    as one line of text, for people.
    """

    status: SessionStatus
    error: str | None = None
    error_info: ErrorInfo | None = None
    turns: tuple[TurnMetrics, ...] = ()
    tool_calls: tuple[ToolCallRecord, ...] = ()
    timeline: tuple[TimelineEvent, ...] = ()
    usage: TokenUsage = Field(default_factory=TokenUsage)
    audio_in_ms: float = 0.0
    audio_out_ms: float = 0.0
    duration_ms: float = 0.0
    metrics: SessionMetrics = Field(default_factory=SessionMetrics)
    recording: Recording | None = Field(None, repr=False)
    caller: CallerReport | None = Field(
        None, description="A simulated caller's outcome and the call's dialogue (caller runs)."
    )

    @model_validator(mode="after")
    def _error_text_follows_info(self) -> Self:
        if self.error is None and self.error_info is not None:
            object.__setattr__(self, "error", str(self.error_info))
        return self

    @classmethod
    def failed(cls, error: BaseException, **fields: Any) -> SessionResult:
        """A session that ended with ``error``."""
        return cls(status="failed", error_info=ErrorInfo.of(error), **fields)

    @classmethod
    def lost(cls, reason: str, **fields: Any) -> SessionResult:
        """A session that was lost (its actor died, it stalled, it was stopped) for ``reason``."""
        return cls(status="lost", error_info=ErrorInfo.of(SessionLostError(reason)), **fields)

    @property
    def agent_transcript(self) -> str:
        """Everything the agent said, turn after turn."""
        return " ".join(t.agent_transcript for t in self.turns if t.agent_transcript).strip()
