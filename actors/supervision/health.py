"""What a session actor reports about itself: progress, memory, and where it runs.

The session actor answers :func:`measure_health` from its own ``health`` concurrency group, so
the answer comes even while its conversation keeps the default group busy, and a session whose
event loop is wedged still reports a progress counter that no longer moves.

Memory is measured in the actor's own process: USS (memory only this process holds, what
recycling watches) and RSS. On Linux both are kernel counters in ``/proc/self/status``, read in
about 0.2 ms: USS is ``RssAnon``, the private anonymous resident memory, which for a Ray worker
(started by the raylet, sharing no anonymous pages with a parent) equals the USS of
``smaps_rollup`` within a few pages (measured 88,776 vs 88,748 kB on a packed host). Reading
``smaps_rollup`` walks the page tables instead: 3 to 7 ms per read from outside, and up to 200 ms
inside a busy packed host, whose conversations share the process. Elsewhere psutil is used when
installed. The node's free memory (``MemAvailable``) feeds placement.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

__all__ = ["SessionHealth", "measure_health"]

_MB = 1024 * 1024


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
    """Measure this process and node now."""
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
    """RSS and USS of this process, in bytes (USS None where it cannot be read)."""
    counters = _status_counters_kb("VmRSS", "RssAnon")
    if counters is not None:
        rss_kb, anonymous_kb = counters
        return rss_kb * 1024, anonymous_kb * 1024
    try:
        import psutil
    except ImportError:
        return 0.0, None
    info = psutil.Process().memory_full_info()
    return float(info.rss), float(info.uss)


def _status_counters_kb(*names: str) -> tuple[float, ...] | None:
    """Fields of ``/proc/self/status`` in kB, in the order asked; None unless all are there."""
    found: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in names:
                found[name] = float(value.split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if len(found) < len(names):
        return None
    return tuple(found[name] for name in names)


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
