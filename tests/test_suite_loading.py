"""Loading eval suites: the shipped smoke suite loads, and every broken file gets one clear line."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from voxray.actors.conversation.script import AudioTurn, BargeInTurn, SayTurn, TextTurn
from voxray.actors.errors import ConfigError
from voxray.evals.suite import Suite, load_suite, select, with_overrides

SMOKE = Path(__file__).resolve().parent.parent / "configs" / "evals" / "smoke.yaml"

HEADER = """\
name: broken
scenarios:
  - name: first
    turns: [{say: Hello there}]
"""


def _write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_suite(path)
    message = str(caught.value)
    assert "\n" not in message, message
    assert message.startswith(f"{path}: "), message
    return message


def test_smoke_suite_loads() -> None:
    suite = load_suite(SMOKE)
    assert suite.backend == "sim"
    assert suite.concurrency == 3
    names = [scenario.name for scenario in suite.scenarios]
    assert names == ["spoken-question", "typed-question", "spoken-tool-call"]
    tool_call = suite.scenarios[2]
    assert [tool.name for tool in tool_call.agent.tools] == ["get_weather"]
    assert tool_call.expect.tools_called[0].arguments == {"city": "Paris"}
    assert isinstance(suite.scenarios[1].turns[0], TextTurn)
    # defaults.agent reached every scenario, including the one with an agent of its own
    assert {s.agent.instructions for s in suite.scenarios} == {suite.defaults.agent["instructions"]}
    assert all(s.reply_timeout_s == 30 for s in suite.scenarios)


def test_script_carries_turns_and_timeout() -> None:
    spec = load_suite(SMOKE).scenarios[0]
    script = spec.script()
    assert script.turns == spec.turns
    assert isinstance(script.turns[0], SayTurn)
    assert script.reply_timeout_s == spec.reply_timeout_s


def test_bad_voice_names_scenario_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER + "  - name: weather\n    agent: {voice: bob}\n    turns: [{text: hi}]\n",
    )
    message = _error(path)
    assert "scenario 'weather' (scenarios[1]) → agent.voice: unknown voice 'bob'; known:" in message


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "    expect: {transcript_contain: hello}\n")
    message = _error(path)
    assert "scenario 'first' (scenarios[0]) → expect.transcript_contain: unknown key" in message
    assert "did you mean 'transcript_contains'?" in message


def test_unknown_key_in_a_turn_lists_that_turns_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: s\nscenarios:\n  - name: a\n    turns: [{say: hi, speed: 2}]\n")
    message = _error(path)
    assert "scenario 'a' (scenarios[0]) → turns[0].speed: unknown key 'speed'" in message
    assert "allowed: say, voice, words_per_minute" in message
    assert " — also " not in message  # the tuple's knock-on "too short" is not counted


def test_turn_of_no_known_kind(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: s\nscenarios:\n  - name: a\n    turns: [{speak: hi}]\n")
    assert (
        "turns[0]: a turn needs exactly one of `say`, `audio`, `text`, `wait_ms`, `barge_in` "
        "or `backchannel`" in _error(path)
    )


def test_missing_turns(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: s\nscenarios:\n  - name: quiet\n")
    assert _error(path).endswith(
        "scenario 'quiet' (scenarios[0]) → turns: a scenario needs `turns` or a `caller`"
    )


def test_scenario_without_name_is_named_by_index(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "  - turns: [{say: hi}]\n")
    assert "scenarios[1] → name: required key is missing" in _error(path)


def test_unsafe_scenario_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: s\nscenarios:\n  - name: a/b\n    turns: [{say: hi}]\n")
    assert "→ name: 'a/b' may only use letters, digits, '-' and '_'" in _error(path)


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "    expect: {transcript_contains: [a, b}\n")
    message = _error(path)
    assert message.startswith(f"{path}: line 5, column ")
    assert "YAML syntax error" in message


def test_key_given_twice_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "    turns: [{say: again}]\n")
    message = _error(path)
    assert "line 5" in message
    assert "key 'turns' appears twice" in message


def test_missing_wav(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "  - name: caller\n    turns: [{audio: audio/hello.wav}]\n")
    message = _error(path)
    expected = (
        f"scenario 'caller' (scenarios[1]) → turns[0].audio: audio file not found: {tmp_path}"
    )
    assert expected in message
    assert "hello.wav" in message


def test_wav_path_is_resolved_against_the_suite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "audio").mkdir()
    with wave.open(str(tmp_path / "audio" / "hello.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(b"\0\0" * 1600)
    path = _write(tmp_path, HEADER + "  - name: caller\n    turns: [{audio: audio/hello.wav}]\n")
    monkeypatch.chdir("/")  # the current directory must not matter
    turn = load_suite(path).scenarios[1].turns[0]
    assert isinstance(turn, AudioTurn)
    assert turn.audio == (tmp_path / "audio" / "hello.wav").resolve()


def test_duplicate_scenario_names(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "  - name: first\n    turns: [{text: hi}]\n")
    message = _error(path)
    assert "scenario 'first' (scenarios[1]) → name: duplicate scenario name 'first'" in message
    assert "scenarios[0] already uses it" in message


def test_unimportable_tool(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER
        + "  - name: tools\n    agent: {tools: [no_such_package.tools:get_weather]}\n"
        + "    turns: [{say: hi}]\n",
    )
    message = _error(path)
    assert "scenario 'tools' (scenarios[1]) → agent.tools:" in message
    assert "no_such_package" in message


def test_expected_tool_must_be_declared(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "    expect: {tools_called: [get_weather]}\n")
    message = _error(path)
    assert "scenario 'first' (scenarios[0]) → expect.tools_called[0].name:" in message
    assert "'get_weather' is not one of the agent's tools (none)" in message


def test_bad_regex_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "    expect: {transcript_matches: [ok, '(unclosed']}\n")
    assert "→ expect.transcript_matches[1]: '(unclosed' is not a valid regex" in _error(path)


def test_bad_default_is_reported_at_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "defaults: {agent: {voice: bob}}\n" + HEADER)
    assert f"{path}: defaults.agent.voice: unknown voice 'bob'" in _error(path)


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    assert "suite file not found (packaged examples, run by name: " in _error(
        tmp_path / "nope.yaml"
    )
    assert "expected a mapping" in _error(_write(tmp_path, "- just\n- a list\n"))


def test_range_errors_show_the_value(tmp_path: Path) -> None:
    path = _write(tmp_path, "concurrency: 0\n" + HEADER)
    assert f"{path}: concurrency: input should be greater than or equal to 1 (got 0)" == _error(
        path
    )


def test_defaults_deep_merge_under_scenario_agent(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
name: merged
defaults:
  agent:
    voice: eve
    turn_detection: {silence_duration_ms: 700}
  sim: {default_reply: Sure.}
  reply_timeout_s: 12
scenarios:
  - name: own-threshold
    agent: {turn_detection: {threshold: 0.5}}
    turns: [{say: hi}]
    reply_timeout_s: 5
  - name: inherits
    sim: {rules: [{turn: 1, reply: Hello.}]}
    turns: [{say: hi}]
""",
    )
    own, inherits = load_suite(path).scenarios
    assert own.agent.voice == "eve"
    assert own.agent.turn_detection is not None
    assert own.agent.turn_detection.threshold == 0.5
    assert own.agent.turn_detection.silence_duration_ms == 700
    assert own.reply_timeout_s == 5
    assert own.sim.default_reply == "Sure."
    assert inherits.reply_timeout_s == 12
    assert inherits.sim.default_reply == "Sure."
    assert [rule.reply for rule in inherits.sim.rules] == ["Hello."]


