"""The simulator's scripted brain: rule validation, matching, placeholders, tool answers."""

from __future__ import annotations

import json

import pytest
import yaml
from pydantic import ValidationError
from voxray.actors.simulator.brain import Brain, Decision, PlannedCall
from voxray.actors.simulator.rules import BrainRule, BrainScript, ScriptedCall

SUITE_YAML = r"""
default_reply: echo
rules:
  - turn: 1
    preamble: Let me check the weather in {city}.
    calls:
      - name: get_weather
        arguments: {location: Paris, units: metric}
    after_tool: "The weather: {output}"
  - heard: 'my name is (?P<name>\w+)'
    reply: "Nice to meet you, {name}."
  - heard: 'book (?P<what>\w+) and (?P<other>\w+)'
    calls:
      - name: book
        arguments: {item: "{what}", tags: ["{other}", 3]}
      - name: book
        arguments: {item: "{other}"}
"""


def script() -> BrainScript:
    return BrainScript.model_validate(yaml.safe_load(SUITE_YAML))


def test_a_turn_rule_makes_calls_with_a_preamble() -> None:
    decision = Brain(script()).decide("what's the weather", 1)
    assert decision.reply is None
    # {city} is not a regex group of a turn rule: it stays as written.
    assert decision.preamble == "Let me check the weather in {city}."
    assert [(c.name, dict(c.arguments)) for c in decision.calls] == [
        ("get_weather", {"location": "Paris", "units": "metric"})
    ]
    assert json.loads(decision.calls[0].arguments_json) == {"location": "Paris", "units": "metric"}


def test_heard_rules_match_case_insensitively_and_fill_groups() -> None:
    decision = Brain(script()).decide("Hello, MY NAME IS Ada.", 2)
    assert decision == Decision(reply="Nice to meet you, Ada.")


def test_first_matching_rule_wins() -> None:
    # Turn 1 matches the first rule even though the text matches the second.
    assert Brain(script()).decide("my name is Ada", 1).calls[0].name == "get_weather"


def test_parallel_calls_render_placeholders_at_any_depth() -> None:
    decision = Brain(script()).decide("please book flights and hotels", 3)
    assert [dict(c.arguments) for c in decision.calls] == [
        {"item": "flights", "tags": ["hotels", 3]},
        {"item": "hotels"},
    ]


def test_default_echo_and_fixed_default() -> None:
    assert Brain(script()).decide("[speech 1.4 s]", 5).reply == "You said: [speech 1.4 s]."
    assert Brain(script()).decide("Hello there!", 6).reply == "You said: Hello there!"
    assert Brain(script()).decide("Is it open?", 7).reply == "You said: Is it open?"
    fixed = Brain(BrainScript(default_reply="Sorry?"))
    assert fixed.decide("anything", 1) == Decision(reply="Sorry?")


def test_after_tool_uses_the_template_with_output() -> None:
    brain = Brain(script())
    (call,) = brain.decide("weather", 1).calls
    assert brain.after_tool([(call, '{"temp": 21}')]) == 'The weather: {"temp": 21}'


def test_after_tool_default_is_a_compact_summary() -> None:
    brain = Brain(script())
    calls = brain.decide("book cars and boats", 4).calls
    text = brain.after_tool([(calls[0], '{\n  "ok": true\n}'), (calls[1], "done  \n now")])
    assert text == 'Here is the result: {"ok": true}; done now.'


def test_after_tool_outputs_placeholder_joins_outputs() -> None:
    call = PlannedCall(
        name="f", arguments={}, after_tool="Got {outputs} for {x}", groups={"x": "y"}
    )
    assert Brain(BrainScript()).after_tool([(call, "1"), (call, "2")]) == "Got 1; 2 for y"


def test_deterministic() -> None:
    first = Brain(script()).decide("book a and b", 9)
    assert first == Brain(script()).decide("book a and b", 9)


@pytest.mark.parametrize(
    "rule",
    [
        {"reply": "hi"},  # neither heard nor turn
        {"heard": "x", "turn": 1, "reply": "hi"},  # both
        {"heard": "(", "reply": "hi"},  # bad regex
        {"turn": 0, "reply": "hi"},  # turns are 1-based
        {"turn": 1},  # nothing to do
        {"turn": 1, "reply": "hi", "calls": [{"name": "f"}]},  # reply with calls
        {"turn": 1, "reply": "hi", "after_tool": "x"},  # after_tool without calls
        {"turn": 1, "reply": "hi", "unknown": 1},  # typo in a key
    ],
)
def test_invalid_rules_are_rejected(rule: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        BrainRule.model_validate(rule)


def test_scripted_call_defaults() -> None:
    assert ScriptedCall(name="f").arguments == {}


def test_after_tool_reads_fields_of_the_output_aloud() -> None:
    call = PlannedCall(
        name="get_weather",
        arguments={},
        after_tool="It is {output.temperature} degrees {output.unit} and {output.conditions}.",
    )
    output = json.dumps({"temperature": 17.0, "unit": "celsius", "conditions": "windy"})
    assert Brain(BrainScript()).after_tool([(call, output)]) == (
        "It is 17 degrees celsius and windy."
    )


def test_after_tool_fields_of_each_call_nested_and_indexed() -> None:
    call = PlannedCall(
        name="f",
        arguments={},
        after_tool="{output.city}: {output.days.0.high}; {output2.city}: open {output2.open}",
    )
    first = json.dumps({"city": "Paris", "days": [{"high": 21}]})
    second = json.dumps({"city": "Lyon", "open": False})
    assert Brain(BrainScript()).after_tool([(call, first), (call, second)]) == (
        "Paris: 21; Lyon: open no"
    )


def test_after_tool_field_that_is_not_there_stays_as_written() -> None:
    call = PlannedCall(
        name="f", arguments={}, after_tool="{output.missing} / {output.a.b} / {output3.x}"
    )
    text = Brain(BrainScript()).after_tool([(call, '{"a": 1}')])
    assert text == "{output.missing} / {output.a.b} / {output3.x}"
    # Not JSON at all: the raw {output} still works, a field cannot be read.
    plain = PlannedCall(name="f", arguments={}, after_tool="{output} / {output.x}")
    assert Brain(BrainScript()).after_tool([(plain, "done")]) == "done / {output.x}"
