"""Scoring: every expectation passes on a matching result and fails, saying why, on another."""

from __future__ import annotations

import json
from typing import Any

import pytest
from voxray.actors.conversation.result import SessionResult, ToolCallRecord, TurnMetrics
from voxray.evals.scoring import Check, ScenarioScore, score
from voxray.evals.suite import ScenarioSpec

WEATHER_TOOL = "voxray.examples.tools:get_weather"


def _spec(expect: dict[str, Any] | None = None, **fields: Any) -> ScenarioSpec:
    data: dict[str, Any] = {
        "name": "scenario",
        "agent": {"tools": [WEATHER_TOOL]},
        "turns": [{"say": "What is the weather in Paris?"}],
        "expect": expect or {},
    }
    data.update(fields)
    return ScenarioSpec.model_validate(data)


def _turn(
    index: int = 0,
    *,
    kind: str = "say",
    latency_ms: float | None = 600.0,
    audio_ms: float = 1500.0,
    said: str = "It is sunny in Paris.",
) -> TurnMetrics:
    answered = audio_ms > 0
    return TurnMetrics(
        index=index,
        kind=kind,
        user_speech_end_ms=1000.0,
        first_agent_audio_ms=1000.0 + (latency_ms or 0) if answered else None,
        response_latency_ms=latency_ms if answered else None,
        agent_audio_ms=audio_ms,
        agent_transcript=said if answered else "",
    )


def _call(name: str = "get_weather", arguments: Any = None, *, ok: bool = True) -> ToolCallRecord:
    return ToolCallRecord(
        call_id=f"call_{name}",
        name=name,
        arguments=json.dumps({"city": "Paris"} if arguments is None else arguments),
        output='{"temperature": 17}' if ok else '{"error": {"type": "timeout"}}',
        ok=ok,
        error_type=None if ok else "timeout",
        latency_ms=3.0,
        t_ms=2000.0,
    )


def _result(
    turns: tuple[TurnMetrics, ...] | None = None, calls: tuple[ToolCallRecord, ...] = ()
) -> SessionResult:
    return SessionResult(status="completed", turns=turns or (_turn(),), tool_calls=calls)


def _check(verdict: ScenarioScore, prefix: str) -> Check:
    found = [check for check in verdict.checks if check.name.startswith(prefix)]
    assert len(found) == 1, [check.name for check in verdict.checks]
    return found[0]


def test_a_session_that_did_not_complete_fails_on_one_named_check() -> None:
    result = SessionResult(status="lost", error="SessionLostError: actor died")
    verdict = score(_spec({"transcript_contains": ["Paris"]}), result)
    assert not verdict.passed
    assert [check.name for check in verdict.checks] == ["session"]
    assert verdict.checks[0].got == "lost: SessionLostError: actor died"
    assert verdict.failures == verdict.checks


def test_a_matching_result_passes_every_check() -> None:
    spec = _spec(
        {
            "tools_called": [{"name": "get_weather", "arguments": {"city": "Paris"}, "ok": True}],
            "tools_not_called": ["lookup_order"],
            "transcript_contains": ["PARIS"],
            "transcript_matches": [r"sunny|rain"],
            "transcript_not_contains": ["sorry"],
            "max_latency_ms": 1000,
        }
    )
    verdict = score(spec, _result(calls=(_call(),)))
    assert verdict.passed, verdict.failures
    assert len(verdict.checks) == 8  # session, turns answered, latency and the six above
    assert verdict.failures == ()


def test_each_turn_must_be_answered_by_default() -> None:
    spec = _spec(turns=[{"say": "one"}, {"wait_ms": 500}, {"text": "three"}])
    turns = (_turn(0), _turn(1, kind="wait", audio_ms=0), _turn(2, audio_ms=0))
    check = _check(score(spec, _result(turns)), "turns answered")
    assert not check.passed
    assert check.expected == "agent audio for each of the 2 turns"
    assert check.got == "1 of 2 answered; no agent audio for turn 3"

    answered = (_turn(0), _turn(1, kind="wait", audio_ms=0), _turn(2))
    assert _check(score(spec, _result(answered)), "turns answered").passed


