"""Session health reads its memory from kernel counters, and they agree with a page walk.

Each check runs in a fresh interpreter, as a Ray worker is (started by the raylet, not forked
from a parent): a forked process shares anonymous pages with its parent, and those count in
``RssAnon`` but not in USS.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="/proc/self/status is Linux's")

_PROBE = """
import json, numpy as np, psutil
from voxray.actors.supervision.health import _memory_now
figures = {"before": _memory_now()[1]}
held = np.ones(128 * 1024 * 1024 // 8)  # 128 MiB this process alone holds, all touched
rss, uss = _memory_now()
walked = psutil.Process().memory_full_info()
figures.update(rss=rss, uss=uss, walked_rss=walked.rss, walked_uss=walked.uss)
del held
figures["after"] = _memory_now()[1]
print(json.dumps(figures))
"""
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def figures() -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    measured: dict[str, float] = json.loads(done.stdout)
    return measured


def test_uss_and_rss_match_what_psutil_measures_by_walking_the_page_tables(
    figures: dict[str, float],
) -> None:
    assert abs(figures["uss"] - figures["walked_uss"]) < 4 * MIB
    assert abs(figures["rss"] - figures["walked_rss"]) < 4 * MIB


def test_memory_held_and_freed_shows_in_the_figure(figures: dict[str, float]) -> None:
    assert figures["uss"] - figures["before"] > 120 * MIB
    assert figures["uss"] - figures["after"] > 120 * MIB
