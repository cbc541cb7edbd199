"""What an eval run costs on xAI: estimated from the scripts before it runs, measured after.

xAI bills realtime audio by the minute, both ways, and typed messages per item. Before a run only
the user's side is known, so :func:`estimate_cost` assumes a length for every answer
(:data:`ASSUMED_REPLY_S`) and a response delay (:data:`ASSUMED_LATENCY_S`). With server VAD the
microphone streams the whole conversation (silence included), so audio sent is the length of
the conversation, not only of the user's speech.

``expect.judge`` rubric items are billed as chat completions tokens, each item ``judge_samples``
times per run: the estimate assumes the transcript's length from the script and the assumed
answers, and prices them as the default judge model (:data:`JUDGE_INPUT_USD_PER_MTOK`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voxray.actors.audio.wav import read_wav
from voxray.actors.conversation.script import AudioTurn, BargeInTurn, SayTurn, TextTurn, WaitTurn
from voxray.actors.errors import AudioError
from voxray.evals.suite import ScenarioSpec
from voxray.evals.turns import spoken_text

__all__ = [
    "ASSUMED_LATENCY_S",
    "ASSUMED_REPLY_S",
    "COST_PER_AUDIO_MINUTE_USD",
    "COST_PER_TEXT_ITEM_USD",
    "JUDGE_INPUT_USD_PER_MTOK",
    "JUDGE_OUTPUT_USD_PER_MTOK",
    "CostEstimate",
    "audio_cost_usd",
    "estimate_cost",
    "judge_cost_usd",
]

COST_PER_AUDIO_MINUTE_USD = 0.05
"""xAI's price of one minute of realtime audio, sent or received (protocol reference §2.5)."""

COST_PER_TEXT_ITEM_USD = 0.004
"""xAI's price of one typed message (``conversation.item.create`` with text)."""

ASSUMED_REPLY_S = 8.0
"""Assumed length of the agent's spoken answer to each turn, for the estimate before a run."""

ASSUMED_LATENCY_S = 1.0
"""Assumed delay before each answer starts, for the estimate before a run."""

JUDGE_INPUT_USD_PER_MTOK = 0.20
"""xAI's price of a million prompt tokens of grok-4-fast (the default judge model)."""

JUDGE_OUTPUT_USD_PER_MTOK = 0.50
"""xAI's price of a million completion tokens of grok-4-fast."""

_JUDGE_PROMPT_OVERHEAD_TOKENS = 180
"""The judge's instructions and framing around the transcript, in tokens."""

_JUDGE_REPLY_TOKENS = 70
"""A verdict and a reason of a sentence or two, as JSON."""

_TOKENS_PER_WORD = 1.4

_ASSUMED_REPLY_WORDS = ASSUMED_REPLY_S * 2.5
"""Words in an assumed answer (about 150 spoken words a minute)."""

_TOOL_CALL_TOKENS = 60
"""A tool call as the judge reads it: name, arguments and output."""


@dataclass(frozen=True)
class CostEstimate:
    """Audio minutes and typed messages of a planned run, and their price."""

    audio_in_minutes: float
    audio_out_minutes: float
    typed_messages: int
    usd: float
    judge_requests: int = 0
    judge_prompt_tokens: int = 0
    judge_completion_tokens: int = 0

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
        if self.judge_requests:
            judge = judge_cost_usd(self.judge_prompt_tokens, self.judge_completion_tokens)
            tokens = (self.judge_prompt_tokens + self.judge_completion_tokens) / 1000
            text += (
                f"; judge ${judge:.3f}: {self.judge_requests} request"
                f"{'s' if self.judge_requests > 1 else ''}, {tokens:.0f}k tokens"
            )
        return text + ")"


def audio_cost_usd(audio_minutes: float, typed_messages: int = 0) -> float:
    """The price of ``audio_minutes`` of audio (both ways added up) and typed messages."""
    return round(
        audio_minutes * COST_PER_AUDIO_MINUTE_USD + typed_messages * COST_PER_TEXT_ITEM_USD, 4
    )


def judge_cost_usd(prompt_tokens: int, completion_tokens: int) -> float:
    """The price of the judge's tokens at the default judge model's rates."""
    return round(
        (prompt_tokens * JUDGE_INPUT_USD_PER_MTOK + completion_tokens * JUDGE_OUTPUT_USD_PER_MTOK)
        / 1_000_000,
        6,
    )


def _judge_tokens(spec: ScenarioSpec) -> tuple[int, int, int]:
    """(requests, prompt tokens, completion tokens) of judging one run of ``spec``."""
    items = spec.expect.judge
    if not items:
        return 0, 0, 0
    words = 0.0
    for turn in spec.turns:
        said = spoken_text(turn)
        words += len(said.split()) if said else 0
        words += _ASSUMED_REPLY_WORDS
    transcript = words * _TOKENS_PER_WORD + _TOOL_CALL_TOKENS * len(spec.expect.tools_called)
    samples = spec.expect.judge_samples
    prompt = sum(
        samples
        * (_JUDGE_PROMPT_OVERHEAD_TOKENS + transcript + len(item.split()) * _TOKENS_PER_WORD)
        for item in items
    )
    return samples * len(items), round(prompt), samples * len(items) * _JUDGE_REPLY_TOKENS


def _words_s(text: str, words_per_minute: int) -> float:
    return len(text.split()) * 60.0 / words_per_minute


def _wav_s(turn: AudioTurn) -> float:
    try:
        return read_wav(turn.audio).duration_s
    except AudioError:
        return 0.0  # the session reports a broken file; the estimate only under-counts


def _scenario_seconds(spec: ScenarioSpec) -> tuple[float, float, int]:
    """(seconds of audio sent, seconds received, typed messages) for one run of ``spec``."""
    if spec.caller is not None:  # two sessions on one call (voxray.evals.caller)
        sent, received = spec.caller.call_seconds(
            reply_s=ASSUMED_REPLY_S, latency_s=ASSUMED_LATENCY_S
        )
        return sent, received, 0
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
    typed = requests = prompt = completion = 0
    for spec in specs:
        spec_sent, spec_received, spec_typed = _scenario_seconds(spec)
        sent += spec_sent * runs_per_scenario
        received += spec_received * runs_per_scenario
        typed += spec_typed * runs_per_scenario
        spec_requests, spec_prompt, spec_completion = _judge_tokens(spec)
        requests += spec_requests * runs_per_scenario
        prompt += spec_prompt * runs_per_scenario
        completion += spec_completion * runs_per_scenario
    in_min, out_min = sent / 60, received / 60
    return CostEstimate(
        audio_in_minutes=round(in_min, 3),
        audio_out_minutes=round(out_min, 3),
        typed_messages=typed,
        usd=round(audio_cost_usd(in_min + out_min, typed) + judge_cost_usd(prompt, completion), 4),
        judge_requests=requests,
        judge_prompt_tokens=prompt,
        judge_completion_tokens=completion,
    )
