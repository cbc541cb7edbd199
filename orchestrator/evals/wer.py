"""Word error rate of the backend's transcription of the user, with jiwer.

Both sides are normalised the same way before words are compared (lower case, no punctuation,
single spaces), so "Hello, there!" and "hello there" are a perfect match. WER is (substitutions
+ deletions + insertions) / words of the reference: 0 is perfect, and it may exceed 1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import jiwer

__all__ = ["TurnWer", "is_transcribed", "normalise", "word_error_rate"]

# The simulator reports "[speech 1.6 s]" as the transcript of user audio it cannot understand
# (heard_placeholder in voxray.actors.simulator): a stand-in, not a transcription.
_PLACEHOLDER = re.compile(r"^\s*\[speech \d+(?:\.\d+)? s\]\s*$")
_PUNCTUATION = re.compile(r"[^\w\s']|(?<!\w)'|'(?!\w)")


def is_transcribed(transcript: str | None) -> bool:
    """Whether ``transcript`` is a real transcription (not absent, not a placeholder)."""
    return transcript is not None and not _PLACEHOLDER.match(transcript)


def normalise(text: str) -> str:
    """Lower case, punctuation removed (apostrophes inside words kept), single spaces."""
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


@dataclass(frozen=True)
class TurnWer:
    """One transcribed turn: its number (1-based), reference, hypothesis and WER."""

    number: int
    reference: str
    hypothesis: str
    wer: float


def word_error_rate(pairs: Sequence[tuple[int, str, str]]) -> tuple[float, list[TurnWer]]:
    """WER over all ``(turn number, reference, hypothesis)`` pairs, and per turn.

    The overall figure is corpus-level (errors of all turns over words of all references), so a
    long turn weighs more than a short one, as in any ASR benchmark.
    """
    references = [normalise(reference) for _, reference, _ in pairs]
    hypotheses = [normalise(hypothesis) for _, _, hypothesis in pairs]
    per_turn = [
        TurnWer(number, reference, hypothesis, _wer(reference, hypothesis))
        for (number, _, _), reference, hypothesis in zip(pairs, references, hypotheses, strict=True)
    ]
    errors = sum(item.wer * len(item.reference.split()) for item in per_turn)
    words = sum(len(item.reference.split()) for item in per_turn)
    return (errors / words if words else 0.0), per_turn


def _wer(reference: str, hypothesis: str) -> float:
    if not reference:
        return 0.0 if not hypothesis else float(len(hypothesis.split()))
    if not hypothesis:
        return 1.0  # every reference word deleted
    return float(jiwer.wer(reference, hypothesis))
