"""Run-directory outputs: results survive a killed run, reports parse, figures add up."""

from __future__ import annotations

import json
import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from voxray.actors.conversation.result import (
    Recording,
    SessionResult,
    TokenUsage,
    ToolCallRecord,
    TurnMetrics,
)
from voxray.actors.errors import RunDirectoryBusyError
from voxray.evals.outputs import (
    COST_PER_AUDIO_MINUTE_USD,
    COST_PER_TEXT_ITEM_USD,
    RunDirectory,
    ScenarioRecord,
    summarize,
)
from voxray.evals.scoring import score
from voxray.evals.suite import ScenarioSpec
from voxray.evals.tables import results_table, summary_line

SPEC = ScenarioSpec.model_validate(
    {
        "name": "weather",
        "agent": {"tools": ["voxray.examples.tools:get_weather"]},
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
            "usage": TokenUsage(input_tokens=10, output_tokens=20, total_tokens=30),
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
        _record("weather#3", _result(status="failed", error="AuthenticationError: no"), 2),
        _record("weather#4", _result(status="lost", error="SessionLostError: died"), 3),
    ]
    path = run.write_junit("smoke", records)
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    counts = ("tests", "failures", "errors", "skipped")
    assert tuple(suite.get(name) for name in counts) == ("4", "1", "1", "1")
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
    assert error.get("message") == "AuthenticationError: no"
    # A lost run did not finish: skipped (resume reruns it), never a failure or an error.
    lost = cases["weather#4"]
    assert lost.find("error") is None and lost.find("failure") is None
    skipped = lost.find("skipped")
    assert skipped is not None and "SessionLostError: died" in (skipped.get("message") or "")


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


def test_record_keeps_turn_text_timeline_and_call_times() -> None:
    from voxray.actors.conversation.result import TimelineEvent

    result = _result().model_copy(
        update={"timeline": (TimelineEvent(t_ms=12.5, kind="user_speech_started"),)}
    )
    record = _record("weather", result)
    assert [turn.said for turn in record.turns] == ["Weather in Paris?", "And tomorrow?"]
    assert record.turns[1].response_latency_ms == 580.0
    assert [event.kind for event in record.timeline] == ["user_speech_started"]
    assert record.tool_calls[0].t_ms == 1500.0
    assert record.tool_calls[0].output == '{"temperature": 17}'
    assert ScenarioRecord.model_validate_json(record.model_dump_json()) == record


def test_pass_rate_and_kinds_of_failure_per_scenario() -> None:
    records = [
        _record("weather#1", _result()),
        _record("weather#2", _result((612.0, 1500.0)), 1),  # latency
        _record("weather#3", _result((612.0, 1700.0), said="No idea."), 2),  # latency + said
        _record("weather#4", _result(status="failed", error="ProviderError: ended"), 3),
        _record("weather#5", _result(status="lost", error="SessionLostError: died"), 4),
    ]
    summary = summarize(records, pass_threshold=0.25)
    tally = summary.per_scenario["weather"]
    assert (tally.runs, tally.passed_runs, tally.pass_rate, tally.passed) == (4, 1, 0.25, True)
    # The lost run is not judged: not a failure kind, listed as unfinished instead.
    assert summary.runs_unfinished == 1 and summary.unfinished[0].key == "weather#5"
    assert summary.scenarios_failed == 0 and not summary.all_passed
    assert tally.failure_kinds == {
        "latency": 2,
        "transcript contains 'Paris'": 1,
        "session": 1,
    }
    assert next(iter(tally.failure_kinds)) == "latency"  # most frequent first
    assert not summarize(records, pass_threshold=0.5).per_scenario["weather"].passed


P95_SPEC = SPEC.model_copy(
    update={
        "expect": SPEC.expect.model_copy(
            update={"max_latency_ms": None, "max_latency_p95_ms": 1000.0}
        )
    }
)


def _p95_record(key: str, latencies: tuple[float, float], index: int) -> ScenarioRecord:
    result = _result(latencies)
    return ScenarioRecord.from_result(key, P95_SPEC, index, result, score(P95_SPEC, result), None)


def test_latency_p95_is_judged_across_repeats() -> None:
    fast = [_p95_record(f"weather#{i + 1}", (500.0 + i, 600.0), i) for i in range(9)]
    slow = _p95_record("weather#10", (900.0, 2500.0), 9)
    assert all(record.passed for record in [*fast, slow])  # p95 is not a per-run check
    # 20 latencies; the single 2500 ms outlier sits above the 95th percentile.
    tally = summarize([*fast, slow]).per_scenario["weather"]
    (check,) = tally.scenario_checks
    assert check.passed, check
    assert check.got.endswith("over 20 turns of 10 runs")
    assert tally.passed

    slower = _p95_record("weather#9", (2400.0, 2600.0), 8)
    tally = summarize([*fast[:8], slower, slow]).per_scenario["weather"]
    (check,) = tally.scenario_checks
    assert not check.passed
    assert check.expected == "p95 of response latency within 1000 ms"
    assert not tally.passed  # every run passed, the scenario did not
    assert tally.pass_rate == 1.0


def test_skipped_checks_are_counted_and_reach_junit(tmp_path: Path) -> None:
    spec = SPEC.model_copy(update={"expect": SPEC.expect.model_copy(update={"max_user_wer": 0.2})})
    result = _result().model_copy(
        update={
            "turns": tuple(t.model_copy(update={"user_transcript": None}) for t in _result().turns)
        }
    )
    record = ScenarioRecord.from_result("weather", spec, 0, result, score(spec, result), None)
    assert record.passed and [check.name for check in record.skipped] == ["user WER"]
    assert summarize([record]).per_scenario["weather"].skipped_checks == {"user WER": 1}
    root = ET.parse(RunDirectory(tmp_path).write_junit("smoke", [record])).getroot()
    out = root.find("testsuite/testcase/system-out")
    assert out is not None
    assert "skipped user WER: not transcribed by this backend" in (out.text or "")
    table = results_table([record])
    assert "skipped user WER" in str(next(iter(table.columns[4].cells)))


def test_summary_line_states_the_cost() -> None:
    records = [_record("weather", _result(audio_in_ms=60_000.0))]
    sim = summary_line(records, 3.0, backend="sim")
    assert sim == "1/1 scenarios passed in 3.0 s — on xAI ≈ $0.05 for 1.0 audio min"
    xai = summary_line(records, 3.0, backend="xai")
    assert "— cost ≈ $0.05 for 1.0 audio min" in xai


def test_scenario_table_shows_pass_rate_and_failure_kinds() -> None:
    from voxray.evals.tables import scenario_table

    records = [_record("weather#1", _result()), _record("weather#2", _result((612.0, 1500.0)), 1)]
    table = scenario_table(summarize(records, pass_threshold=0.5))
    cells = [[str(cell) for cell in column.cells] for column in table.columns]
    assert cells[0] == ["weather"]
    assert cells[1] == ["PASS"]
    assert cells[2] == ["1/2 (50%)"]
    assert cells[4] == ["latency ×1"]  # noqa: RUF001


def test_planned_cost_estimate_states_its_assumption() -> None:
    from voxray.evals.cost import ASSUMED_LATENCY_S, ASSUMED_REPLY_S, estimate_cost

    spoken = ScenarioSpec.model_validate(
        {
            "name": "spoken",
            # 10 words at 150 wpm = 4 s of speech, then a typed message.
            "turns": [
                {
                    "say": "one two three four five six seven eight nine ten",
                    "words_per_minute": 150,
                },
                {"text": "thanks"},
            ],
        }
    )
    estimate = estimate_cost([spoken], runs_per_scenario=3)
    per_run_sent = 4.0 + 2 * (ASSUMED_LATENCY_S + ASSUMED_REPLY_S)
    per_run_received = 2 * ASSUMED_REPLY_S
    assert estimate.audio_in_minutes == pytest.approx(3 * per_run_sent / 60, abs=1e-3)
    assert estimate.audio_out_minutes == pytest.approx(3 * per_run_received / 60, abs=1e-3)
    assert estimate.typed_messages == 3
    expected = (3 * (per_run_sent + per_run_received) / 60) * COST_PER_AUDIO_MINUTE_USD
    assert estimate.usd == pytest.approx(expected + 3 * COST_PER_TEXT_ITEM_USD, abs=1e-4)
    assert f"each answer lasts {ASSUMED_REPLY_S:.0f} s" in estimate.assumption
    assert estimate.describe().startswith(f"≈ ${estimate.usd:.2f} (")


def test_resume_skips_only_finished_runs_and_the_latest_line_wins(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path)
    run.append_result(_record("weather#1", _result()))
    run.append_result(_record("weather#2", _result(status="failed", error="ProviderError: x"), 1))
    run.append_result(ScenarioRecord.unfinished("weather#3", SPEC, 2, "not_run", "drained"))
    run.append_result(ScenarioRecord.unfinished("weather#4", SPEC, 3, "interrupted", "drained"))
    run.append_result(_record("weather#5", _result(status="lost", error="SessionLostError: x"), 4))
    # Finished (passed or failed on its own merits) is done; the rest is run again.
    assert run.completed_keys() == {"weather#1", "weather#2"}
    run.append_result(_record("weather#3", _result(), 2))  # the resumed run
    assert run.completed_keys() == {"weather#1", "weather#2", "weather#3"}
    summary = summarize(run.load_records())
    assert (summary.runs, summary.runs_unfinished) == (3, 2)
    assert {u.key: u.status for u in summary.unfinished} == {
        "weather#4": "interrupted",
        "weather#5": "lost",
    }


def test_a_corrupt_line_in_the_middle_is_skipped_with_its_line_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = RunDirectory(tmp_path)
    for index in range(3):
        run.append_result(_record(f"weather#{index + 1}", _result(), index))
    lines = run.results_path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = lines[1][: len(lines[1]) // 2] + "\x00garbage\n"  # a disk fault mid-file
    run.results_path.write_text("".join(lines), encoding="utf-8")

    with caplog.at_level("WARNING", logger="voxray.outputs"):
        records = run.load_records()
        summary_path = run.write_summary(records)
        keys = run.completed_keys()
    assert [record.key for record in records] == ["weather#1", "weather#3"]
    assert json.loads(summary_path.read_text())["runs"] == 2
    assert keys == {"weather#1", "weather#3"}  # so a resume runs weather#2 again
    assert any("results.jsonl line 2 cannot be read" in m for m in caplog.messages)


def test_a_second_writer_of_a_run_directory_is_refused(tmp_path: Path) -> None:
    busy = pytest.raises(RunDirectoryBusyError, match="in use by another voxray run")
    with RunDirectory(tmp_path).lock(), busy, RunDirectory(tmp_path).lock():
        pass
    with RunDirectory(tmp_path).lock():  # released once the first run ended
        pass