def test_select_by_substring_and_glob() -> None:
    suite = load_suite(SMOKE)
    assert [s.name for s in select(suite, None)] == [s.name for s in suite.scenarios]
    assert [s.name for s in select(suite, "tool")] == ["spoken-tool-call"]
    assert [s.name for s in select(suite, "*-question")] == ["spoken-question", "typed-question"]
    assert [s.name for s in select(suite, "typed,tool")] == ["typed-question", "spoken-tool-call"]
    assert select(suite, "nothing-like-this") == []


def test_with_overrides_validates_and_keeps_scenarios() -> None:
    suite = load_suite(SMOKE)
    changed = with_overrides(suite, backend="xai", concurrency=1, repeat=3, output_dir=Path("/x"))
    assert (changed.backend, changed.concurrency, changed.repeat) == ("xai", 1, 3)
    assert changed.output_dir == Path("/x")
    assert changed.scenarios == suite.scenarios
    assert with_overrides(suite) is suite
    with pytest.raises(ConfigError, match=r"override repeat: input should be greater"):
        with_overrides(suite, repeat=0)


def test_suite_built_in_python_needs_no_file() -> None:
    suite = Suite.model_validate(
        {"name": "py", "scenarios": [{"name": "a", "turns": [{"text": "hi"}]}]}
    )
    assert suite.scenarios[0].expect.tools_called == []


