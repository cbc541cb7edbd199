"""Every example suite in configs/evals passes on the simulator, through the CLI, as a user runs it.

The smoke suite has its own, more detailed test in test_cli_eval.py. Each test here also checks
the thing its suite exists to show, on the results a user would open.
"""

from __future__ import annotations

import itertools
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from voxray.cli import main
from voxray.evals.suite import load_suite

EVALS = Path(__file__).resolve().parents[1] / "configs" / "evals"
SUITES = sorted(path for path in EVALS.glob("*.yaml") if path.name != "smoke.yaml")
SPEED = "4"
# Suites judged on tight timing budgets (barge-in stop time, latency p95) run slower: at speed S
# every millisecond the event loop is late counts S times on the audio timeline, so a busy
# machine would fail them for reasons that have nothing to do with the agent.
TIMING_SENSITIVE_SPEED = {"barge-in": "2", "repeats": "2"}


def _agent_channel(out: Path, record: dict[str, Any]) -> tuple[np.ndarray, int]:
    with wave.open(str(out / record["recording"])) as wav:
        rate = wav.getframerate()
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    return stereo[:, 1].astype(np.float64), rate


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def _check_barge_in(out: Path, records: list[dict[str, Any]]) -> None:
    for record in records:
        cut = next(turn for turn in record["turns"] if turn["kind"] == "barge_in")
        assert cut["interrupted_agent"], record["key"]
        assert 0 <= cut["barge_in_stop_ms"] <= 400, cut
        # On the recording, the agent is silent between the cut and its next answer.
        agent, rate = _agent_channel(out, record)
        stop_ms = cut["user_speech_start_ms"] + cut["barge_in_stop_ms"]
        quiet = agent[
            int((stop_ms + 60) * rate / 1000) : int(cut["first_agent_audio_ms"] * rate / 1000)
        ]
        assert quiet.size > rate // 10 and _rms(quiet) < 50, (record["key"], _rms(quiet))


def _check_tools(out: Path, records: list[dict[str, Any]]) -> None:
    calls = {r["key"]: [(c["name"], c["ok"]) for c in r["tool_calls"]] for r in records}
    assert calls["parallel-calls"] == [("get_weather", True), ("get_weather", True)]
    assert calls["failing-tool"] == [("lookup_order", False)]
    assert calls["no-tool-needed"] == []


def _check_audio_file(out: Path, records: list[dict[str, Any]]) -> None:
    for record in records:
        with wave.open(str(out / record["recording"])) as wav:
            stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        user = stereo.reshape(-1, 2)[:, 0].astype(np.float64)
        assert _rms(user) > 200, f"{record['key']}: the WAV should be on the user channel"


def _check_repeats(out: Path, records: list[dict[str, Any]]) -> None:
    summary = json.loads((out / "summary.json").read_text())
    for name in ("spoken-greeting", "two-turn-order"):
        tally = summary["per_scenario"][name]
        assert tally["runs"] == 3 and tally["pass_rate"] == 1.0
        assert [c["name"] for c in tally["scenario_checks"]] == ["latency p95"]
    # The simulator does not transcribe: the WER expectation is listed as skipped, every run.
    assert summary["per_scenario"]["spoken-greeting"]["skipped_checks"] == {"user WER": 3}


def _user_channel(out: Path, record: dict[str, Any]) -> tuple[np.ndarray, int]:
    with wave.open(str(out / record["recording"])) as wav:
        rate = wav.getframerate()
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    return stereo[:, 0].astype(np.float64), rate


def _band_db(samples: np.ndarray, rate: int, low: float, high: float) -> float:
    power = np.abs(np.fft.rfft(samples)) ** 2
    frequencies = np.fft.rfftfreq(samples.size, 1 / rate)
    return float(10 * np.log10(power[(frequencies >= low) & (frequencies < high)].sum() + 1e-9))


def _check_conditions(out: Path, records: list[dict[str, Any]]) -> None:
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["per_condition"]) == ["clean", "phone", "bad-network"]
    for condition, tally in summary["per_condition"].items():
        assert (tally["runs"], tally["pass_rate"]) == (3, 1.0), condition
    by_key = {record["key"]: record for record in records}
    for record in records:
        assert record["condition"] == (record["key"].partition("@")[2] or "clean")
        # An Audacity label track beside each recording: the user's turns and the agent's.
        labels = (out / record["recording"]).with_suffix(".txt").read_text().splitlines()
        texts = [line.split("\t")[2] for line in labels]
        assert any(text.startswith("user 1") for text in texts), labels
        assert any(text.startswith("agent") for text in texts), labels
    # The recording keeps what the session heard: the phone line passes nothing above 4 kHz.
    clean, rate = _user_channel(out, by_key["opening-hours"])
    phone, _ = _user_channel(out, by_key["opening-hours@phone"])
    assert _band_db(clean, rate, 4200, 8000) - _band_db(clean, rate, 300, 3400) > -30
    assert _band_db(phone, rate, 4200, 8000) - _band_db(phone, rate, 300, 3400) < -40
    for key in ("backchannel", "backchannel@phone", "backchannel@bad-network"):
        murmur = by_key[key]["turns"][1]
        assert murmur["kind"] == "backchannel" and not murmur["interrupted_agent"], key
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="conditions"' in html and "Pass rate by condition" in html
    assert "Caller condition phone: 8 kHz" in html  # each run's condition, said in the report


