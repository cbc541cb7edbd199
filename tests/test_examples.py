"""The example suites ship with the package: run by name, listed and copied by `voxray examples`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from voxray.actors.errors import ConfigError
from voxray.cli import main
from voxray.evals.suite import load_suite
from voxray.examples import AGENTS_DIR, RULES_DIR, SUITES_DIR, packaged_suite, suite_names

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_suites_are_packaged() -> None:
    assert {"smoke", "tools", "barge-in", "repeats", "audio-file"} <= set(suite_names())
    assert (SUITES_DIR / "audio" / "order-status.wav").is_file()
    # The repository's configs/ folders are the same folders, so the README's paths keep working.
    assert (ROOT / "configs" / "evals").resolve() == SUITES_DIR
    assert (ROOT / "configs" / "agents").resolve() == AGENTS_DIR
    assert (ROOT / "configs" / "sim").resolve() == RULES_DIR


def test_a_bare_name_loads_the_packaged_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    suite = load_suite("smoke")
    assert suite.name == "smoke"
    assert load_suite("audio-file.yaml").name == "audio-file"
    # Its recorded caller resolves inside the package, wherever the user runs it from.
    assert packaged_suite("audio-file") == SUITES_DIR / "audio-file.yaml"


def test_a_file_of_the_same_name_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "smoke").write_text("name: mine\nscenarios: [{name: a, turns: [{text: hi}]}]\n")
    assert load_suite("smoke").name == "mine"


def test_a_path_is_never_taken_for_an_example_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="suite file not found"):
        load_suite(tmp_path / "smoke")
    assert packaged_suite("sub/smoke") is None
    assert packaged_suite("nope") is None


def test_voxray_examples_lists_name_and_description(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["examples"]) == 0
    out = capsys.readouterr().out
    for name in suite_names():
        assert name in out
    assert "Spoken, typed and tool-calling turns" in out  # smoke.yaml's description
    assert "voxray eval smoke" in out
    assert "support.yaml" in out and "weather.yaml" in out


def test_voxray_examples_copy_writes_editable_suites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    destination = tmp_path / "my-evals"
    assert main(["examples", "--copy", str(destination)]) == 0
    assert (destination / "smoke.yaml").read_bytes() == (SUITES_DIR / "smoke.yaml").read_bytes()
    assert (destination / "audio" / "order-status.wav").is_file()
    assert (destination / "agents" / "support.yaml").is_file()
    assert (destination / "sim" / "weather.yaml").is_file()
    # The copy is a working suite: its relative audio path resolves beside it.
    assert load_suite(destination / "audio-file.yaml").name == "audio-file"
    # A second copy keeps the user's edits.
    (destination / "smoke.yaml").write_text("edited")
    assert main(["examples", "--copy", str(destination)]) == 0
    assert (destination / "smoke.yaml").read_text() == "edited"
    assert "kept" in capsys.readouterr().out


def test_unknown_suite_name_lists_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "smok"]) == 2
    out = capsys.readouterr().out
    assert "suite file not found" in out and "smoke" in out
    assert os.linesep not in out.strip()
