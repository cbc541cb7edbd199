"""What an eval run costs on xAI: estimated from the scripts before it runs, measured after.

xAI bills realtime audio by the minute, both ways, and typed messages per item. Before a run only
the user's side is known, so :func:`estimate_cost` assumes a length for every answer
(:data:`ASSUMED_REPLY_S`) and a response delay (:data:`ASSUMED_LATENCY_S`). With server VAD the
microphone streams the whole conversation (silence included), so audio sent is the length of
the conversation, not only of the user's speech.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voxray.actors.audio.wav import read_wav
from voxray.actors.conversation.script import AudioTurn, BargeInTurn, SayTurn, TextTurn, WaitTurn
from voxray.actors.errors import AudioError
from voxray.evals.suite import ScenarioSpec

__all__ = [
    "ASSUMED_LATENCY_S",
    "ASSUMED_REPLY_S",
    "COST_PER_AUDIO_MINUTE_USD",
    "COST_PER_TEXT_ITEM_USD",
    "CostEstimate",
    "audio_cost_usd",
    "estimate_cost",
]

COST_PER_AUDIO_MINUTE_USD = 0.05
"""xAI's price of one minute of realtime audio, sent or received (protocol reference §2.5)."""

COST_PER_TEXT_ITEM_USD = 0.004
"""xAI's price of one typed message (``conversation.item.create`` with text)."""

ASSUMED_REPLY_S = 8.0
"""Assumed length of the agent's spoken answer to each turn, for the estimate before a run."""

ASSUMED_LATENCY_S = 1.0
"""Assumed delay before each answer starts, for the estimate before a run."""


@dataclass(frozen=True)
class CostEstimate:
    """Audio minutes and typed messages of a planned run, and their price."""

    audio_in_minutes: float
    audio_out_minutes: float
    typed_messages: int
    usd: float

    @property
    def assumption(self) -> str:
        """The assumption behind the figure, in words, to print beside it."""
        return (
            f"assumes each answer lasts {ASSUMED_REPLY_S:.0f} s and starts after "
            f"{ASSUMED_LATENCY_S:.0f} s; user speech timed at its speaking rate"
        )

    def describe(self) -> str:
        """E.g. ``≈ $0.12 (2.4 audio min: 1.0 sent, 1.4 received; 2 typed messages)``."""
        total = self.audio_in_minutes + self.audio_out_minutes
        text = (
            f"≈ ${self.usd:.2f} ({total:.1f} audio min: {self.audio_in_minutes:.1f} sent, "
            f"{self.audio_out_minutes:.1f} received"
        )
        if self.typed_messages:
            text += f"; {self.typed_messages} typed message{'s' if self.typed_messages > 1 else ''}"
        return text + ")"


def audio_cost_usd(audio_minutes: float, typed_messages: int = 0) -> float:
    """The price of ``audio_minutes`` of audio (both ways added up) and typed messages."""
    return round(
        audio_minutes * COST_PER_AUDIO_MINUTE_USD + typed_messages * COST_PER_TEXT_ITEM_USD, 4
    )


def _words_s(text: str, words_per_minute: int) -> float:
    return len(text.split()) * 60.0 / words_per_minute


def _wav_s(turn: AudioTurn) -> float:
    try:
        return read_wav(turn.audio).duration_s
    except AudioError:
        return 0.0  # the session reports a broken file; the estimate only under-counts


def _scenario_seconds(spec: ScenarioSpec) -> tuple[float, float, int]:
    """(seconds of audio sent, seconds received, typed messages) for one run of ``spec``."""
    sent = received = 0.0
    typed = 0
    for index, turn in enumerate(spec.turns):
        answered = True
        match turn:
            case SayTurn():
                sent += _words_s(turn.say, turn.words_per_minute)
            case BargeInTurn():
                sent += _words_s(turn.barge_in, turn.words_per_minute)
                if index > 0:
                    # The previous answer only played for after_ms before it was cut.
                    unplayed = ASSUMED_REPLY_S - min(ASSUMED_REPLY_S, turn.after_ms / 1000)
                    received -= unplayed
                    sent -= unplayed
            case AudioTurn():
                sent += _wav_s(turn)
            case TextTurn():
                typed += 1
            case WaitTurn():
                sent += turn.wait_ms / 1000
                answered = False
        if answered:
            received += ASSUMED_REPLY_S
            # The microphone keeps streaming (silence) while the agent answers.
            sent += ASSUMED_LATENCY_S + ASSUMED_REPLY_S
    return max(sent, 0.0), max(received, 0.0), typed


def estimate_cost(specs: Sequence[ScenarioSpec], runs_per_scenario: int) -> CostEstimate:
    """What running each of ``specs`` ``runs_per_scenario`` times would cost on xAI."""
    sent = received = 0.0
    typed = 0
    for spec in specs:
        spec_sent, spec_received, spec_typed = _scenario_seconds(spec)
        sent += spec_sent * runs_per_scenario
        received += spec_received * runs_per_scenario
        typed += spec_typed * runs_per_scenario
    in_min, out_min = sent / 60, received / 60
    return CostEstimate(
        audio_in_minutes=round(in_min, 3),
        audio_out_minutes=round(out_min, 3),
        typed_messages=typed,
        usd=audio_cost_usd(in_min + out_min, typed),
    )
