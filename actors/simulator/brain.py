"""The scripted brain: maps what the simulator heard to a reply and/or function calls.

Pure and deterministic: the same script, heard text and turn index always give the same
decision, so eval scenarios are reproducible.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voxray.actors.simulator.rules import ECHO, BrainRule, BrainScript

__all__ = ["Brain", "Decision", "PlannedCall", "render"]

_PLACEHOLDER = re.compile(r"\{(\w+)((?:\.\w+)*)\}")
_COMPACT_LIMIT = 200


def render(
    template: str, values: Mapping[str, str], fields: Mapping[str, Any] | None = None
) -> str:
    """Fill ``{name}`` placeholders from ``values``, and ``{name.key.key}`` from ``fields``
    (parsed JSON: a key of an object, or an index of a list); unknown names stay as written.

    Not ``str.format``: scripts contain JSON and other braces that must pass through untouched.
    """

    def fill(match: re.Match[str]) -> str:
        name, path = match.group(1), match.group(2)
        if not path:
            return values.get(name, match.group(0))
        node = (fields or {}).get(name, _MISSING)
        for key in path[1:].split("."):
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                return match.group(0)
        return _spoken(node)

    return _PLACEHOLDER.sub(fill, template)


_MISSING = object()


def _spoken(value: Any) -> str:
    # How a field reads in a sentence: 17, not 17.0; yes/no; nested values as compact JSON.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return "nothing"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)


def _render_value(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return render(value, values)
    if isinstance(value, dict):
        return {key: _render_value(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_value(item, values) for item in value]
    return value


@dataclass(frozen=True)
class PlannedCall:
    """A function call the brain decided to make, with everything needed to answer its output.

    ``after_tool`` and ``groups`` travel with the call so that answering the outputs later needs
    no state in the brain.
    """

    name: str
    arguments: Mapping[str, Any]
    after_tool: str | None = None
    groups: Mapping[str, str] = field(default_factory=dict)

    @property
    def arguments_json(self) -> str:
        """The arguments as the JSON string sent on the wire."""
        return json.dumps(self.arguments, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Decision:
    """What to do for one user turn: speak ``reply``, or speak ``preamble`` then make ``calls``."""

    reply: str | None = None
    preamble: str | None = None
    calls: tuple[PlannedCall, ...] = ()


def _compact(output: str) -> str:
    """A short one-line form of a tool output, re-serialised compactly when it is JSON."""
    try:
        text = json.dumps(json.loads(output), separators=(", ", ": "), ensure_ascii=False)
    except ValueError:
        text = " ".join(output.split())
    return text if len(text) <= _COMPACT_LIMIT else text[: _COMPACT_LIMIT - 3] + "..."


class Brain:
    """Answers user turns from a :class:`BrainScript`; the first matching rule wins."""

    def __init__(self, script: BrainScript) -> None:
        self._script = script
        self._rules: list[tuple[BrainRule, re.Pattern[str] | None, re.Pattern[str] | None]] = [
            (rule, rule.pattern(), rule.instructions_pattern()) for rule in script.rules
        ]

    @property
    def script(self) -> BrainScript:
        """The script this brain follows."""
        return self._script

    def decide(self, heard: str, turn_index: int, instructions: str = "") -> Decision:
        """Decide the response to the user turn ``turn_index`` (1-based) in which ``heard``
        was heard, under ``instructions`` (the response's, else the session's)."""
        decision = self.match(heard, turn_index, instructions)
        if decision is not None:
            return decision
        return Decision(reply=self._default_reply(heard))

    def match(
        self, heard: str | None, turn_index: int | None, instructions: str
    ) -> Decision | None:
        """The decision of the first matching rule, or None.

        ``heard``/``turn_index`` are None for a response that answers no user turn (a greeting
        or a check-in): only ``instructions``-only rules can match it.
        """
        for rule, pattern, wanted in self._rules:
            groups: dict[str, str] = {}
            if wanted is not None:
                found = wanted.search(instructions)
                if found is None:
                    continue
                groups.update({k: v for k, v in found.groupdict().items() if v is not None})
            if pattern is not None:
                match = pattern.search(heard) if heard is not None else None
                if match is None:
                    continue
                groups.update({k: v for k, v in match.groupdict().items() if v is not None})
            elif rule.turn is not None and rule.turn != turn_index:
                continue
            return self._from_rule(rule, groups)
        return None

    def after_tool(self, outputs: Sequence[tuple[PlannedCall, str]]) -> str:
        """What to say once the outputs of ``calls`` came back (output strings as received)."""
        joined = "; ".join(_compact(output) for _, output in outputs)
        if not outputs:
            return "I have no results yet."
        call = outputs[0][0]
        if call.after_tool is None:
            return f"Here is the result: {joined}."
        values = dict(call.groups)
        values["output"] = outputs[0][1] if len(outputs) == 1 else joined
        values["outputs"] = joined
        # Fields of the outputs: {output.temperature} (the first call), {output2.city} (the
        # second), as a real agent reads a result out rather than its JSON.
        parsed = [_parsed(output) for _, output in outputs]
        fields: dict[str, Any] = {f"output{index}": value for index, value in enumerate(parsed, 1)}
        fields["output"] = parsed[0]
        return render(call.after_tool, values, fields)

    def _default_reply(self, heard: str) -> str:
        if self._script.default_reply == ECHO:
            said = heard.strip()
            # Keep the speaker's own closing punctuation ("Hello!"); add a period otherwise.
            return f"You said: {said}" + ("" if said.endswith(("!", "?", ".")) else ".")
        return self._script.default_reply

    @staticmethod
    def _from_rule(rule: BrainRule, groups: dict[str, str]) -> Decision:
        if not rule.calls:
            assert rule.reply is not None  # guaranteed by BrainRule validation
            return Decision(reply=render(rule.reply, groups))
        calls = tuple(
            PlannedCall(
                name=call.name,
                arguments=_render_value(call.arguments, groups),
                after_tool=rule.after_tool,
                groups=groups,
            )
            for call in rule.calls
        )
        preamble = render(rule.preamble, groups) if rule.preamble is not None else None
        return Decision(preamble=preamble, calls=calls)


def _parsed(output: str) -> Any:
    try:
        return json.loads(output)
    except ValueError:
        return _MISSING
