"""`voxray eval` end to end: the smoke suite on Ray and the simulator, and bad input."""

from __future__ import annotations

import json
import re
import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from voxray.actors.conversation.result import SessionResult, TurnMetrics
from voxray.cli import main
from voxray.evals.outputs import RunDirectory
from voxray.evals.records import ScenarioRecord
from voxray.evals.scoring import score
from voxray.evals.suite import ScenarioSpec, load_suite

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "evals" / "smoke.yaml"


def _channel_rms(path: Path) -> tuple[float, float]:
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 2 and wav.getsampwidth() == 2
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    left, right = stereo[:, 0].astype(np.float64), stereo[:, 1].astype(np.float64)
    return float(np.sqrt(np.mean(left**2))), float(np.sqrt(np.mean(right**2)))


@pytest.mark.ray
@pytest.mark.e2e
def test_smoke_suite_passes_and_writes_results(
    ray_cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(["eval", str(SMOKE), "--out", str(out), "--speed", "4"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "3/3 scenarios passed" in printed

    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["key"] for r in records) == [
        "spoken-question",
        "spoken-tool-call",
        "typed-question",
    ]
    assert all(r["passed"] for r in records)
    tool_run = next(r for r in records if r["key"] == "spoken-tool-call")
    assert [c["name"] for c in tool_run["tool_calls"]] == ["get_weather"]

    for record in records:
        user_rms, agent_rms = _channel_rms(out / record["recording"])
        assert agent_rms > 300, f"{record['key']}: the agent channel should hold speech"
        if record["key"] != "typed-question":
            assert user_rms > 300, f"{record['key']}: the user channel should hold speech"
    assert (out / "junit.xml").exists() and (out / "summary.json").exists()
    assert f"report: {out / 'report.html'}" in printed
    assert "— on xAI ≈ $" in printed  # what the run would have cost on the real backend
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cost_estimate_planned_usd"] > 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count('<path class="wave wave-user"') == 3


def _passing_record(spec: ScenarioSpec) -> ScenarioRecord:
    """A record as an earlier, killed run would have left it."""
    turn = TurnMetrics(
        index=0,
        kind="text",
        user_speech_end_ms=500.0,
        first_agent_audio_ms=900.0,
        response_latency_ms=400.0,
        agent_audio_ms=1500.0,
        agent_transcript="We open at nine.",
    )
    result = SessionResult(status="completed", turns=(turn,), duration_ms=2000.0)
    verdict = score(spec, result)
    assert verdict.passed, verdict.failures
    return ScenarioRecord.from_result(spec.name, spec, 0, result, verdict, None)


@pytest.mark.ray
@pytest.mark.e2e
def test_resume_runs_only_what_a_killed_run_left_undone(
    ray_cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    first, second, missing = load_suite(SMOKE).scenarios
    run = RunDirectory(out)
    run.append_result(_passing_record(first))
    run.append_result(_passing_record(second))
    kept = run.results_path.read_bytes()
    with run.results_path.open("a", encoding="utf-8") as file:
        file.write(f'{{"key": "{missing.name}", "scenario": "spo')  # killed mid-write

    code = main(["eval", str(SMOKE), "--out", str(out), "--resume", "--speed", "4"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "1 run(s) of 3 scenario(s)" in printed
    assert f"resuming: 2 run(s) already finished in {out}" in printed
    assert f"PASS {missing.name}" in printed
    assert f"PASS {first.name}" not in printed  # not run again

    data = run.results_path.read_bytes()
    assert data.startswith(kept)  # what was on disk is untouched; the fragment is gone
    keys = [json.loads(line)["key"] for line in data.decode().splitlines()]
    assert keys == [first.name, second.name, missing.name]
    assert "3/3 scenarios passed" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["runs"], summary["scenarios_passed"]) == (3, 3)
    cases = ET.parse(out / "junit.xml").getroot().iter("testcase")
    assert sorted(case.get("name") or "" for case in cases) == sorted(keys)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert all(f'id="scenario-{name}"' in html for name in keys)


def test_a_second_run_on_a_busy_run_directory_exits_2_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    with RunDirectory(out).lock():  # a first `voxray eval --out run --resume` is writing it
        code = main(["eval", str(SMOKE), "--out", str(out), "--resume"])
    printed = capsys.readouterr().out
    assert code == 2, printed
    assert f"{out} is in use by another voxray run (held by pid " in printed
    assert not (out / "results.jsonl").exists()


def test_resume_needs_a_run_directory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(SMOKE), "--resume"]) == 2
    assert "--resume needs --out" in capsys.readouterr().out


def test_malformed_suite_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "bad.yaml"
    suite.write_text(
        "name: bad\nscenarios:\n  - name: x\n    agent: {voice: bob}\n    turns: [{text: hi}]\n"
    )
    code = main(["eval", str(suite)])
    printed = capsys.readouterr().out.strip()
    assert code == 2
    assert len(printed.splitlines()) == 1, printed
    assert "bad.yaml" in printed and "'x'" in printed and "voice" in printed


def test_missing_suite_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().out


def test_real_backend_prints_a_cost_estimate_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XAI_API_KEY", raising=False)
    monkeypatch.delenv("VOXRAY_XAI_API_KEY", raising=False)
    code = main(["eval", str(SMOKE), "--backend", "xai", "--out", str(tmp_path / "run")])
    printed = capsys.readouterr().out
    assert code == 2  # no key: refused before anything runs or costs money
    estimate = next(line for line in printed.splitlines() if line.startswith("cost estimate:"))
    assert re.search(r"≈ \$\d+\.\d\d \([\d.]+ audio min: [\d.]+ sent, [\d.]+ received", estimate)
    assert "at $0.05 per audio minute" in estimate
    assert "assumes each answer lasts 8 s" in estimate
    assert "XAI_API_KEY" in printed.splitlines()[-1]
