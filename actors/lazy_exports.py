"""A package's public names loaded on first use (a module ``__getattr__``, PEP 562).

``voxray``, ``voxray.evals`` and ``voxray.actors.simulator`` name what they export and the
module each name lives in, and import that module only when the name is first read: a Ray
worker that imports one submodule, or ``voxray --help``, does not pay for the rest.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, MutableMapping
from typing import Any

__all__ = ["load_export"]


def load_export(namespace: MutableMapping[str, Any], homes: Mapping[str, str], name: str) -> Any:
    """The value of ``name`` for the package whose ``globals()`` are ``namespace``.

    ``homes`` maps each exported name to the module that defines it. The value is stored in
    ``namespace``, so later lookups never reach the package's ``__getattr__`` again.

    Raises:
        AttributeError: ``name`` is not one of ``homes`` (what ``getattr`` expects).
    """
    home = homes.get(name)
    if home is None:
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    namespace[name] = value
    return value
