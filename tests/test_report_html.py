"""report.html: self-contained, and what a person sees in a real browser (headless Chromium).

The run is built from scored results and real stereo WAVs, without Ray or the simulator, so
these tests check the report alone: its table, chart, timelines, transcripts and colours.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from voxray.actors.conversation.result import (
    Recording,
    SessionResult,
    TimelineEvent,
    ToolCallRecord,
    TurnMetrics,
)
from voxray.actors.errors import ConfigError
from voxray.evals.outputs import RunDirectory
from voxray.evals.records import ScenarioRecord
from voxray.evals.report import write_report
from voxray.evals.scoring import score
from voxray.evals.suite import ScenarioSpec

RATE = 8_000
WEATHER = ScenarioSpec.model_validate(
    {
        "name": "weather-call",
        "description": "A spoken question answered with a tool call.",
        "agent": {"tools": ["voxray.examples.tools:get_weather"]},
        "turns": [{"say": "What is the weather in Paris?"}],
        "expect": {"tools_called": ["get_weather"], "max_user_wer": 0.3},
    }
)
BARGE_IN = ScenarioSpec.model_validate(
    {
        "name": "interrupt",
        "description": "The user cuts a long answer short.",
        "turns": [
            {"say": "Tell me about the store."},
            {"barge_in": "Just the hours.", "after_ms": 800},
        ],
        "expect": {"max_barge_in_stop_ms": 300, "transcript_contains": ["nine"]},
    }
)


def _tone(seconds: float, hz: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * hz * t) * np.hanning(t.size) * 12_000).astype(np.int16)


def _recording(user: list[tuple[float, float]], agent: list[tuple[float, float]]) -> Recording:
    """Stereo PCM with tone bursts where each side speaks: (start_s, end_s) spans."""
    length = int(max(end for _, end in user + agent) * RATE) + RATE // 2
    stereo = np.zeros((length, 2), dtype=np.int16)
    for channel, spans, hz in ((0, user, 220.0), (1, agent, 330.0)):
        for start, end in spans:
            burst = _tone(end - start, hz)
            at = int(start * RATE)
            stereo[at : at + burst.size, channel] = burst
    return Recording(rate=RATE, pcm=stereo.tobytes())


def _weather_result() -> SessionResult:
    turn = TurnMetrics(
        index=0,
        kind="say",
        user_speech_start_ms=200.0,
        user_speech_end_ms=1800.0,
        first_agent_audio_ms=2450.0,
        response_latency_ms=650.0,
        agent_audio_ms=3000.0,
        user_transcript="what is the weather in paris",
        agent_transcript="Let me check. It is sunny and 21 degrees in Paris.",
    )
    call = ToolCallRecord(
        call_id="call_1",
        name="get_weather",
        arguments='{"city": "Paris"}',
        output='{"temperature": 21, "conditions": "sunny"}',
        ok=True,
        latency_ms=4.2,
        t_ms=3300.0,
    )
    timeline = (
        TimelineEvent(t_ms=230.0, kind="user_speech_started"),
        TimelineEvent(t_ms=2100.0, kind="user_speech_ended"),
        TimelineEvent(t_ms=2450.0, kind="agent_speech_started"),
        TimelineEvent(t_ms=3290.0, kind="tool_call_started", detail={"name": "get_weather"}),
        TimelineEvent(t_ms=5450.0, kind="agent_speech_ended"),
    )
    return SessionResult(
        status="completed",
        turns=(turn,),
        tool_calls=(call,),
        timeline=timeline,
        audio_in_ms=6000.0,
        audio_out_ms=3000.0,
        duration_ms=6000.0,
        recording=_recording([(0.2, 1.8)], [(2.45, 3.2), (3.6, 5.45)]),
    )


def _barge_in_result(stop_ms: float) -> SessionResult:
    first = TurnMetrics(
        index=0,
        kind="say",
        user_speech_start_ms=200.0,
        user_speech_end_ms=1500.0,
        first_agent_audio_ms=2100.0,
        response_latency_ms=600.0,
        agent_audio_ms=900.0,
        agent_transcript="Our store has a long and interesting history that",
    )
    second = TurnMetrics(
        index=1,
        kind="barge_in",
        user_speech_start_ms=2900.0,
        user_speech_end_ms=3800.0,
        first_agent_audio_ms=4500.0,
        response_latency_ms=700.0,
        agent_audio_ms=1500.0,
        agent_transcript="We open at nine.",
        interrupted_agent=True,
        barge_in_stop_ms=stop_ms,
    )
    timeline = (
        TimelineEvent(t_ms=2900.0 + stop_ms, kind="interrupted", detail={"played_ms": 1000}),
        TimelineEvent(t_ms=5000.0, kind="error_occurred", detail={"message": "late frame"}),
    )
    return SessionResult(
        status="completed",
        turns=(first, second),
        timeline=timeline,
        audio_in_ms=6500.0,
        audio_out_ms=2400.0,
        duration_ms=6500.0,
        recording=_recording([(0.2, 1.5), (2.9, 3.8)], [(2.1, 2.9 + stop_ms / 1000), (4.5, 6.0)]),
    )


@pytest.fixture(scope="module")
def report_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[RunDirectory, list[ScenarioRecord]]:
    """A run directory with three runs' recordings, and their records."""
    run = RunDirectory(tmp_path_factory.mktemp("run"))
    records = []
    runs = [
        (WEATHER, 0, "weather-call", _weather_result()),
        (BARGE_IN, 0, "interrupt#1", _barge_in_result(120.0)),
        (BARGE_IN, 1, "interrupt#2", _barge_in_result(640.0)),  # too slow to stop: fails
    ]
    for spec, index, key, result in runs:
        assert result.recording is not None
        wav = run.write_recording(key, result.recording)
        records.append(
            ScenarioRecord.from_result(key, spec, index, result, score(spec, result), wav)
        )
    assert [record.passed for record in records] == [True, True, False]
    return run, records