def test_a_session_that_stopped_early_reports_missing_turns() -> None:
    spec = _spec(turns=[{"say": "one"}, {"say": "two"}])
    check = _check(score(spec, _result((_turn(0),))), "turns answered")
    assert not check.passed
    assert check.got == "1 of 2 answered; only 1 turn played"


def test_min_turns_answered_relaxes_the_default() -> None:
    spec = _spec({"min_turns_answered": 1}, turns=[{"say": "one"}, {"say": "two"}])
    turns = (_turn(0), _turn(1, audio_ms=0))
    check = _check(score(spec, _result(turns)), "turns answered")
    assert check.passed
    assert check.expected == "agent audio for at least 1 turn"

    strict = _spec({"min_turns_answered": 2}, turns=[{"say": "one"}, {"say": "two"}])
    assert not _check(score(strict, _result(turns)), "turns answered").passed


def test_text_only_agent_answers_with_text() -> None:
    spec = _spec(agent={"modalities": ["text"]})
    text_answer = TurnMetrics(index=0, kind="say", agent_transcript="Hello!")
    check = _check(score(spec, _result((text_answer,))), "turns answered")
    assert check.passed
    assert check.expected == "an agent reply for each of the 1 turn"


def test_latency_budget() -> None:
    spec = _spec({"max_latency_ms": 800}, turns=[{"say": "one"}, {"say": "two"}])
    slow = (_turn(0, latency_ms=612), _turn(1, latency_ms=1234.4))
    check = _check(score(spec, _result(slow)), "latency")
    assert not check.passed
    assert check.expected == "every response within 800 ms"
    assert check.got == "turn 2: 1234 ms"

    fast = (_turn(0, latency_ms=612), _turn(1, latency_ms=580))
    check = _check(score(spec, _result(fast)), "latency")
    assert check.passed
    assert check.got == "at most 612 ms (turn 1)"


def test_tool_called_with_wrong_argument_says_what_it_was() -> None:
    spec = _spec({"tools_called": [{"name": "get_weather", "arguments": {"city": "Paris"}}]})
    check = _check(score(spec, _result(calls=(_call(arguments={"city": "Lyon"}),))), "tool called")
    assert not check.passed
    assert check.expected == 'a call of get_weather with city = "Paris"'
    assert check.got == 'get_weather({"city": "Lyon"}) ok: city is "Lyon"'


def test_tool_called_missing_lists_the_calls_made() -> None:
    spec = _spec({"tools_called": ["get_weather"]})
    check = _check(score(spec, _result()), "tool called")
    assert not check.passed
    assert check.got == "no get_weather call (no tool calls)"

    check = _check(score(spec, _result(calls=(_call("lookup_order", {}),))), "tool called")
    assert check.got == "no get_weather call (calls: lookup_order)"


def test_tool_called_must_have_succeeded() -> None:
    spec = _spec({"tools_called": [{"name": "get_weather", "ok": True}]})
    check = _check(score(spec, _result(calls=(_call(ok=False),))), "tool called")
    assert not check.passed
    assert check.expected == "a call of get_weather that succeeds"
    assert check.got.endswith("failed (timeout): it failed (timeout)")


def test_tool_called_passes_when_any_call_fits() -> None:
    spec = _spec({"tools_called": [{"name": "get_weather", "arguments": {"city": "Paris"}}]})
    calls = (_call(arguments={"city": "Lyon"}), _call(arguments={"city": "Paris", "unit": "c"}))
    check = _check(score(spec, _result(calls=calls)), "tool called")
    assert check.passed
    assert check.got.startswith('get_weather({"city": "Paris"')


@pytest.mark.parametrize(
    ("pattern", "value", "passed"),
    [("^par", "Paris", True), ("^(?-i:par)", "Paris", False), ("^2$", 2, True)],
)
def test_arguments_match_regex(pattern: str, value: Any, passed: bool) -> None:
    spec = _spec({"tools_called": [{"name": "get_weather", "arguments_match": {"city": pattern}}]})
    check = _check(score(spec, _result(calls=(_call(arguments={"city": value}),))), "tool called")
    assert check.passed is passed
    assert f"city ~ /{pattern}/" in check.expected
    if not passed:
        assert check.got.endswith(f"city is {json.dumps(value)}")


