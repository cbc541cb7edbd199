"""Every packaged example suite makes the round trip record -> replay on the simulator: each is
recorded with ``voxray eval NAME --record`` and replayed offline with ``--backend replay``, and
every replayed run passes (what a team does with a suite recorded once on xAI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from voxray.cli import main
from voxray.evals.cassettes import cassette_name
from voxray.evals.suite import load_suite
from voxray.examples import SUITES_DIR, suite_names

from tests.local_websocket import websocket_in_thread
from tests.test_cassette import KEY, _echo_everything

SPEED = "8"
"""Fast enough to keep CI cheap, slow enough that a busy machine stays inside the suites'
latency budgets (3 s of audio timeline: at speed 8, about 0.27 s of real delay to spare)."""
SLOWER = {"barge-in": "2", "repeats": "4"}
"""Suites judged on timing budgets (barge-in stop time, latency p95) run slower, as in
test_example_suites.py: at speed S a late event loop counts S times on the audio timeline."""

FIRST_SCENARIO_ONLY = {"conditions": "opening-hours", "repeats": "spoken-greeting"}
"""Long suites run one scenario here (every condition / repeat of it): the round trip of a
scenario does not depend on its neighbours."""


def _records(run: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


def test_the_narrowed_and_slowed_suites_exist() -> None:
    # A renamed suite or scenario must not silently lose its narrowing (and run whole).
    assert set(FIRST_SCENARIO_ONLY) | set(SLOWER) <= set(suite_names())
    for name, scenario in FIRST_SCENARIO_ONLY.items():
        suite = load_suite(SUITES_DIR / f"{name}.yaml")
        assert scenario in [spec.name for spec in suite.scenarios], name


@pytest.mark.ray
@pytest.mark.parametrize("name", suite_names())
def test_an_example_suite_recorded_on_the_simulator_replays_and_passes(
    ray_cluster: None, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    narrowed = ["--filter", FIRST_SCENARIO_ONLY[name]] if name in FIRST_SCENARIO_ONLY else []
    speed = SLOWER.get(name, SPEED)
    recorded = tmp_path / "recorded"
    code = main(["eval", name, "--record", "--out", str(recorded), "--speed", speed, *narrowed])
    assert code == 0, capsys.readouterr().out
    keys = {str(r["key"]) for r in _records(recorded)}
    cassettes = recorded / "cassettes"
    assert keys and {path.name for path in cassettes.iterdir()} == {cassette_name(k) for k in keys}
    if name == "caller":  # two sessions a call: a cassette each
        for key in keys:
            assert {p.name for p in (cassettes / cassette_name(key)).iterdir()} == {
                "agent",
                "caller",
            }

    replayed = tmp_path / "replayed"
    replay = ["--backend", "replay", "--cassettes", str(recorded)]
    code = main(["eval", name, *replay, "--out", str(replayed), "--speed", speed, *narrowed])
    records = _records(replayed)
    assert code == 0, capsys.readouterr().out
    assert {str(r["key"]) for r in records} == keys
    assert all(r["passed"] for r in records), records


def test_replaying_a_call_without_one_side_of_its_cassette_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassettes = tmp_path / "cassettes"
    (cassettes / "order-status" / "agent").mkdir(parents=True)
    for side in ("agent", "caller"):
        (cassettes / "table-booking" / side).mkdir(parents=True)
    code = main(["eval", "caller", "--backend", "replay", "--cassettes", str(cassettes)])
    assert code == 2
    assert "no cassette for order-status/caller" in capsys.readouterr().out


@pytest.mark.ray
@pytest.mark.e2e
def test_recording_a_call_on_a_key_echoing_xai_endpoint_writes_the_key_in_neither_side(
    ray_cluster: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A simulated caller's call recorded on ``backend: xai`` against an endpoint that quotes
    the key back: neither session's cassette holds it."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: hostile\nbackend: xai\nscenarios:\n"
        "  - name: call\n    caller:\n      persona: A short caller.\n"
        "      goal: say hello\n      success: the agent says hello\n      max_duration_s: 1\n"
    )
    monkeypatch.setenv("XAI_API_KEY", KEY)
    with websocket_in_thread(_echo_everything) as url:
        monkeypatch.setenv("VOXRAY_XAI_URL", url)
        main(["eval", str(suite), "--record", "--out", str(tmp_path / "run")])
    for side in ("agent", "caller"):
        cassette = tmp_path / "run" / "cassettes" / "call" / side
        files = [path for path in cassette.iterdir() if path.is_file()] if cassette.is_dir() else []
        names = {path.name for path in files}
        assert names >= {"cassette.json", "frames.jsonl"}, (side, capsys.readouterr().out)
        written = b"".join(path.read_bytes() for path in files)
        assert b"[redacted]" in written, side
        for secret in (KEY, KEY[4:]):
            assert secret.encode() not in written, side
    # The caller opened the call (response.create): the endpoint quoted the key in an error.
    assert b'"code":"echo"' in written