@pytest.fixture(scope="module")
def report(report_run: tuple[RunDirectory, list[ScenarioRecord]]) -> Path:
    run, records = report_run
    return write_report(
        run,
        records,
        suite_name="demo",
        backend="sim",
        pass_threshold=1.0,
        wall_s=12.5,
        descriptions={WEATHER.name: WEATHER.description, BARGE_IN.name: BARGE_IN.description},
    )


def test_report_is_one_self_contained_file(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    assert report.name == "report.html"
    # Nothing to fetch: no stylesheet, script, image, font or frame from anywhere.
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html)
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert not re.search(r"(@import|url\()", html)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    # The only relative reference: the run's own recordings, for the audio players.
    referenced = set(re.findall(r"""src=["']([^"']+)["']""", html))
    assert referenced == {
        "recordings/weather-call.wav",
        "recordings/interrupt-1.wav",
        "recordings/interrupt-2.wav",
    }
    assert len(html) < 300_000


# --- in a real browser ---------------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    executable = _chromium()
    if executable is None:
        pytest.skip(
            "chromium is not installed here (.ci/run installs it: apt-get install chromium)"
        )
    profile = tmp_path_factory.mktemp("chromium-profile")
    yield [
        executable,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=3000",  # let the page's script run before dumping or shooting
    ]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


class _Dom(HTMLParser):
    """Just enough of the rendered DOM: result rows, waveform paths, titles, bubbles."""

    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.rows: list[list[str]] = []
        self.waves: list[dict[str, str | None]] = []
        self.titles: list[str] = []
        self.messages: list[str] = []
        self._stack: list[tuple[str, dict[str, str | None]]] = []
        self._cell: list[str] | None = None
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        css = (found.get("class") or "").split()
        if tag == "body":
            self.body = found
        if tag == "tr" and self._inside("table", "results"):
            self.rows.append([])
        if tag == "td" and self.rows and self._inside("table", "results"):
            self._cell = []
        if tag == "path" and "wave" in css:
            self.waves.append(found)
        if tag in ("title",) or (tag == "div" and "msg" in css):
            self._text = []
        self._stack.append((tag, found))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            open_tag, attrs = self._stack.pop()
            if open_tag == "td" and self._cell is not None:
                self.rows[-1].append(" ".join(" ".join(self._cell).split()))
                self._cell = None
            if open_tag == "title" and self._text is not None:
                self.titles.append("".join(self._text))
                self._text = None
            if open_tag == "div" and "msg" in (attrs.get("class") or "") and self._text is not None:
                self.messages.append(" ".join(" ".join(self._text).split()))
                self._text = None
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._text is not None:
            self._text.append(data)

    def _inside(self, tag: str, css: str) -> bool:
        return any(t == tag and css in (a.get("class") or "").split() for t, a in self._stack)


def test_rendered_dom_shows_results_waveforms_and_transcripts(
    report: Path, browser: list[str]
) -> None:
    dumped = _run([*browser, "--dump-dom", report.as_uri()]).stdout
    dom = _Dom()
    dom.feed(dumped)
    assert dom.body.get("data-ready") == "1", "the report's script did not run"

    rows = {row[0].split()[0]: row for row in dom.rows if row}
    assert set(rows) == {"weather-call", "interrupt"}
    assert rows["weather-call"][1] == "PASS"
    assert rows["interrupt"][1] == "FAIL"
    assert rows["interrupt"][2] == "1/2"
    assert "barge-in stop ×1" in rows["interrupt"][5]  # noqa: RUF001
    assert "skipped: user WER" not in rows["weather-call"][5]  # it was transcribed

    # Three runs, two channels each; every waveform has one stroke per bucket.
    assert len(dom.waves) == 6
    for wave in dom.waves:
        strokes = re.findall(r"M[\d.]+ [\d.]+V[\d.]+", wave.get("d") or "")
        assert len(strokes) >= 100, wave
    # Where the tones are, the strokes are tall; where silence is, flat.
    heights = [
        float(v) - float(y)
        for y, v in re.findall(r"M[\d.]+ ([\d.]+)V([\d.]+)", dom.waves[0].get("d") or "")
    ]
    assert max(heights) > 40 and min(heights) < 1

    assert any(t.startswith('tool get_weather({"city": "Paris"}) → ok') for t in dom.titles)
    assert any("barge-in — agent cut off" in t for t in dom.titles)
    assert any("answered after 650 ms" in t for t in dom.titles)
    assert any(t.startswith("turn 2 (barge_in): Just the hours.") for t in dom.titles)

    assert (
        "user · say What is the weather in Paris? heard: “what is the weather in paris”"
        in dom.messages
    )
    assert 'tool · ok 4.2 ms get_weather({"city": "Paris"})' in " ".join(dom.messages)
    assert any("It is sunny and 21 degrees in Paris." in m for m in dom.messages)
    assert any(
        m.startswith("user · barge-in cut the agent off — it stopped in 640 ms")
        for m in dom.messages
    )


