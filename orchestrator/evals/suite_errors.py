"""Turning pydantic's validation errors about a suite into one line a person can act on.

``suite.yaml: scenario 'weather' (scenarios[1]) → expect.tools_called[0].name: 'get_weathr' is
not one of the agent's tools (get_weather)``: the file, the scenario (by name and index), the
field as a dotted path, and the problem, with the nearest allowed key for a typo.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError
from voxray.actors.errors import ConfigError
from voxray.evals.turns import TURN_TAGS

__all__ = ["FieldProblem", "check_regex", "config_error", "dotted", "problem_message"]


class FieldProblem(ValueError):
    """A validator's complaint about a field below the one it validates.

    pydantic places a validator's error at the validated field; ``path`` lets the error name the
    exact nested key (``expect.tools_called[0].name``) instead.
    """

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


def check_regex(pattern: str, path: tuple[str | int, ...]) -> None:
    """Raise :class:`FieldProblem` at ``path`` when ``pattern`` does not compile."""
    try:
        re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        raise FieldProblem(path, f"{pattern!r} is not a valid regex: {error}") from error


def config_error(
    error: ValidationError, raw: Mapping[str, Any], where: str, root: type[BaseModel]
) -> ConfigError:
    """One :class:`ConfigError` for ``error``, raised validating ``raw`` (read from ``where``)
    as a ``root``: the first problem, then the next few (each with its place), on one line."""
    problems = error.errors()
    # pydantic also reports a container as too short when its only item failed; the item's own
    # error is the one that names the problem, so errors at a prefix of another's place go.
    locs = [tuple(problem["loc"]) for problem in problems]
    problems = [
        problem
        for problem in problems
        if not any(
            len(other) > len(problem["loc"]) and other[: len(problem["loc"])] == problem["loc"]
            for other in locs
        )
    ] or problems
    first = problems[0]
    loc = _full_loc(first)
    message = _one_line(problem_message(first, root))
    others = problems[1:]
    if others:
        shown = [
            f"{_where(_full_loc(problem), raw)}: {_one_line(problem_message(problem, root))}"
            for problem in others[:_MORE_SHOWN]
        ]
        hidden = len(others) - len(shown)
        if hidden:
            shown.append(f"and {hidden} more problem{'s' if hidden > 1 else ''}")
        message += " — also " + "; ".join(shown)
    return ConfigError(message, location=f"{where}: {_where(loc, raw)}")


_MORE_SHOWN = 3
"""Problems shown after the first; past these the error only counts them."""


def _one_line(text: str) -> str:
    # One line whatever the source: some validators quote multi-line texts.
    return " ".join(text.split())


def _full_loc(problem: Any) -> tuple[str | int, ...]:
    """Where a problem is, including a :class:`FieldProblem`'s path below the validated field.

    Turn tags stay in: they tell :func:`_allowed_keys` which kind of turn it is.
    """
    loc = tuple(problem["loc"])
    error = problem.get("ctx", {}).get("error")
    return loc + error.path if isinstance(error, FieldProblem) else loc


# Lists of named entries and what one entry is called: suites' scenarios, agent files' agents.
_NAMED_LISTS = {"scenarios": "scenario", "agents": "agent"}


def _where(loc: tuple[str | int, ...], raw: Mapping[str, Any]) -> str:
    if len(loc) >= 2 and loc[0] in _NAMED_LISTS and isinstance(loc[1], int):
        index = loc[1]
        key = str(loc[0])
        entries = raw.get(key)
        entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
        name = entry.get("name") if isinstance(entry, Mapping) else None
        label = _NAMED_LISTS[key]
        head = f"{label} {name!r} ({key}[{index}])" if isinstance(name, str) else ""
        head = head or f"{key}[{index}]"
        rest = dotted(loc[2:])
        return f"{head} → {rest}" if rest else head
    return dotted(loc) or "top level"


def dotted(loc: Sequence[str | int]) -> str:
    """``("expect", "tools_called", 0, "name")`` → ``expect.tools_called[0].name``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part not in TURN_TAGS:
            text += f".{part}" if text else str(part)
    return text


def problem_message(problem: Any, root: type[BaseModel]) -> str:
    """What is wrong, for one pydantic error dict of a model validated as ``root``."""
    kind = problem["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return _unknown_key(_full_loc(problem), root)
    error = problem.get("ctx", {}).get("error")
    if kind in ("value_error", "assertion_error") and error is not None:
        return str(error)
    text = str(problem["msg"])
    text = text[:1].lower() + text[1:]
    if kind == "turn_kind":
        return text
    shown = repr(problem.get("input"))
    return f"{text} (got {shown if len(shown) <= 60 else shown[:57] + '...'})"


def _unknown_key(loc: tuple[str | int, ...], root: type[BaseModel]) -> str:
    key = str(loc[-1]) if loc else "?"
    allowed = _allowed_keys(root, loc[:-1])
    if not allowed:
        return f"unknown key {key!r}"
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}; allowed: {', '.join(allowed)}"


def _allowed_keys(root: type[BaseModel], loc: tuple[str | int, ...]) -> list[str] | None:
    """The keys of the model found by following ``loc`` down from ``root``."""
    node: Any = root
    for part in loc:
        node = _unwrap(node)
        if part in TURN_TAGS:
            node = TURN_TAGS[str(part)]
        elif isinstance(part, int):
            args = typing.get_args(node)
            node = args[0] if args else None
        elif isinstance(node, type) and issubclass(node, BaseModel) and part in node.model_fields:
            node = node.model_fields[part].annotation
        else:
            return None
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return None


def _unwrap(node: Any) -> Any:
    while True:
        origin = typing.get_origin(node)
        if origin is Annotated:
            node = typing.get_args(node)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(node) if arg is not type(None)]
            if len(members) != 1:
                return node
            node = members[0]
        else:
            return node
