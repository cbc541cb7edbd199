"""A scenario's `caller:` in a suite: what loads, what is refused (one line naming the field),
and how the caller's outcome is scored."""

from __future__ import annotations

from pathlib import Path

import pytest
from voxray.actors.conversation.caller import CallerOutcome, CallerReport, DialogueLine
from voxray.actors.conversation.result import SessionResult
from voxray.actors.errors import ConfigError
from voxray.evals.cost import estimate_cost
from voxray.evals.scoring import score
from voxray.evals.suite import load_suite

CALLER = """\
name: calls
scenarios:
  - name: call
    caller:
      persona: A customer.
      goal: learn the opening hours
{extra}
"""


def _load(tmp_path: Path, extra: str = "") -> object:
    path = tmp_path / "suite.yaml"
    path.write_text(CALLER.format(extra=extra), encoding="utf-8")
    return load_suite(path)


def _error(tmp_path: Path, extra: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, extra)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


def test_a_caller_replaces_turns_and_reaches_the_actor_without_its_sim_script(
    tmp_path: Path,
) -> None:
    suite = _load(tmp_path, "      max_turns: 3\n      sim: {rules: [{turn: 1, reply: Hi}]}")
    (spec,) = suite.scenarios  # type: ignore[attr-defined]
    script = spec.script()
    assert script.turns == ()
    assert script.caller is not None and script.caller.max_turns == 3
    assert "sim" not in script.caller.model_dump()
    assert spec.caller.sim.rules[0].reply == "Hi"


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ("      mood: grumpy", "caller.mood"),
        ("      max_turns: 0", "caller.max_turns"),
        ("      voice: nobody", "caller.voice"),
        ("    turns: [{say: Hello}]", "caller: a scenario has `turns` or a `caller`, not both"),
    ],
)
def test_a_bad_caller_is_one_line_naming_the_field(tmp_path: Path, extra: str, names: str) -> None:
    assert names in _error(tmp_path, extra)


def _result(outcome: str, reason: str) -> SessionResult:
    line = DialogueLine(speaker="caller", start_ms=0, end_ms=900, text="Hi")
    report = CallerReport(
        outcome=CallerOutcome(outcome=outcome, reason=reason),  # type: ignore[arg-type]
        dialogue=(line,),
    )
    return SessionResult(status="completed", caller=report)


@pytest.mark.parametrize(
    ("outcome", "passed"), [("success", True), ("failure", False), ("limit", False)]
)
def test_the_caller_outcome_is_a_check_with_its_reason(
    tmp_path: Path, outcome: str, passed: bool
) -> None:
    (spec,) = _load(tmp_path).scenarios  # type: ignore[attr-defined]
    verdict = score(spec, _result(outcome, "because"))
    check = next(c for c in verdict.checks if c.name == "caller outcome")
    assert (check.passed, check.got) == (passed, f"{outcome}: because")
    assert verdict.passed is passed


def test_the_estimate_counts_both_sessions_up_to_the_call_limit(tmp_path: Path) -> None:
    (long_call,) = _load(tmp_path, "      max_turns: 10").scenarios  # type: ignore[attr-defined]
    (capped,) = _load(  # type: ignore[attr-defined]
        tmp_path, "      max_turns: 10\n      max_duration_s: 30"
    ).scenarios
    # 10 exchanges: a 4 s caller line and an 8 s answer, each after 1 s.
    estimate = estimate_cost([long_call], runs_per_scenario=1)
    assert estimate.audio_in_minutes == pytest.approx(2 * 140 / 60, abs=0.01)
    assert estimate.audio_out_minutes == pytest.approx(120 / 60, abs=0.01)
    # The call ends at max_duration_s: both sessions heard 30 s.
    assert estimate_cost([capped], 1).audio_in_minutes == pytest.approx(1.0, abs=0.01)
