"""One scenario run, scored: the line ``results.jsonl`` keeps for it.

A record holds everything a report draws (turns with their text and timing, the timeline, the
tool calls, the checks) so that ``summary.json``, ``junit.xml`` and ``report.html`` can be
rebuilt from ``results.jsonl`` alone, after a resumed run too. Records carry results only,
never settings, so no secret can reach a file through them.

A run is *finished* when its conversation ended and was judged: ``completed`` (its checks
decide pass or fail) or ``failed`` (the session ended with an error, e.g. the provider refused
the key). Every other status is a run that did not finish on its own merits and is never a
scenario failure; ``--resume`` runs it again:

- ``not_run``: it never started (refused for capacity, withdrawn by a drain, no backend);
- ``interrupted``: it was cut short by its job (a drain, a stop) or the supervisor's death;
- ``lost``: its session was lost (actor or node died, it stalled) more often than retried.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from voxray.actors.audio.conditions import CLEAN
from voxray.actors.conversation.caller import CallerReport
from voxray.actors.conversation.result import (
    SessionResult,
    TimelineEvent,
    TokenUsage,
    TurnMetrics,
)
from voxray.actors.conversation.script import (
    AudioTurn,
    BackchannelTurn,
    BargeInTurn,
    SayTurn,
    TextTurn,
    UserTurn,
)
from voxray.evals.scoring import Check, ScenarioScore
from voxray.evals.suite import ScenarioSpec

__all__ = [
    "FINISHED",
    "UNFINISHED",
    "RunStatus",
    "ScenarioRecord",
    "ToolCallSummary",
    "TurnRecord",
    "redact",
]

RunStatus = Literal["completed", "failed", "lost", "interrupted", "not_run"]
"""How a run ended; see the module's docstring."""

FINISHED: frozenset[RunStatus] = frozenset({"completed", "failed"})
"""Statuses of runs that count as done: judged on their own merits, skipped by ``--resume``."""

UNFINISHED: frozenset[RunStatus] = frozenset({"lost", "interrupted", "not_run"})
"""Statuses of runs that did not finish: never a scenario failure, rerun by ``--resume``."""

_OUTPUT_CHARS = 400

# Defence in depth: errors come from sessions that are written to keep keys out of messages,
# but a record is a file people share, so anything shaped like a credential is masked again.
_SECRET = re.compile(r"(xai-[A-Za-z0-9_-]{8,}|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,})")


def redact(text: str) -> str:
    """``text`` with anything shaped like an xAI key or a bearer token masked."""
    return _SECRET.sub("[redacted]", text)


class ToolCallSummary(BaseModel):
    """One function call as a record keeps it."""

    model_config = ConfigDict(frozen=True)

    name: str
    arguments: Any = Field(description="Parsed JSON arguments, or the raw text if not JSON.")
    ok: bool
    error_type: str | None = None
    latency_ms: float
    t_ms: float | None = Field(None, description="When the call finished, on the audio timeline.")
    output: str = Field("", description=f"What the tool returned (first {_OUTPUT_CHARS} chars).")


class TurnRecord(TurnMetrics):
    """A turn's metrics plus what the user did in it, as the script wrote it."""

    said: str | None = Field(
        None, description="The `say`, `barge_in` or `text` words; the file name of an `audio`."
    )


def _condition(spec: ScenarioSpec) -> str:
    return spec.condition.name if spec.condition is not None else CLEAN


def _said(turn: UserTurn) -> str | None:
    match turn:
        case SayTurn():
            return turn.say
        case BargeInTurn():
            return turn.barge_in
        case BackchannelTurn():
            return turn.backchannel
        case TextTurn():
            return turn.text
        case AudioTurn():
            return turn.audio.name
        case _:
            return None


