"""Run-directory outputs: results survive a killed run, reports parse, figures add up."""

from __future__ import annotations

import json
import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from actors.conversation.result import (
    Recording,
    SessionResult,
    ToolCallRecord,
    TurnMetrics,
    Usage,
)
from orchestrator.evals.outputs import (
    COST_PER_AUDIO_MINUTE_USD,
    COST_PER_TEXT_ITEM_USD,
    RunDirectory,
    ScenarioRecord,
    summarize,
)
from orchestrator.evals.scoring import score
from orchestrator.evals.suite import ScenarioSpec
from orchestrator.evals.tables import results_table, summary_line

SPEC = ScenarioSpec.model_validate(
    {
        "name": "weather",
        "agent": {"tools": ["orchestrator.examples.tools:get_weather"]},
        "turns": [{"say": "Weather in Paris?"}, {"say": "And tomorrow?"}],
        "expect": {"transcript_contains": ["Paris"], "max_latency_ms": 1000},
    }
)


def _result(
    latencies: tuple[float, float] = (612.0, 580.0),
    said: str = "It is sunny in Paris.",
    *,
    audio_in_ms: float = 60_000.0,
    status: str = "completed",
    error: str | None = None,
) -> SessionResult:
    turns = tuple(
        TurnMetrics(
            index=index,
            kind="say",
            user_speech_end_ms=1000.0,
            first_agent_audio_ms=1000.0 + ms,
            response_latency_ms=ms,
            agent_audio_ms=900.0,
            user_transcript=f"question {index}",
            agent_transcript=said,
        )
        for index, ms in enumerate(latencies)
    )
    call = ToolCallRecord(
        call_id="call_1",
        name="get_weather",
        arguments='{"city": "Paris"}',
        output='{"temperature": 17}',
        ok=True,
        latency_ms=2.5,
        t_ms=1500.0,
    )
    return SessionResult.model_validate(
        {
            "status": status,
            "error": error,
            "turns": turns,
            "tool_calls": (call,),
            "usage": Usage(input_tokens=10, output_tokens=20, total_tokens=30),
            "audio_in_ms": audio_in_ms,
            "audio_out_ms": 1800.0,
            "duration_ms": 4200.0,
        }
    )


def _record(key: str, result: SessionResult, repeat_index: int = 0) -> ScenarioRecord:
    return ScenarioRecord.from_result(key, SPEC, repeat_index, result, score(SPEC, result), None)


def test_append_then_resume_keys_ignore_a_truncated_last_line(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path / "run")
    assert (tmp_path / "run" / "recordings").is_dir()
    assert run.completed_keys() == set()
    run.append_result(_record("weather#1", _result()))
    run.append_result(_record("weather#2", _result(), 1))
    with run.results_path.open("a", encoding="utf-8") as file:
        file.write('{"key": "weather#3", "scenario": "wea')  # killed mid-write
    assert run.completed_keys() == {"weather#1", "weather#2"}
    assert [record.key for record in run.load_records()] == ["weather#1", "weather#2"]

    resumed = RunDirectory(tmp_path / "run")
    resumed.append_result(_record("weather#3", _result(), 2))
    assert resumed.completed_keys() == {"weather#1", "weather#2", "weather#3"}
    lines = resumed.results_path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["weather#1", "weather#2", "weather#3"]


def test_record_keeps_what_a_report_needs(tmp_path: Path) -> None:
    record = _record("weather", _result())
    assert record.passed
    assert record.latency_ms == [612.0, 580.0]
    assert record.tool_calls[0].arguments == {"city": "Paris"}
    assert record.user_transcripts == ["question 0", "question 1"]
    assert record.agent_transcript == "It is sunny in Paris. It is sunny in Paris."
    assert record.finished_at.tzinfo is not None
    run = RunDirectory(tmp_path)
    run.append_result(record)
    assert run.load_records() == [record]


def test_credentials_in_errors_are_masked() -> None:
    result = _result(status="failed", error="HandshakeError: Bearer xai-abcdefghijklmnop refused")
    record = _record("weather", result)
    dumped = record.model_dump_json()
    assert "abcdefghijklmnop" not in dumped
    assert "[redacted]" in (record.error or "")


