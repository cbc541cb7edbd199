"""What an eval run leaves on disk, in its run directory::

    runs/smoke-20261125-101500/
      results.jsonl     one ScenarioRecord per line, appended (and fsynced) as each one finishes
      summary.json      counts, pass rates, latency percentiles, audio minutes, cost estimate
      junit.xml         one testcase per scenario run, for CI
      recordings/       <key>.wav: stereo 16-bit, user left, agent right

``results.jsonl`` is the source of truth: a run that is killed keeps every line already written,
and ``--resume`` skips the keys it finds there (:meth:`RunDirectory.completed_keys`).
Records carry results only, never settings, so no secret can reach a file here.
"""

from __future__ import annotations

import json
import math
import os
import re
import wave
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from actors.conversation.result import Recording, SessionResult, SessionStatus, Usage
from actors.conversation.script import TextTurn
from orchestrator.evals.scoring import Check, ScenarioScore
from orchestrator.evals.suite import ScenarioSpec

__all__ = [
    "COST_PER_AUDIO_MINUTE_USD",
    "COST_PER_TEXT_ITEM_USD",
    "RunDirectory",
    "RunSummary",
    "ScenarioRecord",
    "ScenarioTally",
    "ToolCallSummary",
    "summarize",
]

COST_PER_AUDIO_MINUTE_USD = 0.05
"""xAI's price of one minute of realtime audio, sent or received (protocol reference §2.5)."""

COST_PER_TEXT_ITEM_USD = 0.004
"""xAI's price of one typed message (``conversation.item.create`` with text)."""

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
JUNIT_FILE = "junit.xml"
RECORDINGS_DIR = "recordings"

# Defence in depth: errors come from sessions that are written to keep keys out of messages,
# but a record is a file people share, so anything shaped like a credential is masked again.
_SECRET = re.compile(r"(xai-[A-Za-z0-9_-]{8,}|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,})")
# Characters XML 1.0 cannot carry, even escaped; transcripts may contain anything.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _redact(text: str) -> str:
    return _SECRET.sub("[redacted]", text)


class ToolCallSummary(BaseModel):
    """One function call as a record keeps it."""

    model_config = ConfigDict(frozen=True)

    name: str
    arguments: Any = Field(description="Parsed JSON arguments, or the raw text if not JSON.")
    ok: bool
    error_type: str | None = None
    latency_ms: float


