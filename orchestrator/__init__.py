"""voxray's control surface: settings, the Python API, the CLI, eval suites and reports.

``from voxray import Fleet`` is the Python API (:mod:`voxray.client`). It is loaded
on first use, so ``voxray`` commands that do not need Ray do not pay for importing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voxray.client import Fleet, Job, JobResult, Session

__all__ = ["Fleet", "Job", "JobResult", "Session"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from voxray import client

        return getattr(client, name)
    raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")