def test_junit_parses_and_reports_failures_and_errors(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path)
    records = [
        _record("weather#1", _result()),
        _record("weather#2", _result((612.0, 1500.0), said="No idea \x00 sorry."), 1),
        _record("weather#3", _result(status="lost", error="SessionLostError: died"), 2),
    ]
    path = run.write_junit("smoke", records)
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["weather#1"].find("failure") is None
    failure = cases["weather#2"].find("failure")
    assert failure is not None
    assert "latency: expected every response within 1000 ms, got turn 2: 1500 ms" in (
        failure.text or ""
    )
    assert "transcript contains 'Paris'" in (failure.get("message") or "")
    error = cases["weather#3"].find("error")
    assert error is not None
    assert error.get("message") == "SessionLostError: died"


def test_summary_figures(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path)
    records = [
        _record("weather#1", _result((100.0, 200.0))),
        _record("weather#2", _result((300.0, 400.0))),
        _record("weather#3", _result((500.0, 1600.0)), 2),  # over budget: fails
    ]
    summary = json.loads(run.write_summary(records, pass_threshold=0.6, wall_s=12.3456).read_text())
    assert summary["runs"] == 3
    assert summary["runs_passed"] == 2
    tally = summary["per_scenario"]["weather"]
    assert tally["pass_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert tally["passed"] is True  # 0.667 >= 0.6
    assert (summary["scenarios"], summary["scenarios_passed"]) == (1, 1)
    # six latencies 100..500 and 1600: the median interpolates between 300 and 400
    assert summary["latency_p50_ms"] == 350.0
    assert summary["latency_p95_ms"] == 1325.0
    assert summary["audio_in_minutes"] == 3.0
    assert summary["audio_out_minutes"] == pytest.approx(0.09)
    assert summary["cost_estimate_usd"] == pytest.approx(3.09 * COST_PER_AUDIO_MINUTE_USD)
    assert summary["wall_s"] == 12.35

    strict = json.loads(run.write_summary(records, pass_threshold=1.0).read_text())
    assert strict["scenarios_passed"] == 0


def test_cost_counts_audio_both_ways_and_typed_messages() -> None:
    typed = ScenarioSpec.model_validate(
        {"name": "typed", "turns": [{"text": "Opening hours?"}, {"text": "And Sunday?"}]}
    )
    result = SessionResult(status="completed", audio_in_ms=30_000.0, audio_out_ms=90_000.0)
    record = ScenarioRecord.from_result("typed", typed, 0, result, score(typed, result), None)
    assert record.typed_turns == 2
    expected = 2 * COST_PER_AUDIO_MINUTE_USD + 2 * COST_PER_TEXT_ITEM_USD
    assert summarize([record]).cost_estimate_usd == pytest.approx(expected)


def test_recording_is_stereo_wav_of_the_right_length(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path)
    rate = 24_000
    frames = rate * 3 // 2  # 1.5 s
    recording = Recording(rate=rate, pcm=b"\x01\x00\xff\xff" * frames + b"\x07")
    relative = run.write_recording("weather#2", recording)
    assert relative == Path("recordings/weather-2.wav")
    with wave.open(str(tmp_path / relative), "rb") as wav:
        assert wav.getnchannels() == 2
        assert wav.getsampwidth() == 2
        assert wav.getframerate() == rate
        assert wav.getnframes() == frames
        assert wav.readframes(1) == b"\x01\x00\xff\xff"
    record = ScenarioRecord.from_result(
        "weather#2", SPEC, 1, _result(), score(SPEC, _result()), relative
    )
    assert record.recording == "recordings/weather-2.wav"


def test_table_and_summary_line() -> None:
    records = [
        _record("weather", _result()),
        _record("weather-slow", _result((612.0, 1500.0))).model_copy(
            update={"scenario": "weather-slow"}
        ),
    ]
    table = results_table(records)
    assert [column.header for column in table.columns] == [
        "scenario",
        "result",
        "latency ms",
        "tools",
        "failed checks",
    ]
    cells = [list(column.cells) for column in table.columns]
    assert [str(cell) for cell in cells[1]] == ["PASS", "FAIL"]
    assert cells[2] == ["612, 580", "612, 1500"]
    assert cells[3] == ["get_weather ✓", "get_weather ✓"]
    assert "expected every response within 1000 ms, got turn 2: 1500 ms" in str(cells[4][1])
    line = summary_line(records, 14.24, run_dir=Path("runs/smoke-20261125-101500"))
    assert line == "1/2 scenarios passed in 14.2 s — results in runs/smoke-20261125-101500"