class ScenarioRecord(BaseModel):
    """One scenario run, scored: a line of ``results.jsonl``."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="Unique in the run: the scenario name, plus #n when repeated.")
    scenario: str = Field(
        description="The scenario's run name: `weather`, or `weather@phone` under a condition."
    )
    condition: str = Field(CLEAN, description="The caller condition the run had (`clean`: none).")
    repeat_index: int = Field(ge=0, description="Which run of the scenario, from 0.")
    passed: bool
    checks: tuple[Check, ...]
    status: RunStatus
    error: str | None = None
    latency_ms: list[float | None] = Field(
        default_factory=list, description="Response latency per turn; None when unmeasured."
    )
    latency_p95_budget_ms: float | None = Field(
        None, description="The scenario's `max_latency_p95_ms`, judged across its runs."
    )
    tool_calls: list[ToolCallSummary] = Field(default_factory=list)
    agent_transcript: str = ""
    user_transcripts: list[str | None] = Field(default_factory=list)
    turns: list[TurnRecord] = Field(default_factory=list, description="Per turn, in order.")
    timeline: list[TimelineEvent] = Field(
        default_factory=list, description="Events on the audio timeline (ms from the start)."
    )
    audio_in_ms: float = 0.0
    audio_out_ms: float = 0.0
    typed_turns: int = Field(0, description="Text turns sent: billed per message.")
    usage: TokenUsage = Field(default_factory=TokenUsage)
    recording: str | None = Field(None, description="WAV path relative to the run directory.")
    duration_ms: float = 0.0
    finished_at: datetime
    caller: CallerReport | None = Field(
        None, description="A simulated caller's outcome, reason and the call's dialogue."
    )

    @classmethod
    def from_result(  # noqa: PLR0917 (the signature the runner was promised)
        cls,
        key: str,
        spec: ScenarioSpec,
        repeat_index: int,
        result: SessionResult,
        score: ScenarioScore,
        recording_path: str | Path | None,
    ) -> ScenarioRecord:
        """Build the record of one run from its result and score.

        ``recording_path`` is the WAV relative to the run directory, as
        :meth:`~voxray.evals.outputs.RunDirectory.write_recording` returns it.
        """
        turns = [
            TurnRecord(**metrics.model_dump(), said=_said(spec.turns[metrics.index]))
            if 0 <= metrics.index < len(spec.turns)
            else TurnRecord(**metrics.model_dump())
            for metrics in result.turns
        ]
        return cls(
            key=key,
            scenario=spec.name,
            condition=_condition(spec),
            repeat_index=repeat_index,
            passed=score.passed,
            checks=tuple(
                check.model_copy(update={"got": redact(check.got)}) for check in score.checks
            ),
            status=result.status,
            error=redact(result.error) if result.error is not None else None,
            latency_ms=[turn.response_latency_ms for turn in result.turns],
            latency_p95_budget_ms=spec.expect.max_latency_p95_ms,
            tool_calls=[
                ToolCallSummary(
                    name=call.name,
                    arguments=_parsed(call.arguments),
                    ok=call.ok,
                    error_type=call.error_type,
                    latency_ms=call.latency_ms,
                    t_ms=call.t_ms,
                    output=redact(call.output[:_OUTPUT_CHARS]),
                )
                for call in result.tool_calls
            ],
            agent_transcript=result.agent_transcript,
            caller=result.caller,
            user_transcripts=[turn.user_transcript for turn in result.turns],
            turns=turns,
            timeline=list(result.timeline),
            audio_in_ms=result.audio_in_ms,
            audio_out_ms=result.audio_out_ms,
            typed_turns=sum(1 for turn in spec.turns if isinstance(turn, TextTurn)),
            usage=result.usage,
            recording=None if recording_path is None else Path(recording_path).as_posix(),
            duration_ms=result.duration_ms,
            finished_at=datetime.now(UTC),
        )

    @classmethod
    def unfinished(
        cls,
        key: str,
        spec: ScenarioSpec,
        repeat_index: int,
        status: RunStatus,
        reason: str,
    ) -> ScenarioRecord:
        """The record of a run that did not finish (``status`` in :data:`UNFINISHED`)."""
        if status not in UNFINISHED:
            raise ValueError(f"{status!r} is a finished status")
        return cls(
            key=key,
            scenario=spec.name,
            condition=_condition(spec),
            repeat_index=repeat_index,
            passed=False,
            checks=(),
            status=status,
            error=redact(reason),
            latency_p95_budget_ms=spec.expect.max_latency_p95_ms,
            finished_at=datetime.now(UTC),
        )

    @property
    def finished(self) -> bool:
        """Whether the run finished on its own merits (see :data:`FINISHED`)."""
        return self.status in FINISHED

    @property
    def failures(self) -> tuple[Check, ...]:
        """The checks that failed."""
        return tuple(check for check in self.checks if not check.passed)

    @property
    def skipped(self) -> tuple[Check, ...]:
        """The checks that could not be judged on this backend."""
        return tuple(check for check in self.checks if check.skipped)


def _parsed(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments
