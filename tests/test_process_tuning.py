"""Process settings of the real-time workers: scheduling priority and the frozen start-up heap.

Each check runs in a child process: both change process-wide state.
"""

from __future__ import annotations

import os
import subprocess
import sys


def _run(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return [*done.stdout.split(), done.stderr]


def test_a_niced_worker_is_brought_back_to_normal_priority() -> None:
    out = _run(
        "import os, logging\n"
        "logging.basicConfig()\n"
        "os.nice(15)\n"  # what Ray's raylet does to every worker it starts
        "from voxray.actors.priority import run_at_normal_priority\n"
        "print(run_at_normal_priority(), os.getpriority(os.PRIO_PROCESS, 0))\n"
    )
    if os.geteuid() == 0:
        assert out[:2] == ["0", "0"]
    else:  # not allowed: it stays, and says how to fix it
        assert out[:2] == ["15", "15"]
        assert "RAY_worker_niceness=0" in out[2]


def test_the_start_up_heap_is_frozen_out_of_collections() -> None:
    out = _run(
        "import gc\n"
        "import voxray.actors.session\n"
        "from voxray.actors.heap import freeze_startup_heap\n"
        "before = gc.get_freeze_count()\n"
        "freeze_startup_heap()\n"
        "print(before, gc.get_freeze_count(), len(gc.get_objects()))\n"
    )
    before, frozen, still_collected = (int(value) for value in out[:3])
    assert before == 0
    assert frozen > 50_000, "the imported modules' objects are frozen"
    assert still_collected < frozen / 100
