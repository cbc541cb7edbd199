"""Scoring: does a conversation's result meet its scenario's expectations?

Every expectation becomes one :class:`Check` that says, in words a person reads in a report, what
was expected and what was got. A run passes when none of its checks failed; a check that cannot
be judged on this backend (the user's WER where nothing transcribes) is *skipped*: listed, with
the reason, and neither passed nor failed. ``max_latency_p95_ms`` is judged across a scenario's
runs, in :mod:`voxray.evals.summary`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from voxray.actors.conversation.result import SessionResult, ToolCallRecord, TurnMetrics
from voxray.actors.conversation.script import BackchannelTurn, BargeInTurn, WaitTurn
from voxray.evals.judge_verdicts import JudgeDetail
from voxray.evals.suite import ScenarioSpec, ToolExpectation
from voxray.evals.turns import spoken_text
from voxray.evals.wer import is_transcribed, word_error_rate

__all__ = ["Check", "ScenarioScore", "score"]

_CLIP_CHARS = 100


class Check(BaseModel):
    """One pass condition and how the conversation fared against it."""

    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool = Field(description="False only for a failure; a skipped check is not one.")
    expected: str
    got: str
    skipped: bool = Field(
        False, description="Could not be judged here; ``got`` says why. Never counts as a pass."
    )
    judge: JudgeDetail | None = Field(
        None,
        description="For an ``expect.judge`` rubric item: its samples, agreement and tokens.",
    )

    @property
    def outcome(self) -> Literal["pass", "fail", "skip", "uncertain", "error"]:
        """``pass``, ``fail`` or ``skip``, as reports show it; a judged rubric item with no
        majority is ``uncertain``, one the judge never answered ``error`` (neither passes)."""
        if self.judge is not None and self.judge.outcome in ("uncertain", "error"):
            return self.judge.outcome
        return "skip" if self.skipped else "pass" if self.passed else "fail"


class ScenarioScore(BaseModel):
    """The verdict on one conversation: passed when every check passed."""

    model_config = ConfigDict(frozen=True)

    passed: bool
    checks: tuple[Check, ...]

    @property
    def failures(self) -> tuple[Check, ...]:
        """The checks that failed."""
        return tuple(check for check in self.checks if not check.passed)

    @property
    def skipped(self) -> tuple[Check, ...]:
        """The checks that could not be judged."""
        return tuple(check for check in self.checks if check.skipped)


def score(spec: ScenarioSpec, result: SessionResult) -> ScenarioScore:
    """Check ``result`` against every expectation of ``spec`` (and that each turn was answered).

    A session that did not complete fails on a single ``session`` check naming its error: its
    transcript and calls are partial, so judging them would only add noise.
    """
    if result.status != "completed":
        failed = Check(
            name="session",
            passed=False,
            expected="the conversation completes",
            got=f"{result.status}: {result.error or 'no error message'}",
        )
        return ScenarioScore(passed=False, checks=(failed,))

    expect = spec.expect
    transcript = result.agent_transcript
    checks = [
        Check(name="session", passed=True, expected="the conversation completes", got="completed"),
        _caller_outcome(result) if spec.caller is not None else _turns_answered(spec, result),
    ]
    if expect.max_latency_ms is not None:
        checks.append(_latency(expect.max_latency_ms, result.turns))
    if expect.max_barge_in_stop_ms is not None:
        checks.append(_barge_in_stop(expect.max_barge_in_stop_ms, spec, result.turns))
    if expect.max_user_wer is not None:
        checks.append(_user_wer(expect.max_user_wer, spec, result.turns))
    if expect.max_false_interruptions is not None:
        checks.append(_false_interruptions(expect.max_false_interruptions, result))
    checks += _tools_called(expect.tools_called, result.tool_calls)
    checks += [_tool_not_called(name, result.tool_calls) for name in expect.tools_not_called]
    checks += [_contains(text, transcript) for text in expect.transcript_contains]
    checks += [_matches(pattern, transcript) for pattern in expect.transcript_matches]
    checks += [_not_contains(text, transcript) for text in expect.transcript_not_contains]
    return ScenarioScore(passed=all(check.passed for check in checks), checks=tuple(checks))


def _caller_outcome(result: SessionResult) -> Check:
    """A simulated caller's verdict: passes when it hung up with ``success``; its reason (or
    the limit that ended the call) is what it "got"."""
    expected = "the caller hangs up with success"
    if result.caller is None:
        return Check(name="caller outcome", passed=False, expected=expected, got="no caller")
    outcome = result.caller.outcome
    got = f"{outcome.outcome}: {outcome.reason}" if outcome.reason else outcome.outcome
    return Check(
        name="caller outcome", passed=outcome.outcome == "success", expected=expected, got=got
    )


def _is_wait(turn: TurnMetrics) -> bool:
    # Silence is not a question: a wait turn needs no answer (and gets none unless the agent
    # re-engages on idle); nor is an "uh-huh" said over the agent.
    return turn.kind.lower().startswith(("wait", "backchannel"))


def _answered(turn: TurnMetrics, speaks: bool) -> bool:
    if speaks:
        return turn.agent_audio_ms > 0 or turn.first_agent_audio_ms is not None
    return bool(turn.agent_transcript.strip())


def _turns_answered(spec: ScenarioSpec, result: SessionResult) -> Check:
    speaks = "audio" in spec.agent.modalities
    what = "agent audio" if speaks else "an agent reply"
    asked = sum(1 for turn in spec.turns if not isinstance(turn, WaitTurn | BackchannelTurn))
    played = [(number, turn) for number, turn in enumerate(result.turns, 1) if not _is_wait(turn)]
    answered = [number for number, turn in played if _answered(turn, speaks)]
    silent = [number for number, turn in played if not _answered(turn, speaks)]
    wanted = spec.expect.min_turns_answered
    if wanted is None:
        expected = f"{what} for each of the {asked} turn{_s(asked)}"
        passed = len(answered) >= asked and not silent
    else:
        expected = f"{what} for at least {wanted} turn{_s(wanted)}"
        passed = len(answered) >= wanted
    got = f"{len(answered)} of {asked} answered"
    if silent:
        got += f"; no {what} for turn {', '.join(map(str, silent))}"
    if len(played) < asked:
        got += f"; only {len(played)} turn{_s(len(played))} played"
    return Check(name="turns answered", passed=passed, expected=expected, got=got)


def _latency(budget_ms: float, turns: tuple[TurnMetrics, ...]) -> Check:
    measured = [
        (number, turn.response_latency_ms)
        for number, turn in enumerate(turns, 1)
        if turn.response_latency_ms is not None
    ]
    over = [(number, ms) for number, ms in measured if ms > budget_ms]
    if over:
        got = "; ".join(f"turn {number}: {ms:.0f} ms" for number, ms in over)
    elif measured:
        number, ms = max(measured, key=lambda item: item[1])
        got = f"at most {ms:.0f} ms (turn {number})"
    else:
        got = "no turn had a measured latency"
    return Check(
        name="latency",
        passed=not over,
        expected=f"every response within {budget_ms:.0f} ms",
        got=got,
    )


def _barge_in_stop(budget_ms: float, spec: ScenarioSpec, turns: tuple[TurnMetrics, ...]) -> Check:
    expected = f"agent audio stops within {budget_ms:.0f} ms of each barge-in"
    numbers = [n for n, turn in enumerate(spec.turns, 1) if isinstance(turn, BargeInTurn)]
    problems: list[str] = []
    timed: list[tuple[int, float]] = []
    for number in numbers:
        metrics = turns[number - 1] if number <= len(turns) else None
        if metrics is None:
            problems.append(f"turn {number}: not played")
        elif metrics.barge_in_stop_ms is not None:
            timed.append((number, metrics.barge_in_stop_ms))
            if metrics.barge_in_stop_ms > budget_ms:
                problems.append(f"turn {number}: stopped after {metrics.barge_in_stop_ms:.0f} ms")
        elif not metrics.interrupted_agent:
            problems.append(f"turn {number}: the agent was not speaking when the user did")
        else:
            problems.append(f"turn {number}: the agent's audio never stopped")
    if problems:
        got = "; ".join(problems)
    else:
        number, ms = max(timed, key=lambda item: item[1])
        got = f"stopped after at most {ms:.0f} ms (turn {number})"
    return Check(name="barge-in stop", passed=not problems, expected=expected, got=got)


def _false_interruptions(limit: int, result: SessionResult) -> Check:
    count = result.metrics.false_interruptions
    cut = [
        str(number)
        for number, turn in enumerate(result.turns, 1)
        if turn.kind == "backchannel" and turn.interrupted_agent
    ]
    got = f"{count} false interruption{_s(count)}"
    if cut:
        got += f"; the agent stopped for the backchannel of turn {', '.join(cut)}"
    return Check(
        name="false interruptions",
        passed=count <= limit,
        expected=f"the agent cut off by a non-turn at most {limit} time{_s(limit)}",
        got=got,
    )


def _user_wer(limit: float, spec: ScenarioSpec, turns: tuple[TurnMetrics, ...]) -> Check:
    expected = f"user transcription WER at most {limit:.2f}"
    pairs: list[tuple[int, str, str]] = []
    untranscribed: list[int] = []
    for number, (turn, metrics) in enumerate(zip(spec.turns, turns, strict=False), 1):
        reference = spoken_text(turn)
        if reference is None:
            continue
        if is_transcribed(metrics.user_transcript):
            pairs.append((number, reference, metrics.user_transcript or ""))
        else:
            untranscribed.append(number)
    if not pairs:
        return Check(
            name="user WER",
            passed=True,
            skipped=True,
            expected=expected,
            got="not transcribed by this backend",
        )
    wer, per_turn = word_error_rate(pairs)
    worst = max(per_turn, key=lambda item: item.wer)
    got = f"WER {wer:.2f} over {len(pairs)} turn{_s(len(pairs))}"
    if worst.wer > 0:
        heard = _clip(worst.hypothesis, 60)
        got += f"; worst turn {worst.number}: {worst.wer:.2f} (heard {heard!r})"
    if untranscribed:
        got += f"; turn {', '.join(map(str, untranscribed))} not transcribed"
    return Check(name="user WER", passed=wer <= limit, expected=expected, got=got)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _describe_call(call: ToolCallRecord) -> str:
    outcome = "ok" if call.ok else f"failed ({call.error_type or 'error'})"
    return f"{call.name}({_clip(call.arguments, 80)}) {outcome}"


def _call_problems(wanted: ToolExpectation, call: ToolCallRecord) -> list[str]:
    """Why ``call`` does not satisfy ``wanted`` (empty when it does)."""
    problems: list[str] = []
    if wanted.arguments or wanted.arguments_match:
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            return ["its arguments are not a JSON object"]
        for key, value in wanted.arguments.items():
            if key not in arguments:
                problems.append(f"no {key!r} argument")
            elif arguments[key] != value:
                problems.append(f"{key} is {_json(arguments[key])}")
        for key, pattern in wanted.arguments_match.items():
            if key not in arguments:
                problems.append(f"no {key!r} argument")
                continue
            value = arguments[key]
            text = value if isinstance(value, str) else _json(value)
            if not re.search(pattern, text, re.IGNORECASE):
                problems.append(f"{key} is {_json(value)}")
    if wanted.ok is not None and call.ok != wanted.ok:
        problems.append(
            f"it failed ({call.error_type or 'error'})" if wanted.ok else "it succeeded"
        )
    return problems


def _tools_called(wanted: list[ToolExpectation], calls: tuple[ToolCallRecord, ...]) -> list[Check]:
    """One check per expectation, each satisfied by a call of its own.

    Four identical expectations need four calls: expectations and calls are matched one to one
    (a maximum bipartite matching, so an expectation that only one call fits still gets it when
    a looser expectation could have taken that call too).
    """
    fits = [
        [
            index
            for index, call in enumerate(calls)
            if call.name == expectation.name and not _call_problems(expectation, call)
        ]
        for expectation in wanted
    ]
    claimed = _one_to_one(fits)
    checks = []
    seen: dict[str, int] = {}
    for position, expectation in enumerate(wanted):
        seen[expectation.name] = seen.get(expectation.name, 0) + 1
        check = _tool_called(expectation, calls, claimed.get(position), len(fits[position]))
        if seen[expectation.name] > 1:  # repeated names stay apart in reports
            check = check.model_copy(update={"name": f"{check.name} #{seen[expectation.name]}"})
        checks.append(check)
    return checks


def _one_to_one(fits: list[list[int]]) -> dict[int, int]:
    """Expectation index -> call index, as many pairs as possible (Kuhn's augmenting paths)."""
    owner: dict[int, int] = {}  # call index -> expectation index

    def assign(expectation: int, visited: set[int]) -> bool:
        for call in fits[expectation]:
            if call in visited:
                continue
            visited.add(call)
            if call not in owner or assign(owner[call], visited):
                owner[call] = expectation
                return True
        return False

    for expectation in range(len(fits)):
        assign(expectation, set())
    return {expectation: call for call, expectation in owner.items()}


def _tool_called(
    wanted: ToolExpectation,
    calls: tuple[ToolCallRecord, ...],
    claimed: int | None,
    fitting_count: int,
) -> Check:
    conditions = [f"{key} = {_json(value)}" for key, value in wanted.arguments.items()]
    conditions += [f"{key} ~ /{pattern}/" for key, pattern in wanted.arguments_match.items()]
    expected = f"a call of {wanted.name}" + (f" with {', '.join(conditions)}" if conditions else "")
    if wanted.ok is not None:
        expected += " that succeeds" if wanted.ok else " that fails"
    same_name = [call for call in calls if call.name == wanted.name]
    if not same_name:
        others = ", ".join(dict.fromkeys(call.name for call in calls))
        got = f"no {wanted.name} call" + (f" (calls: {others})" if others else " (no tool calls)")
        return Check(name=f"tool called: {wanted.name}", passed=False, expected=expected, got=got)
    if claimed is not None:
        got = _describe_call(calls[claimed])
    elif fitting_count:
        got = (
            f"{fitting_count} fitting {wanted.name} call{_s(fitting_count)}, "
            f"each already counted for another expectation"
        )
    else:
        judged = [(call, _call_problems(wanted, call)) for call in same_name]
        # The nearest miss says most about what went wrong.
        call, problems = min(judged, key=lambda item: len(item[1]))
        got = f"{_describe_call(call)}: {'; '.join(problems)}"
        if len(same_name) > 1:
            got += f" (best of {len(same_name)} calls)"
    return Check(
        name=f"tool called: {wanted.name}", passed=claimed is not None, expected=expected, got=got
    )


def _tool_not_called(name: str, calls: tuple[ToolCallRecord, ...]) -> Check:
    count = sum(1 for call in calls if call.name == name)
    return Check(
        name=f"tool not called: {name}",
        passed=count == 0,
        expected=f"no {name} call",
        got=f"{count} call{_s(count)}" if count else "not called",
    )


def _contains(text: str, transcript: str) -> Check:
    return Check(
        name=f"transcript contains {text!r}",
        passed=text.lower() in transcript.lower(),
        expected=f"the agent says {text!r}",
        got=_quote(transcript),
    )


def _matches(pattern: str, transcript: str) -> Check:
    match = re.search(pattern, transcript, re.IGNORECASE)
    return Check(
        name=f"transcript matches /{pattern}/",
        passed=match is not None,
        expected=f"the agent's words match /{pattern}/",
        got=f"matched {match.group(0)!r}" if match else _quote(transcript),
    )


def _not_contains(text: str, transcript: str) -> Check:
    at = transcript.lower().find(text.lower())
    if at < 0:
        got = "not said"
    else:
        start, end = max(0, at - 30), at + len(text) + 30
        got = f"said …{transcript[start:end]}…"
    return Check(
        name=f"transcript does not contain {text!r}",
        passed=at < 0,
        expected=f"the agent never says {text!r}",
        got=got,
    )


def _quote(transcript: str) -> str:
    return f'"{_clip(transcript, _CLIP_CHARS)}"' if transcript.strip() else "an empty transcript"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _s(count: int) -> str:
    return "" if count == 1 else "s"
