"""The example suites and tools that ship with voxray (the README's and the smoke suite's).

The suites are package data (``voxray/examples/suites/*.yaml``, with their audio), so a user who
installed only the wheel can run one by name: ``voxray eval smoke`` runs the packaged
``smoke.yaml`` when no file called ``smoke`` exists. ``voxray examples`` lists them (with the
example agent files for ``voxray serve`` and rules files for ``voxray sim --rules``), and
``voxray examples --copy DIR`` copies them all into a folder to edit. Their tools are
``voxray.examples.tools:get_weather`` and ``voxray.examples.tools:lookup_order``.

This module imports only the standard library: tool runners import ``voxray.examples.tools``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Final

__all__ = [
    "AGENTS_DIR",
    "RULES_DIR",
    "SUITES_DIR",
    "copy_examples",
    "packaged_suite",
    "suite_description",
    "suite_names",
]

SUITES_DIR: Final = Path(__file__).resolve().parent / "suites"
"""Where the example suites are installed (in the repository: configs/evals links here)."""

AGENTS_DIR: Final = Path(__file__).resolve().parent / "agents"
"""Example agent files for ``voxray serve`` (configs/agents links here)."""

RULES_DIR: Final = Path(__file__).resolve().parent / "sim"
"""Example rules files for ``voxray sim --rules`` (configs/sim links here)."""

_DESCRIPTION = re.compile(r"^description:\s*(.+?)\s*$", re.MULTILINE)


def suite_names() -> list[str]:
    """The packaged example suites' names (file names without ``.yaml``), sorted."""
    return sorted(path.stem for path in SUITES_DIR.glob("*.yaml"))


def packaged_suite(name: str) -> Path | None:
    """The packaged suite called ``name`` (``smoke`` or ``smoke.yaml``), or None.

    Only a bare name matches: anything with a folder in it is a path the user meant.
    """
    if not name or "/" in name or "\\" in name:
        return None
    path = SUITES_DIR / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
    return path if path.is_file() else None


def suite_description(path: Path) -> str:
    """The suite's top-level ``description:`` line, read without loading the suite."""
    match = _DESCRIPTION.search(path.read_text(encoding="utf-8"))
    return match.group(1).strip("'\"") if match else ""


def copy_examples(destination: Path) -> tuple[list[Path], list[Path]]:
    """Copy the example suites (with their audio) into ``destination``, the agent files into
    ``destination/agents`` and the rules files into ``destination/sim``.

    Returns the files copied and the files kept: one already there is never overwritten.
    """
    copied: list[Path] = []
    kept: list[Path] = []
    for folder, target_folder in (
        (SUITES_DIR, destination),
        (AGENTS_DIR, destination / "agents"),
        (RULES_DIR, destination / "sim"),
    ):
        for source in sorted(folder.rglob("*")):
            if not source.is_file() or "__pycache__" in source.parts:
                continue
            target = target_folder / source.relative_to(folder)
            if target.exists():
                kept.append(target)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            copied.append(target)
    return copied, kept