def _check_judged(out: Path, records: list[dict[str, Any]]) -> None:
    judged = {record["key"]: [c for c in record["checks"] if c.get("judge")] for record in records}
    counts = {key: len(checks) for key, checks in judged.items()}
    assert counts == {"confirm-before-cancel": 2, "polite-close": 2, "split-judge": 1}
    for checks in judged.values():
        assert all(check["passed"] and check["judge"]["samples"] == 3 for check in checks)
    quoted = judged["confirm-before-cancel"][0]["got"]
    assert quoted.startswith("pass (3 pass, 0 fail of 3): The agent asked"), quoted
    summary = json.loads((out / "summary.json").read_text())
    (split,) = summary["per_scenario"]["split-judge"]["judge_items"].values()
    assert (split["passes"], split["agreement"]) == (1, 0.6667)
    assert summary["judge"]["requests"] == 15 and summary["judge"]["prompt_tokens"] > 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "judge #1: The agent gave a delivery time." in html


def _check_caller(out: Path, records: list[dict[str, Any]]) -> None:
    by_key = {record["key"]: record for record in records}
    for key, reason in [
        ("order-status", "the agent gave the order status"),
        ("table-booking", "the table is booked for seven"),
    ]:
        outcome = next(c for c in by_key[key]["checks"] if c["name"] == "caller outcome")
        assert outcome["passed"] and outcome["got"] == f"success: {reason}", outcome
    # The record has the call as a dialogue, who spoke when, and the caller's outcome.
    caller = by_key["table-booking"]["caller"]
    assert caller["outcome"] == {"outcome": "success", "reason": "the table is booked for seven"}
    assert [(line["speaker"], line["text"]) for line in caller["dialogue"]] == [
        ("caller", "Hi, I would like a table for two tonight."),
        ("agent", "Of course. For what time?"),
        ("caller", "At seven please."),
        ("agent", "Booked, a table for two at seven."),
        ("caller", "Perfect, thank you. Bye."),
    ]
    lines = caller["dialogue"]
    assert all(a["end_ms"] <= b["start_ms"] for a, b in itertools.pairwise(lines))
    assert caller["audio_in_ms"] > 0 and caller["cost_estimate_usd"] > 0
    # The record reads as the call: each caller line, then the agent's answer, in time order.
    turns = by_key["table-booking"]["turns"]
    assert [(t["user_transcript"], t["agent_transcript"]) for t in turns] == [
        ("Hi, I would like a table for two tonight.", "Of course. For what time?"),
        ("At seven please.", "Booked, a table for two at seven."),
        ("Perfect, thank you. Bye.", ""),
    ]
    starts = [t["user_speech_start_ms"] for t in turns]
    assert starts == sorted(starts)
    assert all(t["first_agent_audio_ms"] > t["user_speech_end_ms"] for t in turns[:2])
    # The recording holds the call: the caller speaking (left) while the agent is silent
    # (right), then the agent answering.
    with wave.open(str(out / by_key["table-booking"]["recording"])) as wav:
        rate = wav.getframerate()
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    first = turns[0]
    said = stereo[
        int(first["user_speech_start_ms"] * rate / 1000) : int(
            first["user_speech_end_ms"] * rate / 1000
        )
    ].astype(np.float64)
    assert _rms(said[:, 0]) > 100 and _rms(said[:, 1]) < 50, (_rms(said[:, 0]), _rms(said[:, 1]))
    answer_at = int((first["first_agent_audio_ms"] + 200) * rate / 1000)
    assert _rms(stereo[answer_at : answer_at + rate // 2, 1].astype(np.float64)) > 100


CHECKS = {
    "barge-in": _check_barge_in,
    "tools": _check_tools,
    "audio-file": _check_audio_file,
    "repeats": _check_repeats,
    "conditions": _check_conditions,
    "judged": _check_judged,
    "caller": _check_caller,
}


def test_every_example_suite_has_a_test() -> None:
    assert sorted(path.stem for path in SUITES) == sorted(CHECKS)


@pytest.mark.ray
@pytest.mark.e2e
@pytest.mark.parametrize("path", SUITES, ids=lambda path: path.stem)
def test_example_suite_passes_on_the_simulator(
    ray_cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], path: Path
) -> None:
    out = tmp_path / "run"
    speed = TIMING_SENSITIVE_SPEED.get(path.stem, SPEED)
    code = main(["eval", str(path), "--out", str(out), "--speed", speed])
    printed = capsys.readouterr().out
    assert code == 0, printed
    suite = load_suite(path)
    count = len(suite.scenarios)
    assert f"{count}/{count} scenarios passed" in printed
    assert f"report: {out / 'report.html'}" in printed

    summary = json.loads((out / "summary.json").read_text())
    assert (summary["scenarios"], summary["scenarios_passed"]) == (count, count)
    assert summary["runs"] == count * suite.repeat
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == count * suite.repeat
    html = (out / "report.html").read_text(encoding="utf-8")
    assert all(f'id="scenario-{scenario.name}"' in html for scenario in suite.scenarios)
    CHECKS[path.stem](out, records)
