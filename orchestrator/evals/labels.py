"""Label tracks beside each recording, in Audacity's text format, so a person can open the WAV
and see what happened where.

``recordings/<key>.txt`` holds one label per line, ``start<TAB>end<TAB>text`` in seconds
(Audacity: File → Import → Labels; a point label has start = end):

- ``user 1: <what the script said>`` — each user turn, from the start to the end of its speech;
- ``agent: <its words>`` — each agent response, from its first audio to where playback ended
  (cut short at a barge-in);
- ``tool get_weather`` — each tool call, from the model's call to its result;
- ``barge-in`` — each time the agent was cut off (a point).

Times are on the audio timeline the recording shares (ms from the start of the conversation).
Built from a record alone, so tracks can be written again for an old or resumed run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from voxray.actors.conversation.events import (
    AgentSpeechEnded,
    AgentSpeechStarted,
    Interrupted,
    ToolCallFinished,
    ToolCallStarted,
)
from voxray.evals.records import ScenarioRecord

__all__ = ["Label", "label_track", "labels_of", "write_label_tracks"]

_TEXT_CHARS = 80


@dataclass(frozen=True)
class Label:
    """One Audacity label: a span (or a point) in seconds and its text."""

    start_s: float
    end_s: float
    text: str

    def line(self) -> str:
        """The label as a line of an Audacity label file."""
        return f"{self.start_s:.3f}\t{self.end_s:.3f}\t{self.text}"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_CHARS else text[: _TEXT_CHARS - 1] + "…"


def labels_of(record: ScenarioRecord) -> list[Label]:
    """The labels of one run, in time order."""
    labels: list[Label] = []
    for turn in record.turns:
        start, end = turn.user_speech_start_ms, turn.user_speech_end_ms
        if start is not None and end is not None and turn.kind != "wait":
            said = f": {_clip(turn.said)}" if turn.said else ""
            labels.append(Label(start / 1000, end / 1000, f"user {turn.index + 1}{said}"))
    started: dict[str, float] = {}
    agent_words = {
        turn.first_agent_audio_ms: turn.agent_transcript
        for turn in record.turns
        if turn.first_agent_audio_ms is not None
    }
    tools: dict[str, tuple[float, str]] = {}
    for event in record.timeline:
        detail = event.detail
        match event.kind:
            case AgentSpeechStarted.type:
                started[str(detail.get("response_id", ""))] = event.t_ms
            case AgentSpeechEnded.type | Interrupted.type:
                response = str(detail.get("response_id") or "")
                if response in started:
                    begin = started.pop(response)
                    words = agent_words.get(begin, "")
                    text = f"agent: {_clip(words)}" if words else "agent"
                    labels.append(Label(begin / 1000, max(begin, event.t_ms) / 1000, text))
                if event.kind == Interrupted.type:
                    labels.append(Label(event.t_ms / 1000, event.t_ms / 1000, "barge-in"))
            case ToolCallStarted.type:
                tools[str(detail.get("call_id", ""))] = (event.t_ms, str(detail.get("name", "")))
            case ToolCallFinished.type:
                call = str(detail.get("call_id", ""))
                begin, name = tools.pop(call, (event.t_ms, str(detail.get("name", ""))))
                ok = "" if detail.get("ok", True) else " (failed)"
                labels.append(Label(begin / 1000, event.t_ms / 1000, f"tool {name}{ok}"))
            case _:
                pass
    return sorted(labels, key=lambda label: (label.start_s, label.end_s))


def label_track(record: ScenarioRecord) -> str:
    """The Audacity label file of one run."""
    return "".join(label.line() + "\n" for label in labels_of(record))


def write_label_tracks(run_path: Path, records: Iterable[ScenarioRecord]) -> list[Path]:
    """Write ``<recording>.txt`` beside every recording of ``records``; returns the paths."""
    written: list[Path] = []
    for record in {record.key: record for record in records}.values():
        if record.recording is None:
            continue
        target = (run_path / record.recording).with_suffix(".txt")
        if not target.parent.is_dir():
            continue
        target.write_text(label_track(record), encoding="utf-8")
        written.append(target)
    return written
