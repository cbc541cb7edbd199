"""What an eval run leaves on disk, in its run directory::

    runs/smoke-20261125-101500/
      results.jsonl     one ScenarioRecord per line, appended (and fsynced) as each one finishes
      summary.json      counts, pass rates, kinds of failure, latency percentiles, cost estimate
      junit.xml         one testcase per scenario run, for CI
      report.html       one self-contained page: results, latency chart, timelines, transcripts
      recordings/       <key>.wav: stereo 16-bit, user left, agent right

``results.jsonl`` is the source of truth: a run that is killed keeps every line already written,
and ``--resume`` skips the keys it finds there (:meth:`RunDirectory.completed_keys`).
Records (:mod:`voxray.evals.records`) carry results only, never settings, so no secret
can reach a file here. The report is written by :mod:`voxray.evals.report`.
"""

from __future__ import annotations

import json
import os
import re
import wave
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from voxray.actors.conversation.result import Recording
from voxray.evals.cost import COST_PER_AUDIO_MINUTE_USD, COST_PER_TEXT_ITEM_USD
from voxray.evals.records import ScenarioRecord, ToolCallSummary
from voxray.evals.scoring import Check
from voxray.evals.summary import RunSummary, ScenarioTally, summarize

# ScenarioRecord, the summary and the prices used to live here; they are re-exported so that
# `from voxray.evals.outputs import ScenarioRecord` keeps working.
__all__ = [
    "COST_PER_AUDIO_MINUTE_USD",
    "COST_PER_TEXT_ITEM_USD",
    "JUNIT_FILE",
    "RECORDINGS_DIR",
    "REPORT_FILE",
    "RESULTS_FILE",
    "SUMMARY_FILE",
    "RunDirectory",
    "RunSummary",
    "ScenarioRecord",
    "ScenarioTally",
    "ToolCallSummary",
    "summarize",
]

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
JUNIT_FILE = "junit.xml"
REPORT_FILE = "report.html"
RECORDINGS_DIR = "recordings"

# Characters XML 1.0 cannot carry, even escaped; transcripts may contain anything.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


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

    @property
    def report_path(self) -> Path:
        """``report.html``."""
        return self.path / REPORT_FILE

    def write_summary(
        self,
        records: Iterable[ScenarioRecord],
        *,
        pass_threshold: float = 1.0,
        wall_s: float | None = None,
        planned_cost_usd: float | None = None,
    ) -> Path:
        """Write ``summary.json`` (see :class:`RunSummary`) and return its path."""
        summary = summarize(
            records,
            pass_threshold=pass_threshold,
            wall_s=wall_s,
            planned_cost_usd=planned_cost_usd,
        )
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
            out = [f"skipped {check.name}: {check.got}" for check in record.skipped]
            if record.agent_transcript:
                out.append(record.agent_transcript)
            if out:
                ET.SubElement(case, "system-out").text = _xml("\n".join(out))
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
