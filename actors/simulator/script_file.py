"""Rules files: a simulator's scripted brain written in YAML, outside any eval suite.

The schema is a scenario's ``sim:`` block (:class:`~voxray.actors.simulator.rules.BrainScript`:
``rules``, ``default_reply``, ``idle_reply``, ``latency``, ``faults``), plus ``scripts`` for
several named behaviours on one server::

    rules:                         # what the server's own token gets
      - heard: weather
        calls: [{name: get_weather, arguments: {city: Paris}}]
        after_tool: "It is {output} in Paris."
    faults: {actions: [{do: delay, ms: 100, events: [response.created]}]}
    scripts:                       # picked with ?script=<name> (or each one's own token)
      rude:
        default_reply: Go away.

A file that holds a scenario's block as is (``sim:`` as its only key) is read the same way.
Invalid input raises :class:`~voxray.actors.errors.ConfigError` with one line naming the file
and the field (``rules.yaml: rules.0.calls.0.name: Field required``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import Field, ValidationError, field_validator
from voxray.actors.errors import ConfigError
from voxray.actors.simulator.rules import BrainScript

__all__ = [
    "SCRIPT_NAME",
    "RulesFile",
    "describe_validation_error",
    "load_rules_file",
    "parse_rules",
]

SCRIPT_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""What a script's name may be (it travels in a URL's query: ``?script=<name>``)."""


class RulesFile(BrainScript):
    """A rules file: the default script (its own fields) and named ``scripts``."""

    scripts: dict[str, BrainScript] = Field(
        default_factory=dict,
        description="Named scripts, chosen per connection with ?script=<name>.",
    )

    @field_validator("scripts")
    @classmethod
    def _names_fit_a_url(cls, scripts: dict[str, BrainScript]) -> dict[str, BrainScript]:
        for name in scripts:
            if not SCRIPT_NAME.fullmatch(name):
                raise ValueError(f"script name {name!r}: use 1-64 of A-Z a-z 0-9 _ . -")
        return scripts

    def default_script(self) -> BrainScript:
        """The script of the server's own token (everything but ``scripts``)."""
        return BrainScript.model_validate(self.model_dump(exclude={"scripts"}))


def describe_validation_error(error: ValidationError) -> tuple[str, str]:
    """The first problem of ``error`` as ``(field path, message)``, e.g.
    ``("rules.0.reply", "Input should be a valid string")``; more problems are counted in the
    message, so the whole stays on one line."""
    problems = error.errors(include_url=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    # pydantic prefixes a validator's own message with "Value error, ": the reader needs the
    # message only.
    message = " ".join(str(first["msg"]).split()).removeprefix("Value error, ")
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more)"
    return where, message


def parse_rules(data: Any, source: str = "rules") -> RulesFile:
    """Validate already-loaded rules (a mapping); ``source`` names them in errors."""
    if isinstance(data, dict) and set(data) == {"sim"}:
        data = data["sim"]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping with `rules:` (a scenario's sim: schema), "
            f"got {type(data).__name__}"
        )
    try:
        return RulesFile.model_validate(data)
    except ValidationError as error:
        where, message = describe_validation_error(error)
        raise ConfigError(f"{source}: {where}: {message}") from None


def load_rules_file(path: str | Path) -> RulesFile:
    """Read and validate a rules file; raises :class:`ConfigError` with a one-line reason."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read the rules file {path}: {error.strerror or error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_reason(error)}") from None
    return parse_rules(data, str(path))


def _yaml_reason(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    reason = " ".join(str(problem).split())
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {reason}"
    return reason
