"""`voxray bench` prints a table and writes its figures; unknown names are an input error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from voxray.cli import main


def test_audio_bench_writes_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "audio", "--quick", "--json", str(out)]) == 0
    assert "voxray bench audio" in capsys.readouterr().out
    figures = {f["name"]: f for f in json.loads(out.read_text())["audio"]["figures"]}
    # Correctness, not speed: the stream resampler has no seams and a clean sine.
    assert figures["soxr error at frame boundaries"]["value"] <= 2
    assert figures["soxr SNR, 440 Hz sine"]["value"] >= 80


def test_unknown_benchmark_is_an_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "no-such-bench"]) == 2
    assert "no-such-bench" in capsys.readouterr().out


def test_barge_in_bench_measures_every_round(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "barge-in", "--quick", "--json", str(out)]) == 0
    figures = {f["name"]: f["value"] for f in json.loads(out.read_text())["barge-in"]["figures"]}
    assert 0 < figures["response.cancel received, p50"] <= figures["response.cancel received, p99"]


def test_wire_bench_carries_traffic_on_both_loops(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "wire", "--quick", "--json", str(out)]) == 0
    result = json.loads(out.read_text())["wire"]
    figures = {f["name"]: f["value"] for f in result["figures"]}
    assert result["notes"] == []  # no connection failed or errored
    for loop in ("asyncio", "uvloop"):
        tag = f"10 connections, {loop}"
        # 10 connections at 50 appends/s for ~4.5 s; the server answers half the time.
        assert figures[f"{tag}: appends sent"] > 10 * 50 * 3  # every connection sends
        assert 0 < figures[f"{tag}: deltas received"] < figures[f"{tag}: appends sent"]
        assert figures[f"{tag}: client CPU per connection"] > 0


def test_bench_help_lists_every_benchmark_and_warns_about_the_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from voxray.bench.registry import BENCHMARKS

    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = capsys.readouterr().out
    assert len(BENCHMARKS) >= 8
    for name, bench in BENCHMARKS.items():
        assert f"  {name} " in out and bench.description in out
    assert "density bench included" in out and "about 10 minutes" in out