def test_arguments_that_are_not_json() -> None:
    spec = _spec({"tools_called": [{"name": "get_weather", "arguments": {"city": "Paris"}}]})
    broken = _call().model_copy(update={"arguments": "{city: Paris"})
    check = _check(score(spec, _result(calls=(broken,))), "tool called")
    assert not check.passed
    assert check.got.endswith("its arguments are not a JSON object")


def test_tool_not_called() -> None:
    spec = _spec({"tools_not_called": ["get_weather"]})
    check = _check(score(spec, _result(calls=(_call(), _call()))), "tool not called")
    assert not check.passed
    assert (check.expected, check.got) == ("no get_weather call", "2 calls")
    assert _check(score(spec, _result()), "tool not called").got == "not called"


def test_transcript_contains_is_case_insensitive_and_spans_turns() -> None:
    spec = _spec({"transcript_contains": ["sunny in paris"]}, turns=[{"say": "a"}, {"say": "b"}])
    turns = (_turn(0, said="It is sunny"), _turn(1, said="in Paris."))
    assert _check(score(spec, _result(turns)), "transcript contains").passed

    check = _check(
        score(spec, _result((_turn(0, said="Rain."), _turn(1, said="Snow.")))), "transcript"
    )
    assert not check.passed
    assert check.expected == "the agent says 'sunny in paris'"
    assert check.got == '"Rain. Snow."'


def test_transcript_contains_on_silence() -> None:
    spec = _spec({"transcript_contains": ["Paris"], "min_turns_answered": 0})
    check = _check(score(spec, _result((_turn(audio_ms=0),))), "transcript contains")
    assert not check.passed
    assert check.got == "an empty transcript"


def test_transcript_matches() -> None:
    spec = _spec({"transcript_matches": [r"\d+ degrees"]})
    check = _check(score(spec, _result((_turn(said="It is 17 DEGREES."),))), "transcript matches")
    assert check.passed
    assert check.got == "matched '17 DEGREES'"

    check = _check(score(spec, _result()), "transcript matches")
    assert not check.passed
    assert check.expected == r"the agent's words match /\d+ degrees/"
    assert check.got == '"It is sunny in Paris."'


def test_transcript_not_contains_shows_where_it_was_said() -> None:
    spec = _spec({"transcript_not_contains": ["SORRY"]})
    check = _check(score(spec, _result((_turn(said="I am sorry, I cannot."),))), "transcript")
    assert not check.passed
    assert check.expected == "the agent never says 'SORRY'"
    assert check.got == "said …I am sorry, I cannot.…"
    assert _check(score(spec, _result()), "transcript does not").got == "not said"


BARGE_IN_TURNS = [
    {"say": "Tell me about the store."},
    {"barge_in": "Just the hours.", "after_ms": 600},
]


def _barge_in_turns(stop_ms: float | None, *, interrupted: bool = True) -> tuple[TurnMetrics, ...]:
    cut = TurnMetrics(
        index=1,
        kind="barge_in",
        user_speech_start_ms=2600.0,
        user_speech_end_ms=3400.0,
        first_agent_audio_ms=4000.0,
        response_latency_ms=600.0,
        agent_audio_ms=900.0,
        agent_transcript="We open at nine.",
        interrupted_agent=interrupted,
        barge_in_stop_ms=stop_ms,
    )
    return (_turn(0), cut)


def test_barge_in_stop_within_budget() -> None:
    spec = _spec({"max_barge_in_stop_ms": 300}, turns=BARGE_IN_TURNS)
    check = _check(score(spec, _result(_barge_in_turns(120.4))), "barge-in stop")
    assert check.passed
    assert check.expected == "agent audio stops within 300 ms of each barge-in"
    assert check.got == "stopped after at most 120 ms (turn 2)"