def test_barge_in_turn_and_new_expectations_load(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
name: interrupting
scenarios:
  - name: cut-off
    turns:
      - say: Tell me everything about your store.
      - {barge_in: Just the hours please., after_ms: 800, voice: en-gb, words_per_minute: 200}
    expect:
      max_barge_in_stop_ms: 300
      max_latency_p95_ms: 1500
      max_user_wer: 0.3
""",
    )
    scenario = load_suite(path).scenarios[0]
    turn = scenario.turns[1]
    assert isinstance(turn, BargeInTurn)
    assert (turn.barge_in, turn.after_ms, turn.voice, turn.words_per_minute) == (
        "Just the hours please.",
        800,
        "en-gb",
        200,
    )
    assert scenario.script().turns[1] == turn
    expect = scenario.expect
    assert (expect.max_barge_in_stop_ms, expect.max_latency_p95_ms, expect.max_user_wer) == (
        300,
        1500,
        0.3,
    )


@pytest.mark.parametrize(
    ("turns", "index", "why"),
    [
        ("[{barge_in: stop}]", 0, "cannot be the first turn"),
        ("[{say: hi}, {wait_ms: 500}, {barge_in: stop}]", 2, "not a wait_ms"),
    ],
)
def test_misplaced_barge_in_is_named(tmp_path: Path, turns: str, index: int, why: str) -> None:
    path = _write(tmp_path, f"name: s\nscenarios:\n  - name: a\n    turns: {turns}\n")
    message = _error(path)
    assert f"scenario 'a' (scenarios[0]) → turns[{index}].barge_in: a barge_in turn" in message
    assert why in message


def test_unknown_key_in_a_barge_in_turn_lists_its_keys(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "name: s\nscenarios:\n  - name: a\n    turns: [{say: hi}, {barge_in: x, at: 2}]\n"
    )
    message = _error(path)
    assert "turns[1].at: unknown key 'at'" in message
    assert "allowed: barge_in, after_ms, voice, words_per_minute" in message


@pytest.mark.parametrize(
    ("expect", "field", "why"),
    [
        ("{max_barge_in_stop_ms: 300}", "max_barge_in_stop_ms", "no `barge_in` turn to time"),
        ("{max_user_wer: 0.2}", "max_user_wer", "no `say` or `barge_in` turn"),
        ("{max_latency_p95_ms: 0}", "max_latency_p95_ms", "greater than 0"),
        ("{max_user_wer: -1}", "max_user_wer", "greater than or equal to 0"),
    ],
)
def test_expectations_that_cannot_be_judged_are_refused(
    tmp_path: Path, expect: str, field: str, why: str
) -> None:
    path = _write(
        tmp_path,
        f"name: s\nscenarios:\n  - name: a\n    turns: [{{text: hi}}]\n    expect: {expect}\n",
    )
    message = _error(path)
    assert f"scenario 'a' (scenarios[0]) → expect.{field}: " in message
    assert why in message


def test_every_example_suite_loads() -> None:
    suites = sorted(SMOKE.parent.glob("*.yaml"))
    assert len(suites) >= 5, suites
    for path in suites:
        suite = load_suite(path)
        assert suite.backend == "sim", path


def test_every_problem_is_shown_not_just_counted(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "name: s\nconcurrency: 0\nscenarios:\n"
        "  - name: a\n    agent: {voice: bob}\n    turns: [{text: hi}]\n"
        "  - name: b\n    turns: [{text: hi}]\n    expect: {max_latency_ms: -1}\n",
    )
    message = _error(path)
    assert "concurrency: input should be greater than or equal to 1" in message
    assert " — also scenario 'a' (scenarios[0]) → agent.voice: unknown voice 'bob'" in message
    assert "; scenario 'b' (scenarios[1]) → expect.max_latency_ms: " in message
    assert "more problem" not in message  # three problems, all shown


def test_past_four_problems_the_rest_are_counted(tmp_path: Path) -> None:
    scenarios = "".join(
        f"  - name: s{i}\n    agent: {{voice: bob}}\n    reply_timeout_s: 0\n" for i in range(6)
    )
    message = _error(_write(tmp_path, "name: s\nscenarios:\n" + scenarios))
    # Each scenario also has a timeout out of range: 12 problems, 4 shown.
    assert message.count("unknown voice 'bob'") + message.count("reply_timeout_s") == 4
    assert message.endswith("; and 8 more problems")