def test_screenshot_is_a_page_with_pass_and_fail_colours(
    report: Path, browser: list[str], tmp_path: Path
) -> None:
    from PIL import Image

    shot = tmp_path / "report.png"
    _run([*browser, "--window-size=1280,1800", f"--screenshot={shot}", report.as_uri()])
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    assert pixels.shape[:2] == (1800, 1280)
    assert pixels.std() > 20, "the screenshot is blank"

    def near(rgb: tuple[int, int, int], tolerance: int = 40) -> int:
        return int((np.abs(pixels - np.array(rgb)).sum(axis=2) < tolerance).sum())

    assert near((0x1A, 0x7F, 0x37)) > 200, "no PASS green"
    assert near((0xCF, 0x22, 0x2E)) > 200, "no FAIL red"
    assert near((0x09, 0x69, 0xDA)) > 500, "no user waveform blue"
    assert near((0x82, 0x50, 0xDF)) > 500, "no agent waveform purple"


def test_a_lost_session_is_reported_with_its_error(tmp_path: Path) -> None:
    lost = SessionResult(status="lost", error="SessionLostError: the actor died")
    record = ScenarioRecord.from_result(
        "weather-call", WEATHER, 0, lost, score(WEATHER, lost), None
    )
    path = write_report(RunDirectory(tmp_path), [record], suite_name="demo", backend="xai")
    html = path.read_text(encoding="utf-8")
    assert "SessionLostError: the actor died" in html
    assert "no recording" in html
    # Lost is not a failure of the scenario: the run did not finish, and resume reruns it.
    assert '<span class="verdict skip">1 NOT FINISHED</span>' in html
    assert "FAILED" not in html and '<span class="pill skip">LOST</span>' in html
    assert "cost on xAI" in html and "would cost" not in html


def test_players_load_their_length_before_a_click(report: Path) -> None:
    # preload="none" showed 0:00 / 0:00 until the user pressed play.
    players = re.findall(r"<audio [^>]*>", report.read_text(encoding="utf-8"))
    assert len(players) == 3
    assert all('preload="metadata"' in player for player in players)


def test_lane_names_are_drawn_over_everything_else(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    timelines = re.findall(r'<svg class="chart timeline".*?</svg>', html, flags=re.S)
    assert len(timelines) == 3
    for svg in timelines:
        user_label = svg.index('class="lane-label"')
        # Waveforms, turn shading and event markers all come first: SVG paints in order.
        for drawn in ('class="wave', 'class="turn"', 'class="ev '):
            assert svg.rindex(drawn) < user_label, drawn
    assert "paint-order: stroke" in html  # a halo keeps the name legible over a waveform


def test_embedded_audio_report_plays_without_the_run_directory(
    report_run: tuple[RunDirectory, list[ScenarioRecord]], tmp_path: Path
) -> None:
    run, records = report_run
    embedded = write_report(run, records, suite_name="demo", embed_audio=True)
    # Uploaded alone (a CI artifact): nothing beside it, and the players still have audio.
    alone = tmp_path / "report.html"
    shutil.copyfile(embedded, alone)
    html = alone.read_text(encoding="utf-8")
    assert not re.search(r"""src=["']recordings/""", html)
    sources = re.findall(r'<audio [^>]*src="data:audio/wav;base64,([^"]+)"', html)
    # Each run's own recording (the page shows them in the suite's order, not the records').
    recordings = sorted((run.path / str(record.recording)).read_bytes() for record in records)
    assert sorted(base64.b64decode(encoded) for encoded in sources) == recordings
    assert "the recordings are inside this file" in html


def test_a_suite_asks_for_embedded_audio_in_its_report_settings(tmp_path: Path) -> None:
    from voxray.evals.suite import load_suite

    path = tmp_path / "suite.yaml"
    path.write_text(
        "name: s\nreport: {embed_audio: true}\nscenarios: [{name: a, turns: [{text: hi}]}]\n"
    )
    assert load_suite(path).report.embed_audio is True
    path.write_text("name: s\nreport: {embed: true}\nscenarios: [{name: a, turns: [{text: hi}]}]\n")
    with pytest.raises(ConfigError, match=r"report.embed: unknown key 'embed' \(did you mean"):
        load_suite(path)
