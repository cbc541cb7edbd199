"""What a session actor reports about itself: progress, memory, and where it runs.

The session actor answers :func:`measure_health` from its own ``health`` concurrency group, so
the answer comes even while its conversation keeps the default group busy, and a session whose
event loop is wedged still reports a progress counter that no longer moves.

Memory is measured in the actor's own process: USS (memory only this process holds, what
recycling watches) and RSS through psutil when it is installed, else from ``/proc``; the node's
free memory (``MemAvailable``) feeds placement. USS is re-read at most every
``USS_REFRESH_S``: walking the page tables of a Ray worker takes milliseconds of kernel time, and
health is asked for every few seconds by every session actor on the node.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict

__all__ = ["SessionHealth", "measure_health"]

_MB = 1024 * 1024
USS_REFRESH_S: Final = 30.0
_uss_cache: dict[str, float | None] = {}  # "at" (monotonic s) and "uss" (bytes) of the last read


class SessionHealth(BaseModel):
    """One answer of a session actor's ``health()``."""

    model_config = ConfigDict(frozen=True)

    progress: int
    """Grows while a conversation does anything (events in, audio out); still = stuck."""
    node_id: str
    pid: int
    rss_mb: float
    uss_mb: float | None
    """Unique set size; None where it cannot be read."""
    node_available_mb: float | None


def measure_health(progress: int) -> SessionHealth:
    """Measure this process and node now (USS as of at most ``USS_REFRESH_S`` ago)."""
    import ray

    rss, uss = _memory_now()
    return SessionHealth(
        progress=progress,
        node_id=ray.get_runtime_context().get_node_id(),
        pid=os.getpid(),
        rss_mb=rss / _MB,
        uss_mb=None if uss is None else uss / _MB,
        node_available_mb=_node_available_mb(),
    )


def _memory_now() -> tuple[float, float | None]:
    now = time.monotonic()
    at = _uss_cache.get("at")
    if at is not None and now - at < USS_REFRESH_S:
        return _rss(), _uss_cache["uss"]
    rss, uss = _process_memory()
    _uss_cache.update(at=now, uss=uss)
    return rss, uss


def _rss() -> float:
    try:
        import psutil
    except ImportError:
        return _proc_memory()[0]
    return float(psutil.Process().memory_info().rss)


def _process_memory() -> tuple[float, float | None]:
    try:
        import psutil
    except ImportError:
        return _proc_memory()
    info = psutil.Process().memory_full_info()
    return float(info.rss), float(info.uss)


def _proc_memory() -> tuple[float, float | None]:
    """RSS and USS from /proc/self (Linux) when psutil is missing."""
    rss = 0.0
    uss: float | None = None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = float(line.split()[1]) * 1024
        private = 0.0
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                private += float(line.split()[1]) * 1024
        uss = private
    except (OSError, ValueError, IndexError):
        pass
    return rss, uss


def _node_available_mb() -> float | None:
    try:
        import psutil
    except ImportError:
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            return None
        return None
    return float(psutil.virtual_memory().available) / _MB
