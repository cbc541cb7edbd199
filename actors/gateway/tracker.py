"""Follows one call's conversation events into the parts of its record and the metrics.

A conversation listener (synchronous, in event order): final transcripts of both sides, turns
with their latency (caller speech end to the agent's first audio), barge-ins, tool latency and
errors.
"""

from __future__ import annotations

from voxray.actors.conversation.events import (
    AgentSpeechStarted,
    AgentTranscript,
    ConversationEvent,
    Interrupted,
    ToolCallFinished,
    UserSpeechEnded,
    UserTranscript,
)
from voxray.actors.gateway.metrics import GatewayMetrics
from voxray.actors.gateway.records import CallTurn, DtmfRecord, TranscriptLine
from voxray.actors.tools.executor import UNKNOWN_TOOL_KEY

__all__ = ["CallTracker"]


class _OpenTurn:
    def __init__(self, index: int) -> None:
        self.index = index
        self.caller_text: str | None = None
        self.agent_text = ""
        self.caller_end_ms: float | None = None
        self.agent_start_ms: float | None = None
        self.interrupted = False

    def freeze(self) -> CallTurn:
        latency = None
        if self.caller_end_ms is not None and self.agent_start_ms is not None:
            latency = round(max(0.0, self.agent_start_ms - self.caller_end_ms), 1)
        return CallTurn(
            index=self.index,
            caller_text=self.caller_text,
            agent_text=self.agent_text.strip(),
            caller_speech_end_ms=self.caller_end_ms,
            agent_audio_start_ms=self.agent_start_ms,
            latency_ms=latency,
            interrupted=self.interrupted,
        )


class CallTracker:
    """Listener of one call's conversation; see the module docstring."""

    def __init__(
        self, metrics: GatewayMetrics, *, ingress: str, agent: str, tools: frozenset[str]
    ) -> None:
        self._metrics = metrics
        self._tools = tools
        self._ingress = ingress
        self._agent = agent
        self.transcript: list[TranscriptLine] = []
        self.dtmf: list[DtmfRecord] = []
        self.barge_ins = 0
        self._turns: list[_OpenTurn] = []

    def on_event(self, event: ConversationEvent) -> None:
        """One conversation event."""
        match event:
            case UserSpeechEnded(t_ms=t_ms):
                turn = _OpenTurn(len(self._turns))
                turn.caller_end_ms = round(t_ms, 1)
                self._turns.append(turn)
            case UserTranscript(final=True, text=text, t_ms=t_ms):
                self.transcript.append(
                    TranscriptLine(role="caller", t_ms=round(t_ms, 1), text=text)
                )
                if self._turns and self._turns[-1].caller_text is None:
                    self._turns[-1].caller_text = text
            case AgentSpeechStarted(t_ms=t_ms):
                turn = self._current()
                if turn.agent_start_ms is None:
                    turn.agent_start_ms = round(t_ms, 1)
            case AgentTranscript(final=True, text=text, t_ms=t_ms):
                if text:
                    self.transcript.append(
                        TranscriptLine(role="agent", t_ms=round(t_ms, 1), text=text)
                    )
                    self._current().agent_text += " " + text
            case Interrupted():
                self.barge_ins += 1
                if self._turns:
                    self._turns[-1].interrupted = True
                self._metrics.barge_ins.labels(self._ingress, self._agent).inc()
            case ToolCallFinished(outcome=outcome):
                # The model picks the name: an undeclared one must not grow the label set.
                tool = outcome.name if outcome.name in self._tools else UNKNOWN_TOOL_KEY
                self._metrics.tool_latency.labels(self._agent, tool).observe(
                    outcome.latency_ms / 1000
                )
                if not outcome.ok:
                    self._metrics.tool_errors.labels(
                        self._agent, tool, outcome.error_type or "error"
                    ).inc()
            case _:
                pass

    def note_dtmf(self, t_ms: float, digit: str) -> None:
        """A keypad digit (the SIP ingress reports them)."""
        self.dtmf.append(DtmfRecord(t_ms=round(t_ms, 1), digit=digit))

    def turns(self) -> tuple[CallTurn, ...]:
        """The turns so far."""
        return tuple(turn.freeze() for turn in self._turns)

    def _current(self) -> _OpenTurn:
        # The agent speaking before the caller ever did (a greeting) is turn 0 of its own.
        if not self._turns:
            self._turns.append(_OpenTurn(0))
        return self._turns[-1]
