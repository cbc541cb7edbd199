"""`voxray eval` end to end: the smoke suite on Ray and the simulator, and bad input."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from orchestrator.cli import main

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