class ScenarioRecord(BaseModel):
    """One scenario run, scored: a line of ``results.jsonl``."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="Unique in the run: the scenario name, plus #n when repeated.")
    scenario: str
    repeat_index: int = Field(ge=0, description="Which run of the scenario, from 0.")
    passed: bool
    checks: tuple[Check, ...]
    status: SessionStatus
    error: str | None = None
    latency_ms: list[float | None] = Field(
        default_factory=list, description="Response latency per turn; None when unmeasured."
    )
    tool_calls: list[ToolCallSummary] = Field(default_factory=list)
    agent_transcript: str = ""
    user_transcripts: list[str | None] = Field(default_factory=list)
    audio_in_ms: float = 0.0
    audio_out_ms: float = 0.0
    typed_turns: int = Field(0, description="Text turns sent: billed per message.")
    usage: Usage = Field(default_factory=Usage)
    recording: str | None = Field(None, description="WAV path relative to the run directory.")
    duration_ms: float = 0.0
    finished_at: datetime

    @classmethod
    def from_result(  # noqa: PLR0917 (the signature the runner was promised)
        cls,
        key: str,
        spec: ScenarioSpec,
        repeat_index: int,
        result: SessionResult,
        score: ScenarioScore,
        recording_path: str | Path | None,
    ) -> ScenarioRecord:
        """Build the record of one run from its result and score.

        ``recording_path`` is the WAV relative to the run directory, as
        :meth:`RunDirectory.write_recording` returns it.
        """
        return cls(
            key=key,
            scenario=spec.name,
            repeat_index=repeat_index,
            passed=score.passed,
            checks=tuple(
                check.model_copy(update={"got": _redact(check.got)}) for check in score.checks
            ),
            status=result.status,
            error=_redact(result.error) if result.error is not None else None,
            latency_ms=[turn.response_latency_ms for turn in result.turns],
            tool_calls=[
                ToolCallSummary(
                    name=call.name,
                    arguments=_parsed(call.arguments),
                    ok=call.ok,
                    error_type=call.error_type,
                    latency_ms=call.latency_ms,
                )
                for call in result.tool_calls
            ],
            agent_transcript=result.agent_transcript,
            user_transcripts=[turn.user_transcript for turn in result.turns],
            audio_in_ms=result.audio_in_ms,
            audio_out_ms=result.audio_out_ms,
            typed_turns=sum(1 for turn in spec.turns if isinstance(turn, TextTurn)),
            usage=result.usage,
            recording=None if recording_path is None else Path(recording_path).as_posix(),
            duration_ms=result.duration_ms,
            finished_at=datetime.now(UTC),
        )

    @property
    def failures(self) -> tuple[Check, ...]:
        """The checks that failed."""
        return tuple(check for check in self.checks if not check.passed)


def _parsed(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


class ScenarioTally(BaseModel):
    """How one scenario did over its repeats."""

    runs: int
    passed_runs: int
    pass_rate: float
    passed: bool = Field(description="pass_rate reached the suite's pass_threshold.")


class RunSummary(BaseModel):
    """The figures of ``summary.json``."""

    scenarios: int
    scenarios_passed: int
    runs: int
    runs_passed: int
    runs_errored: int = Field(description="Runs whose session did not complete.")
    pass_threshold: float
    per_scenario: dict[str, ScenarioTally]
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_samples: int
    audio_in_minutes: float
    audio_out_minutes: float
    cost_estimate_usd: float = Field(
        description=(
            "What the run costs (or would cost) on xAI: audio minutes sent and received at the "
            "per-minute price plus typed messages; tool calls are billed separately, not here."
        )
    )
    wall_s: float | None = None

    @property
    def all_passed(self) -> bool:
        """Whether every scenario reached the pass threshold."""
        return self.scenarios_passed == self.scenarios


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    # Linear interpolation between closest ranks (numpy's default), exact for small samples.
    position = (len(sorted_values) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    value = sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)
    return round(value, 1)


def summarize(
    records: Iterable[ScenarioRecord], *, pass_threshold: float = 1.0, wall_s: float | None = None
) -> RunSummary:
    """Aggregate records (the last record of a key wins, as after a resumed run)."""
    latest = {record.key: record for record in records}
    by_scenario: dict[str, list[ScenarioRecord]] = {}
    for record in latest.values():
        by_scenario.setdefault(record.scenario, []).append(record)
    tallies: dict[str, ScenarioTally] = {}
    for name, runs in by_scenario.items():
        passed_runs = sum(1 for run in runs if run.passed)
        rate = passed_runs / len(runs)
        tallies[name] = ScenarioTally(
            runs=len(runs),
            passed_runs=passed_runs,
            pass_rate=round(rate, 4),
            passed=rate >= pass_threshold,
        )
    latencies = sorted(ms for r in latest.values() for ms in r.latency_ms if ms is not None)
    audio_in_min = sum(r.audio_in_ms for r in latest.values()) / 60_000
    audio_out_min = sum(r.audio_out_ms for r in latest.values()) / 60_000
    return RunSummary(
        scenarios=len(tallies),
        scenarios_passed=sum(1 for tally in tallies.values() if tally.passed),
        runs=len(latest),
        runs_passed=sum(1 for r in latest.values() if r.passed),
        runs_errored=sum(1 for r in latest.values() if r.status != "completed"),
        pass_threshold=pass_threshold,
        per_scenario=tallies,
        latency_p50_ms=_percentile(latencies, 0.50) if latencies else None,
        latency_p95_ms=_percentile(latencies, 0.95) if latencies else None,
        latency_samples=len(latencies),
        audio_in_minutes=round(audio_in_min, 3),
        audio_out_minutes=round(audio_out_min, 3),
        cost_estimate_usd=round(
            (audio_in_min + audio_out_min) * COST_PER_AUDIO_MINUTE_USD
            + sum(r.typed_turns for r in latest.values()) * COST_PER_TEXT_ITEM_USD,
            4,
        ),
        wall_s=None if wall_s is None else round(wall_s, 2),
    )


class RunDirectory:
    """The files of one eval run. Creating it creates ``path/`` and ``path/recordings/``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.recordings = path / RECORDINGS_DIR
        self.recordings.mkdir(parents=True, exist_ok=True)
        self._repaired = False

    @property
    def results_path(self) -> Path:
        """``results.jsonl``."""
        return self.path / RESULTS_FILE

    def append_result(self, record: ScenarioRecord) -> None:
        """Append ``record`` as one line of ``results.jsonl``, on disk before this returns."""
        if not self._repaired:
            self._drop_partial_line()
            self._repaired = True
        line = record.model_dump_json() + "\n"
        with self.results_path.open("a", encoding="utf-8") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())

    def _drop_partial_line(self) -> None:
        # A run killed mid-write leaves a line without its newline; appending after it would
        # glue the next record onto the fragment and lose both.
        try:
            with self.results_path.open("rb+") as file:
                data = file.read()
                if data and not data.endswith(b"\n"):
                    file.truncate(data.rfind(b"\n") + 1)
        except FileNotFoundError:
            pass

    def _lines(self) -> list[str]:
        try:
            text = self.results_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        lines = text.split("\n")
        # The last element is "" after a complete file, or a fragment after a killed write: a
        # record counts only once its newline is on disk.
        return [line for line in lines[:-1] if line.strip()]

    def load_records(self) -> list[ScenarioRecord]:
        """Every complete record in ``results.jsonl``, in the order written."""
        return [ScenarioRecord.model_validate_json(line) for line in self._lines()]

    def completed_keys(self) -> set[str]:
        """Keys in ``results.jsonl``, ignoring a truncated last line: for ``--resume``."""
        keys: set[str] = set()
        for line in self._lines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                keys.add(entry["key"])
        return keys

    def write_recording(self, key: str, recording: Recording) -> Path:
        """Write ``recordings/<key>.wav`` (stereo, 16-bit) and return that path, relative to the
        run directory as records keep it.

        ``#`` in the key becomes ``-``: a ``#`` in a file name breaks links in HTML reports.
        """
        relative = Path(RECORDINGS_DIR) / f"{key.replace('#', '-')}.wav"
        target = self.path / relative
        # Whole frames only: a trailing partial frame would make the WAV header lie.
        pcm = recording.pcm[: len(recording.pcm) - len(recording.pcm) % 4]
        partial = target.with_suffix(".wav.part")
        with wave.open(str(partial), "wb") as wav:
            wav.setnchannels(2)
            wav.setsampwidth(2)
            wav.setframerate(recording.rate)
            wav.writeframes(pcm)
        # Renamed into place so a killed run never leaves a WAV that stops mid-file.
        os.replace(partial, target)
        return relative

    def write_summary(
        self,
        records: Iterable[ScenarioRecord],
        *,
        pass_threshold: float = 1.0,
        wall_s: float | None = None,
    ) -> Path:
        """Write ``summary.json`` (see :class:`RunSummary`) and return its path."""
        summary = summarize(records, pass_threshold=pass_threshold, wall_s=wall_s)
        target = self.path / SUMMARY_FILE
        target.write_text(summary.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return target

    def write_junit(self, suite_name: str, records: Iterable[ScenarioRecord]) -> Path:
        """Write ``junit.xml``: a testcase per run; failed checks as failures, sessions that did
        not complete as errors."""
        runs = list({record.key: record for record in records}.values())
        suite = ET.Element(
            "testsuite",
            name=_xml(suite_name),
            tests=str(len(runs)),
            failures=str(sum(1 for r in runs if not r.passed and r.status == "completed")),
            errors=str(sum(1 for r in runs if r.status != "completed")),
            time=f"{sum(r.duration_ms for r in runs) / 1000:.3f}",
        )
        for record in runs:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_xml(suite_name),
                name=_xml(record.key),
                time=f"{record.duration_ms / 1000:.3f}",
            )
            failed = record.failures
            if record.status != "completed":
                error = ET.SubElement(case, "error", type=record.status)
                error.set("message", _xml(record.error or record.status))
                error.text = _xml("\n".join(_failure_line(check) for check in failed))
            elif failed:
                failure = ET.SubElement(case, "failure", type="checks")
                failure.set("message", _xml("; ".join(check.name for check in failed)))
                failure.text = _xml("\n".join(_failure_line(check) for check in failed))
            if record.agent_transcript:
                ET.SubElement(case, "system-out").text = _xml(record.agent_transcript)
        root = ET.Element("testsuites", name=_xml(suite_name))
        root.append(suite)
        ET.indent(root)
        target = self.path / JUNIT_FILE
        ET.ElementTree(root).write(target, encoding="utf-8", xml_declaration=True)
        return target


def _failure_line(check: Check) -> str:
    return f"{check.name}: expected {check.expected}, got {check.got}"


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
