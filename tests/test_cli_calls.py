"""``voxray calls``: the call records as a table, JSON lines, or a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
from voxray.actors.gateway.records import CallRecord, TranscriptLine
from voxray.cli import main


def _record(index: int) -> CallRecord:
    return CallRecord(
        call_id=f"call-{index}",
        ingress="twilio",
        agent="support",
        caller=f"+1555000000{index}",
        started_at="2026-01-01T10:00:00.000+00:00",
        duration_s=12.5,
        status="completed",
        end_reason="hangup",
        first_agent_audio_ms=420.0,
        transcript=(TranscriptLine(role="agent", t_ms=300, text="Hello"),),
        cost_usd=0.02,
    )


def test_calls_lists_the_last_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # a terminal wide enough for the whole table
    path = tmp_path / "calls.jsonl"
    path.write_text("".join(_record(i).model_dump_json() + "\n" for i in range(3)))
    assert main(["calls", str(path), "--last", "2"]) == 0
    shown = capsys.readouterr().out
    assert "2 of 3 call(s)" in shown
    assert "call-2" in shown and "call-0" not in shown and "+15550000002" in shown
    assert main(["calls", str(path), "--json", "--last", "1"]) == 0
    assert '"call_id": "call-2"' in capsys.readouterr().out


def test_a_bad_line_is_one_error_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_text(_record(1).model_dump_json() + "\n{not json\n")
    assert main(["calls", str(path)]) == 2
    assert f"{path}: line 2" in capsys.readouterr().out
    assert main(["calls", str(tmp_path / "missing.jsonl")]) == 1