@pytest.mark.parametrize(
    ("stop_ms", "interrupted", "got"),
    [
        (450.0, True, "turn 2: stopped after 450 ms"),
        (None, False, "turn 2: the agent was not speaking when the user did"),
        (None, True, "turn 2: the agent's audio never stopped"),
    ],
)
def test_barge_in_stop_failures_say_why(stop_ms: float | None, interrupted: bool, got: str) -> None:
    spec = _spec({"max_barge_in_stop_ms": 300}, turns=BARGE_IN_TURNS)
    check = _check(
        score(spec, _result(_barge_in_turns(stop_ms, interrupted=interrupted))), "barge-in stop"
    )
    assert not check.passed
    assert check.got == got


def test_barge_in_turn_that_never_played_fails() -> None:
    spec = _spec({"max_barge_in_stop_ms": 300}, turns=BARGE_IN_TURNS)
    check = _check(score(spec, _result((_turn(0),))), "barge-in stop")
    assert not check.passed
    assert check.got == "turn 2: not played"


def _heard(text: str | None, index: int = 0) -> TurnMetrics:
    return _turn(index).model_copy(update={"user_transcript": text})


def test_user_wer_passes_on_a_close_transcription() -> None:
    spec = _spec({"max_user_wer": 0.2})
    verdict = score(spec, _result((_heard("what is the weather in Paris"),)))
    check = _check(verdict, "user WER")
    assert check.passed and not check.skipped
    assert check.expected == "user transcription WER at most 0.20"
    assert check.got == "WER 0.00 over 1 turn"


def test_user_wer_fails_and_quotes_the_worst_turn() -> None:
    spec = _spec(
        {"max_user_wer": 0.2},
        turns=[{"say": "What is the weather in Paris?"}, {"say": "Thanks a lot"}],
    )
    turns = (_heard("what is the weather in Paris", 0), _heard("tanks allot", 1))
    check = _check(score(spec, _result(turns)), "user WER")
    assert not check.passed
    # 3 errors (2 substitutions + 1 deletion) over 9 reference words, corpus-level.
    assert check.got == "WER 0.33 over 2 turns; worst turn 2: 1.00 (heard 'tanks allot')"


@pytest.mark.parametrize("transcript", [None, "[speech 1.6 s]"])
def test_user_wer_is_skipped_loudly_without_a_transcription(transcript: str | None) -> None:
    spec = _spec({"max_user_wer": 0.2})
    verdict = score(spec, _result((_heard(transcript),)))
    check = _check(verdict, "user WER")
    assert check.skipped and check.outcome == "skip"
    assert check.got == "not transcribed by this backend"
    assert verdict.skipped == (check,)
    assert verdict.passed  # a skipped check is not a failure...
    assert check not in verdict.failures  # ...and it is listed apart, never as a pass


def test_simulator_placeholder_is_not_a_transcription() -> None:
    try:  # where the simulator's transcription lives since it learned pocketsphinx
        from voxray.actors.simulator.transcription import heard_placeholder
    except ImportError:
        from voxray.actors.simulator.item_ops import heard_placeholder
    from voxray.evals.wer import is_transcribed

    assert not is_transcribed(heard_placeholder(1640.0))
    assert is_transcribed("")  # an empty transcription is still one: every word was missed


def test_repeated_tool_expectations_each_need_a_call_of_their_own() -> None:
    spec = _spec({"tools_called": ["get_weather"] * 4})
    verdict = score(spec, _result(calls=(_call(), _call(), _call())))
    assert not verdict.passed
    checks = [check for check in verdict.checks if check.name.startswith("tool called")]
    assert [check.passed for check in checks] == [True, True, True, False]
    assert checks[3].name == "tool called: get_weather #4"
    assert (
        checks[3].got == "3 fitting get_weather calls, each already counted for another expectation"
    )
    assert score(spec, _result(calls=(_call(),) * 4)).passed


def test_a_loose_expectation_leaves_the_only_fitting_call_to_a_strict_one() -> None:
    # In this order a first-come match would give the Paris call to the name-only expectation.
    spec = _spec(
        {"tools_called": ["get_weather", {"name": "get_weather", "arguments": {"city": "Paris"}}]}
    )
    calls = (_call(arguments={"city": "Paris"}), _call(arguments={"city": "Lyon"}))
    assert score(spec, _result(calls=calls)).passed
    assert not score(spec, _result(calls=calls[:1])).passed
