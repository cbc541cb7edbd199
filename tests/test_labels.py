"""Audacity label tracks: one line per user turn, agent response, tool call and barge-in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from voxray.actors.conversation.result import TimelineEvent
from voxray.evals.labels import label_track, write_label_tracks
from voxray.evals.records import ScenarioRecord, TurnRecord


def _record(recording: str | None = "recordings/weather.wav") -> ScenarioRecord:
    def event(t_ms: float, kind: str, **detail: object) -> TimelineEvent:
        return TimelineEvent(t_ms=t_ms, kind=kind, detail=dict(detail))

    return ScenarioRecord(
        key="weather",
        scenario="weather",
        repeat_index=0,
        passed=True,
        checks=(),
        status="completed",
        turns=[
            TurnRecord(
                index=0,
                kind="say",
                said="What is the weather in Paris?",
                user_speech_start_ms=200.0,
                user_speech_end_ms=1900.0,
                first_agent_audio_ms=2600.0,
                agent_transcript="It is sunny in Paris.",
            ),
            TurnRecord(
                index=1,
                kind="barge_in",
                said="Wait",
                user_speech_start_ms=3000.0,
                user_speech_end_ms=3400.0,
                interrupted_agent=True,
            ),
        ],
        timeline=[
            event(2100.0, "tool_call_started", call_id="c1", name="get_weather"),
            event(2350.6, "tool_call_finished", call_id="c1", name="get_weather", ok=True),
            event(2600.0, "agent_speech_started", response_id="r1"),
            event(3050.0, "interrupted", response_id="r1", played_ms=450),
        ],
        recording=recording,
        finished_at=datetime.now(UTC),
    )


def test_label_track_in_audacity_format() -> None:
    lines = label_track(_record()).splitlines()
    assert lines == [
        "0.200\t1.900\tuser 1: What is the weather in Paris?",
        "2.100\t2.351\ttool get_weather",
        "2.600\t3.050\tagent: It is sunny in Paris.",
        "3.000\t3.400\tuser 2: Wait",
        "3.050\t3.050\tbarge-in",
    ]


def test_tracks_are_written_beside_the_recordings(tmp_path: Path) -> None:
    (tmp_path / "recordings").mkdir()
    no_audio = _record(recording=None).model_copy(update={"key": "typed"})
    written = write_label_tracks(tmp_path, [_record(), no_audio])
    assert written == [tmp_path / "recordings" / "weather.txt"]
    assert written[0].read_text().count("\n") == 5
