"""Parsing a YAML file a user wrote (a suite, an agent file) into data, with one clear error.

Both loaders read with :class:`UniqueKeyLoader` (safe: no arbitrary objects; a key given twice
in one mapping is an error, where plain YAML would keep the last) and report a syntax error as
one :class:`~voxray.actors.errors.ConfigError` naming the file, the line and the column.
"""

from __future__ import annotations

import typing
from typing import Any

import yaml
from voxray.actors.errors import ConfigError

__all__ = ["UniqueKeyLoader", "parse_yaml"]


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects a key given twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, typing.Hashable):
                continue  # the base class reports unhashable keys itself
            if key in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"key {key!r} appears twice in this mapping",
                    problem_mark=key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, where: str) -> Any:
    """The data in ``text``, read from the file ``where``.

    Raises:
        ConfigError: ``YAML syntax error: <problem>`` at ``<where>: line L, column C``.
    """
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = error.problem or error.context or "unreadable YAML"
        context = error.context_mark
        if error.problem and error.context and context and mark and context.line != mark.line:
            # The problem is often noticed a line after its cause (an unclosed bracket).
            problem += f" ({error.context} at line {context.line + 1}, column {context.column + 1})"
        raise ConfigError(f"YAML syntax error: {problem}", location=f"{where}: {at}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"YAML syntax error: {error}", location=where) from error
