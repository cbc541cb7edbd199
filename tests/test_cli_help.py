"""`voxray --help` is fast: it imports no command module; each command's line is its module's."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest
from voxray.cli import COMMANDS, main


def test_help_lists_every_command_with_its_modules_own_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for name, (module_path, summary) in COMMANDS.items():
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers()
        importlib.import_module(module_path).add_parser(subparsers)
        (action,) = subparsers._choices_actions
        assert (action.dest, action.help) == (name, summary), module_path
        assert f"{name} {summary}" in out


def test_help_imports_no_command_module_nor_ray() -> None:
    code = (
        "import sys\n"
        "from voxray.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    modules = set(out.split())
    assert "voxray.cli" in modules
    heavy = {"ray", "aiohttp", "numpy", "pydantic", "rich"} & modules
    commands = {m for m in modules if m.startswith(("voxray.commands.", "voxray.evals"))}
    assert not heavy and not commands, (heavy, commands)


def test_a_command_still_gets_its_own_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    assert "--concurrency" in capsys.readouterr().out


def test_a_misspelt_command_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["evl"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'evl'" in err and "'eval'" in err
