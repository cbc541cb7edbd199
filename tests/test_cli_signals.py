"""`voxray eval` stopped by signals, as a CI runner or a user at the keyboard does it: the first
SIGTERM (or Ctrl-C) drains, the second stops at once, and either way the command ends with its
outputs written and the unfinished runs listed for --resume — never a traceback."""

from __future__ import annotations

import io
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from voxray.cli import main

pytestmark = pytest.mark.ray

SUITE = """
name: signals
backend: sim
concurrency: 1
output_dir: {out}
scenarios:
  - name: quick
    turns: [{{text: ping}}]
    sim: {{rules: [{{heard: ping, reply: Pong.}}]}}
    expect: {{transcript_contains: [pong]}}
  - name: slow
    turns: [{{text: ping}}, {{wait_ms: 400000}}]
    sim: {{rules: [{{heard: ping, reply: Pong.}}]}}
  - name: never
    turns: [{{text: ping}}]
    sim: {{rules: [{{heard: ping, reply: Pong.}}]}}
"""


class _Screen(io.StringIO):
    """stdout that another thread may read while the command prints."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)

    def seen(self, text: str) -> bool:
        with self._lock:
            return text in self.getvalue()


def _wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 120
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.02)


def test_a_second_signal_stops_at_once_and_still_writes_the_outputs(
    ray_cluster: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.format(out=tmp_path / "runs"))
    out = tmp_path / "run"
    screen = _Screen()
    monkeypatch.setattr(sys, "stdout", screen)
    monkeypatch.setenv("VOXRAY_DRAIN_DEADLINE_S", "600")  # only the second signal ends it

    def terminate_twice() -> None:
        # Each signal lands on this thread, not the main one (the kernel may hand a process's
        # signal to any thread: Ray's, the job's loop): the main thread must still act on it.
        me = threading.get_ident()
        _wait_for(lambda: screen.seen("PASS quick"), "the first run finish")
        signal.pthread_kill(me, signal.SIGTERM)
        _wait_for(lambda: screen.seen("draining:"), "the drain start")
        signal.pthread_kill(me, signal.SIGINT)  # Ctrl-C counts as the second

    sender = threading.Thread(target=terminate_twice, daemon=True)
    sender.start()
    code = main(["eval", str(suite), "--out", str(out), "--speed", "8"])
    sender.join(timeout=10)
    printed = screen.getvalue()

    assert code == 1, printed
    assert "Traceback" not in printed and "stopping now" in printed
    for name in ("summary.json", "junit.xml", "report.html"):
        assert (out / name).exists(), name
    lines = (out / "results.jsonl").read_text().splitlines()
    statuses = {entry["key"]: entry["status"] for entry in map(json.loads, lines)}
    # The queue may start 'never' (one second of work) before 'slow' and let it finish in the
    # drain; 'slow' (a 400 s wait) can only have been cut or never started.
    assert statuses["quick"] == "completed"
    assert statuses["slow"] in ("interrupted", "not_run"), statuses
    assert statuses["never"] in ("completed", "not_run"), statuses
    unfinished = sum(status != "completed" for status in statuses.values())
    assert f"{unfinished} run(s) did not finish" in printed and "--resume" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["runs_passed"], summary["runs_unfinished"]) == (3 - unfinished, unfinished)
