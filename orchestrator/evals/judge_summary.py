"""The judge's figures over a run: per rubric item, how its verdicts agreed and flipped across a
scenario's repeats; over the whole run, the tokens it read and wrote and what they cost.

Two kinds of disagreement are reported apart:

* ``agreement`` (within a run): the share of an item's K samples that gave the majority verdict,
  averaged over the runs. 1.0: every sample agreed every time.
* ``flip_rate`` (across repeats): the share of the scenario's runs whose decided verdict for the
  item differs from its most common one. 0.0: the same verdict every repeat.

Uncertain and error outcomes are counted on their own, never folded into passes or failures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, Field
from voxray.evals.cost import judge_cost_usd
from voxray.evals.records import ScenarioRecord

__all__ = ["JudgeItemTally", "JudgeUsage", "judge_item_tallies", "judge_usage"]


class JudgeItemTally(BaseModel):
    """How one rubric item of one scenario was judged over its runs."""

    runs: int
    passes: int = Field(description="Runs whose majority verdict was pass.")
    fails: int = Field(description="Runs whose majority verdict was fail.")
    uncertain: int = Field(description="Runs with no majority verdict (never passes).")
    errors: int = Field(description="Runs the judge never answered (never passes).")
    agreement: float = Field(description="Mean share of samples giving the run's majority.")
    flip_rate: float = Field(
        description="Share of runs whose verdict differs from the item's most common one."
    )


class JudgeUsage(BaseModel):
    """The judge's tokens over a run and their price."""

    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


def judge_item_tallies(runs: Iterable[ScenarioRecord]) -> dict[str, JudgeItemTally]:
    """Check name of each rubric item → its tally over ``runs`` (one scenario's)."""
    outcomes: dict[str, list[str]] = {}
    agreements: dict[str, list[float]] = {}
    for run in runs:
        for check in run.checks:
            if check.judge is None:
                continue
            outcomes.setdefault(check.name, []).append(check.judge.outcome)
            agreements.setdefault(check.name, []).append(check.judge.agreement)
    tallies: dict[str, JudgeItemTally] = {}
    for name, seen in outcomes.items():
        counts = Counter(seen)
        _, most = counts.most_common(1)[0]
        tallies[name] = JudgeItemTally(
            runs=len(seen),
            passes=counts["pass"],
            fails=counts["fail"],
            uncertain=counts["uncertain"],
            errors=counts["error"],
            agreement=round(sum(agreements[name]) / len(seen), 4),
            flip_rate=round((len(seen) - most) / len(seen), 4),
        )
    return tallies


def judge_usage(records: Iterable[ScenarioRecord]) -> JudgeUsage | None:
    """The judge's requests, tokens and cost over ``records``; None when nothing was judged."""
    details = [check.judge for record in records for check in record.checks if check.judge]
    if not details:
        return None
    prompt = sum(detail.prompt_tokens for detail in details)
    completion = sum(detail.completion_tokens for detail in details)
    return JudgeUsage(
        requests=sum(detail.samples for detail in details),
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=judge_cost_usd(prompt, completion),
    )
