"""Record and replay through the CLI, as a user runs it: ``voxray eval smoke --record``, then
``--backend replay --cassettes RUN`` passes offline, a changed instruction fails it naming the
field, and ``voxray replay check`` reports stale cassettes."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from voxray.cli import main
from voxray.commands.replay import find_cassettes
from voxray.examples import SUITES_DIR

from tests.local_websocket import serve_websocket
from tests.test_cassette import ENV_TOKEN, KEY, _echo_everything

SMOKE = SUITES_DIR / "smoke.yaml"
SPEED = "8"
RUNS = {"spoken-question", "typed-question", "spoken-tool-call"}


@pytest.fixture(scope="module")
def recorded(ray_cluster: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of the smoke suite recorded on the simulator (what a run on xAI would be)."""
    out = tmp_path_factory.mktemp("recorded") / "run"
    assert main(["eval", str(SMOKE), "--record", "--out", str(out), "--speed", SPEED]) == 0
    return out


def _records(run: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


def test_record_writes_one_cassette_per_run_beside_the_results(recorded: Path) -> None:
    cassettes = recorded / "cassettes"
    assert {path.name for path in cassettes.iterdir()} == RUNS
    for name in RUNS:
        meta = json.loads((cassettes / name / "cassette.json").read_text())
        assert meta["scenario"] == name and meta["frames"] > 10
        assert meta["headers"] == {"Authorization": "Bearer [redacted]"}


def test_the_recorded_suite_replays_offline_and_passes(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "replayed"
    arguments = ["eval", str(SMOKE), "--backend", "replay", "--cassettes", str(recorded)]
    assert main([*arguments, "--out", str(out), "--speed", SPEED]) == 0
    records = _records(out)
    assert {r["key"] for r in records} == RUNS
    assert all(r["passed"] for r in records), records


def test_a_changed_instruction_fails_the_replay_naming_it(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changed = tmp_path / "smoke.yaml"
    text = SMOKE.read_text()
    assert "Keep answers short." in text
    changed.write_text(text.replace("Keep answers short.", "Keep answers long."))
    out = tmp_path / "replayed"
    code = main(
        [
            "eval",
            str(changed),
            "--backend",
            "replay",
            "--cassettes",
            str(recorded / "cassettes"),
            "--filter",
            "typed-question",
            "--out",
            str(out),
            "--speed",
            SPEED,
        ]
    )
    assert code == 1, capsys.readouterr().out
    (record,) = _records(out)
    assert not record["passed"]
    error = json.dumps(record)
    assert "replay diverged" in error and "session.instructions" in error
    assert "Keep answers long." in error


def test_replay_without_a_cassette_for_a_run_is_a_one_line_error(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "few" / "typed-question").mkdir(parents=True)
    code = main(["eval", str(SMOKE), "--backend", "replay", "--cassettes", str(tmp_path / "few")])
    assert code == 2
    printed = capsys.readouterr().out
    assert "no cassette for spoken-question, spoken-tool-call" in printed


def test_replay_check_reports_cassettes_older_than_the_limit(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", "check", str(recorded)]) == 0
    assert "3 cassette(s): 0 stale" in capsys.readouterr().out
    later = datetime.now(UTC) + timedelta(days=45)
    ages = find_cassettes([recorded], now=later)
    assert len(ages) == 3 and all(a.age is not None and a.age.days >= 44 for a in ages)
    # A month and a half later, every one is stale: exit 1, and each named as stale.
    assert main(["replay", "check", str(recorded), "--max-age-days", "0.0000001"]) == 1
    assert "3 stale" in capsys.readouterr().out


@pytest.mark.ray
@pytest.mark.e2e
def test_recording_a_key_echoing_xai_endpoint_writes_the_key_nowhere(
    ray_cluster: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``voxray eval --backend xai --record`` with the key exported, against an endpoint that
    quotes the key (and an environment secret) in its frames: the cassette holds neither."""
    served = threading.Event()
    stop: asyncio.Future[None] | None = None
    loop = asyncio.new_event_loop()
    urls: list[str] = []

    async def serve() -> None:
        nonlocal stop
        stop = loop.create_future()
        async with serve_websocket(_echo_everything) as url:
            urls.append(url)
            served.set()
            await stop

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert served.wait(10)
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: hostile\nbackend: xai\nscenarios:\n"
        "  - name: hello\n    reply_timeout_s: 3\n    turns: [{text: Hi}]\n"
    )
    monkeypatch.setenv("XAI_API_KEY", KEY)
    monkeypatch.setenv("VOXRAY_XAI_URL", urls[0])
    monkeypatch.setenv("MY_SERVICE_TOKEN", ENV_TOKEN)
    try:
        main(["eval", str(suite), "--record", "--out", str(tmp_path / "run")])
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set_result, None)
        thread.join(10)
    cassette = tmp_path / "run" / "cassettes" / "hello"
    files = [path for path in cassette.iterdir() if path.is_file()]
    assert {path.name for path in files} >= {"cassette.json", "frames.jsonl"}, capsys.readouterr()
    written = b"".join(path.read_bytes() for path in files)
    assert b'"type":"error"' in written and b"[redacted]" in written
    for secret in (KEY, KEY[4:]):
        assert secret.encode() not in written
