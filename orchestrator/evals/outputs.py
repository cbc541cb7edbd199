"""What an eval run leaves on disk, in its run directory::

    runs/smoke-20261125-101500/
      results.jsonl     one ScenarioRecord per line, appended (and fsynced) as each one finishes
      summary.json      counts, pass rates, kinds of failure, latency percentiles, cost estimate
      junit.xml         one testcase per scenario run, for CI
      report.html       one self-contained page: results, latency chart, timelines, transcripts
      recordings/       <key>.wav: stereo 16-bit, user left, agent right

``results.jsonl`` is the source of truth: a run that is killed keeps every line already written,
and ``--resume`` skips the keys whose latest line is a finished run
(:meth:`RunDirectory.completed_keys`); runs recorded as not run, interrupted or lost are run
again. A line that cannot be read (a disk fault, a hand edit) is skipped with a warning that
names it, by the summary and by resume alike. While a run writes the directory it holds
``.voxray.lock`` (:meth:`RunDirectory.lock`): a second run on the same directory is refused.
Records (:mod:`voxray.evals.records`) carry results only, never settings, so no secret
can reach a file here. The report is written by :mod:`voxray.evals.report`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import wave
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError
from voxray.actors.conversation.result import Recording
from voxray.actors.errors import RunDirectoryBusyError
from voxray.evals.cost import COST_PER_AUDIO_MINUTE_USD, COST_PER_TEXT_ITEM_USD
from voxray.evals.records import FINISHED, ScenarioRecord, ToolCallSummary
from voxray.evals.scoring import Check
from voxray.evals.summary import RunSummary, ScenarioTally, summarize

# ScenarioRecord, the summary and the prices used to live here; they are re-exported so that
# `from voxray.evals.outputs import ScenarioRecord` keeps working.
__all__ = [
    "COST_PER_AUDIO_MINUTE_USD",
    "COST_PER_TEXT_ITEM_USD",
    "JUNIT_FILE",
    "LOCK_FILE",
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
LOCK_FILE = ".voxray.lock"

logger = logging.getLogger("voxray.outputs")

# Characters XML 1.0 cannot carry, even escaped; transcripts may contain anything.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class RunDirectory:
    """The files of one eval run. Creating it creates ``path/`` and ``path/recordings/``."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self.recordings = path / RECORDINGS_DIR
        if create:
            self.recordings.mkdir(parents=True, exist_ok=True)
        self._repaired = False

    @classmethod
    def finished_keys_in(cls, path: Path) -> set[str]:
        """:meth:`completed_keys` of the run directory at ``path`` (empty if there is none),
        creating nothing."""
        return cls(path, create=False).completed_keys()

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

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory for one run; the lock goes with the process, however it ends.

        Raises:
            RunDirectoryBusyError: another process holds it (two runs would write the same
                runs twice).
        """
        path = self.path / LOCK_FILE
        with path.open("a+", encoding="utf-8") as file:
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                file.seek(0)
                owner = file.read().strip() or None
                held_by = f" (held by {owner})" if owner else ""
                raise RunDirectoryBusyError(
                    f"{self.path} is in use by another voxray run{held_by}: wait for it to "
                    "end, or write to another --out",
                    owner=owner,
                ) from None
            file.seek(0)
            file.truncate()
            file.write(f"pid {os.getpid()}\n")
            file.flush()
            try:
                yield
            finally:
                file.truncate(0)
                fcntl.flock(file.fileno(), fcntl.LOCK_UN)

    def _lines(self) -> list[tuple[int, str]]:
        try:
            text = self.results_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        lines = text.split("\n")
        # The last element is "" after a complete file, or a fragment after a killed write: a
        # record counts only once its newline is on disk.
        return [(number, line) for number, line in enumerate(lines[:-1], 1) if line.strip()]

    def load_records(self) -> list[ScenarioRecord]:
        """Every readable record in ``results.jsonl``, in the order written; a line that
        cannot be read is skipped with a warning naming it."""
        records: list[ScenarioRecord] = []
        for number, line in self._lines():
            try:
                records.append(ScenarioRecord.model_validate_json(line))
            except ValidationError as error:
                self._warn_unreadable(number, error)
        return records

    def completed_keys(self) -> set[str]:
        """Keys whose latest record is a finished run: what ``--resume`` skips.

        Runs recorded as not run, interrupted or lost are not in it (resume runs them again);
        an unreadable line is skipped with a warning, so its run is run again too.
        """
        status: dict[str, object] = {}
        for number, line in self._lines():
            try:
                entry = json.loads(line)
            except ValueError as error:
                self._warn_unreadable(number, error)
                continue
            if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                status[entry["key"]] = entry.get("status")
        return {key for key, value in status.items() if value in FINISHED}

    def _warn_unreadable(self, number: int, error: Exception) -> None:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        logger.warning(
            "%s line %d cannot be read (%s); skipped (a resume runs it again)",
            self.results_path,
            number,
            reason[:200],
        )

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
        """Write ``junit.xml``: a testcase per run; failed checks as failures, sessions that
        ended with an error as errors, runs that did not finish as skipped."""
        runs = list({record.key: record for record in records}.values())
        suite = ET.Element(
            "testsuite",
            name=_xml(suite_name),
            tests=str(len(runs)),
            failures=str(sum(1 for r in runs if not r.passed and r.status == "completed")),
            errors=str(sum(1 for r in runs if r.status == "failed")),
            skipped=str(sum(1 for r in runs if not r.finished)),
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
            if not record.finished:  # never a failure: --resume runs it
                skipped = ET.SubElement(case, "skipped", type=record.status)
                skipped.set("message", _xml(f"{record.status}: {record.error or ''}".strip(": ")))
            elif record.status != "completed":
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
