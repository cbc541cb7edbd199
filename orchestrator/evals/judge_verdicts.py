"""What the judge said about one rubric item: its samples, their majority, and how sure it was.

Judges flip, so each rubric item is judged ``judge_samples`` times (K). The item's outcome is the
verdict that more than half of the K samples gave; otherwise it is *uncertain* when some samples
gave a verdict (a split, or too few verdicts among failed requests), and *error* when none did.
Neither uncertain nor error is ever a pass: the check fails the run and reports say which it was,
apart from real failures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "JudgeDetail",
    "JudgeErrorKind",
    "JudgeOutcome",
    "JudgeSample",
    "decide",
]

JudgeOutcome = Literal["pass", "fail", "uncertain", "error"]

JudgeErrorKind = Literal[
    "timeout", "rate_limited", "server_error", "refused", "malformed", "http_error", "unreachable"
]
"""Why a judge request gave no verdict: no answer in time, 429 or 5xx after every retry, the
model refused, a reply that is not the schema's JSON, another HTTP error (a bad key, a bad
model), or the endpoint could not be reached."""


@dataclass(frozen=True)
class JudgeSample:
    """One judge request's answer: a verdict and its reason, or why there is none."""

    verdict: Literal["pass", "fail"] | None
    reason: str
    error: JudgeErrorKind | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class JudgeDetail(BaseModel):
    """How one rubric item was judged (kept on its check in results.jsonl)."""

    model_config = ConfigDict(frozen=True)

    outcome: JudgeOutcome
    model: str
    samples: int = Field(description="Requests made for the item (K).")
    passes: int
    fails: int
    errors: dict[str, int] = Field(
        default_factory=dict, description="Samples without a verdict, by why (JudgeErrorKind)."
    )
    agreement: float = Field(
        description="Share of the K samples that gave the most common verdict (1.0: unanimous)."
    )
    prompt_tokens: int = 0
    completion_tokens: int = 0


def decide(samples: Sequence[JudgeSample], model: str) -> tuple[JudgeDetail, str]:
    """The item's outcome over ``samples`` and the text reports show as what was got."""
    count = len(samples)
    passes = sum(1 for sample in samples if sample.verdict == "pass")
    fails = sum(1 for sample in samples if sample.verdict == "fail")
    errors = Counter(sample.error for sample in samples if sample.error is not None)
    outcome: JudgeOutcome
    if passes * 2 > count:
        outcome = "pass"
    elif fails * 2 > count:
        outcome = "fail"
    elif passes or fails:
        outcome = "uncertain"
    else:
        outcome = "error"
    detail = JudgeDetail(
        outcome=outcome,
        model=model,
        samples=count,
        passes=passes,
        fails=fails,
        errors=dict(errors.most_common()),
        agreement=round(max(passes, fails) / count, 4) if count else 0.0,
        prompt_tokens=sum(sample.prompt_tokens for sample in samples),
        completion_tokens=sum(sample.completion_tokens for sample in samples),
    )
    return detail, _got(outcome, samples, detail)


def _got(outcome: JudgeOutcome, samples: Sequence[JudgeSample], detail: JudgeDetail) -> str:
    tally = f"{detail.passes} pass, {detail.fails} fail"
    if detail.errors:
        tally += ", " + ", ".join(f"{n} {kind}" for kind, n in detail.errors.items())
    tally += f" of {detail.samples}"
    if outcome in ("pass", "fail"):
        reason = next(sample.reason for sample in samples if sample.verdict == outcome)
        return f"{outcome} ({tally}): {reason}"
    if outcome == "uncertain":
        return f"uncertain: no majority ({tally})"
    first = next(sample for sample in samples if sample.error is not None)
    return f"not judged ({tally}): {first.reason}"
