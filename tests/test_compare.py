"""``voxray compare`` and the regression gate, on run directories built from records."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from voxray.actors.errors import ConfigError
from voxray.cli import main
from voxray.evals.compare import (
    RegressionGate,
    compare_records,
    fisher_one_sided,
    wilson_interval,
)
from voxray.evals.compare_view import (
    add_regressions_to_junit,
    comparison_table,
    render_compare_page,
)
from voxray.evals.records import ScenarioRecord, ToolCallSummary
from voxray.evals.scoring import Check


def _record(
    scenario: str,
    index: int,
    *,
    passed: bool,
    latency_ms: float = 400.0,
    tools: tuple[str, ...] = (),
    failed_check: str = "transcript",
) -> ScenarioRecord:
    checks = (
        Check(name="answered", passed=True, expected="an answer", got="yes"),
        Check(name=failed_check, passed=passed, expected="x", got="x" if passed else "y"),
    )
    return ScenarioRecord(
        key=f"{scenario}#{index + 1}",
        scenario=scenario,
        repeat_index=index,
        passed=passed,
        checks=checks,
        status="completed",
        latency_ms=[latency_ms, latency_ms + 20],
        tool_calls=[
            ToolCallSummary(name=name, arguments={}, ok=True, latency_ms=1.0) for name in tools
        ],
        finished_at=datetime.now(UTC),
    )


def _run(
    scenario: str, passes: int, runs: int, *, latency_ms: float = 400.0, tools: tuple[str, ...] = ()
) -> list[ScenarioRecord]:
    return [
        _record(scenario, i, passed=i < passes, latency_ms=latency_ms, tools=tools)
        for i in range(runs)
    ]


def _write(directory: Path, records: list[ScenarioRecord]) -> Path:
    directory.mkdir(parents=True)
    lines = "".join(record.model_dump_json() + "\n" for record in records)
    (directory / "results.jsonl").write_text(lines, encoding="utf-8")
    return directory


def test_wilson_and_fisher_match_known_values() -> None:
    low, high = wilson_interval(10, 10)
    assert round(low, 3) == 0.722 and high == pytest.approx(1.0)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert fisher_one_sided(10, 10, 3, 10) == pytest.approx(0.00155, abs=1e-5)
    assert fisher_one_sided(9, 10, 8, 10) == pytest.approx(0.5)
    assert fisher_one_sided(1, 1, 0, 1) == pytest.approx(0.5)  # one run can never be significant


def test_a_planted_regression_is_flagged_and_noise_is_not() -> None:
    baseline = _run("weather", 10, 10) + _run("weather@phone", 9, 10) + _run("hello", 10, 10)
    candidate = _run("weather", 3, 10) + _run("weather@phone", 8, 10) + _run("hello", 10, 10)
    comparison = compare_records(baseline, candidate)
    by_name = {cell.name: cell for cell in comparison.cells}
    assert [cell.name for cell in comparison.regressions] == ["weather"]
    weather = by_name["weather"]
    assert weather.significant_drop and weather.pass_rate_change == pytest.approx(-0.7)
    assert weather.newly_failing == ["transcript"] and weather.a and weather.a.pass_rate == 1.0
    phone = by_name["weather@phone"]
    assert (phone.scenario, phone.condition) == ("weather", "phone")
    assert phone.pass_rate_change == pytest.approx(-0.1) and not phone.regressed
    assert not by_name["hello"].regressed


def test_latency_regression_needs_both_the_tolerance_and_the_floor() -> None:
    slow = compare_records(_run("a", 5, 5, latency_ms=400), _run("a", 5, 5, latency_ms=700))
    assert slow.regressions and slow.cells[0].latency_regression
    assert slow.cells[0].latency_p95_change_ms == pytest.approx(300.0)
    jitter = compare_records(_run("a", 5, 5, latency_ms=40), _run("a", 5, 5, latency_ms=70))
    assert not jitter.regressions  # +75 % but only 30 ms


def test_tool_call_differences_and_missing_sides() -> None:
    comparison = compare_records(
        _run("a", 2, 2, tools=("get_weather",)) + _run("gone", 1, 1),
        _run("a", 2, 2, tools=("get_weather", "get_weather")) + _run("new", 1, 1),
    )
    cells = {cell.name: cell for cell in comparison.cells}
    assert cells["a"].tool_call_changes == {"get_weather": (1.0, 2.0)}
    assert cells["gone"].b is None and cells["new"].a is None
    assert not comparison.regressions


def test_the_table_on_an_80_column_terminal_cuts_nothing() -> None:
    comparison = compare_records(
        _run("spoken-tool-call@noisy-street", 10, 10, latency_ms=1118),
        _run("spoken-tool-call@noisy-street", 3, 10, latency_ms=1118),
    )
    console = Console(width=80, record=True, color_system=None)
    console.print(comparison_table(comparison))
    lines = console.export_text().splitlines()
    assert max(map(len, lines)) <= 80
    text = "".join(lines)
    assert "…" not in text  # no name, interval or verdict cut short
    assert "REGRESSED" in text and "[72%-100%]" in text and "[11%-60%]" in text


def test_cli_compare_writes_json_and_html_and_exits_1_on_regression(tmp_path: Path) -> None:
    run_a = _write(tmp_path / "a", _run("weather", 10, 10))
    run_b = _write(tmp_path / "b", _run("weather", 2, 10))
    assert main(["compare", str(run_a), str(run_b)]) == 1
    data = json.loads((run_b / "compare.json").read_text())
    assert data["regressions"] == ["weather"]
    assert data["cells"][0]["b"]["passed_runs"] == 2
    page = (run_b / "compare.html").read_text()
    assert "1 REGRESSED" in page and "weather" in page
    same = _write(tmp_path / "c", _run("weather", 9, 10))
    assert main(["compare", str(run_a), str(same), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "compare.json").is_file()


def test_cli_compare_names_a_directory_that_is_not_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_a = _write(tmp_path / "a", _run("weather", 1, 1))
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(run_a), str(tmp_path / "empty")]) == 2
    assert "no results.jsonl" in capsys.readouterr().out
    assert main(["compare", str(run_a), str(run_a), "--alpha", "2"]) == 2
    assert "alpha must be between 0 and 1" in capsys.readouterr().out
    # NaN compares false with everything: it used to pass the CLI's own check.
    assert main(["compare", str(run_a), str(run_a), "--latency-tolerance", "nan"]) == 2
    assert "latency_tolerance must be >= 0, got nan" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("thresholds", "named"),
    [
        ({"alpha": 0.0}, "alpha must be between 0 and 1 (exclusive), got 0.0"),
        ({"alpha": 1.5}, "alpha must be between 0 and 1 (exclusive), got 1.5"),
        ({"alpha": float("nan")}, "alpha must be between 0 and 1 (exclusive), got nan"),
        ({"latency_tolerance": -0.1}, "latency_tolerance must be >= 0, got -0.1"),
        ({"latency_floor_ms": float("nan")}, "latency_floor_ms must be >= 0, got nan"),
    ],
)
def test_a_gate_built_in_python_refuses_nonsense_naming_the_threshold(
    thresholds: dict[str, float], named: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        RegressionGate(**thresholds)
    assert str(refused.value) == named
    # The same check guards the functions that take the thresholds one by one.
    with pytest.raises(ConfigError, match=re.escape(named)):
        compare_records(_run("weather", 1, 1), _run("weather", 1, 1), **thresholds)


def test_regressions_become_junit_failures(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<?xml version="1.0"?><testsuites name="s"><testsuite name="s" tests="1" failures="0">'
        '<testcase classname="s" name="weather"/></testsuite></testsuites>'
    )
    comparison = compare_records(_run("weather", 10, 10), _run("weather", 1, 10))
    add_regressions_to_junit(junit, comparison)
    suites = ET.parse(junit).getroot().findall("testsuite")
    regressions = next(s for s in suites if s.get("name") == "regressions")
    assert regressions.get("failures") == "1"
    failure = regressions.find("testcase/failure")
    assert failure is not None and "pass rate 10/10 -> 1/10" in (failure.text or "")
    assert "REGRESSED" in render_compare_page(comparison)


def test_eval_with_a_baseline_that_is_not_a_run_fails_before_ray(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "smoke", "--baseline", str(tmp_path / "missing")]) == 2
    assert "not a run directory" in capsys.readouterr().out


SUITE = """
name: gate
scenarios:
  - name: greet
    turns: [{text: Hello there}]
    sim:
      rules: [{turn: 1, reply: Hello to you too.}]
    expect:
      transcript_contains: [hello]
"""


@pytest.mark.ray
@pytest.mark.e2e
def test_eval_baseline_gate_fails_a_passing_run_that_got_slower(
    ray_cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "gate.yaml"
    suite.write_text(SUITE)
    # A baseline where the same scenario passed every time and answered in 5 ms.
    baseline = _write(tmp_path / "baseline", _run("greet", 5, 5, latency_ms=5.0))
    out = tmp_path / "run"
    code = main(
        ["eval", str(suite), "--out", str(out), "--speed", "4", "--baseline", str(baseline)]
    )
    printed = capsys.readouterr().out
    assert code == 1, printed
    assert "1/1 scenarios passed" in printed  # its own checks passed...
    assert "1 regression(s)" in printed and "latency p95" in printed  # ...the gate did not
    data = json.loads((out / "compare.json").read_text())
    assert data["regressions"] == ["greet"] and data["cells"][0]["latency_regression"]
    assert (out / "compare.html").is_file()
    suites = ET.parse(out / "junit.xml").getroot().findall("testsuite")
    gate = next(s for s in suites if s.get("name") == "regressions")
    assert gate.get("failures") == "1"
