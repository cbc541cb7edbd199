"""Scheduling priority of the processes that stream real-time audio.

Ray starts its worker processes at niceness 15 (the raylet's ``worker_niceness``), so that user
work yields to Ray's own daemons. A conversation host is real-time work: at niceness 15 it gets
about 1/28 of the CPU weight of any ordinary process it competes with (a simulator or a gateway
on the same machine, the driver), and its microphone frames leave late whenever they compete.
Measured at 50 conversations in one host next to the simulator: lateness p99 16 to 30 ms at
niceness 15.

Lowering a process's niceness needs privilege (``CAP_SYS_NICE``); without it the process stays
where it is and says so once. A cluster can also start its workers at 0 with
``RAY_worker_niceness=0`` in the environment of ``ray start``.
"""

from __future__ import annotations

import logging
import os

__all__ = ["run_at_normal_priority"]

logger = logging.getLogger("voxray.priority")


def run_at_normal_priority() -> int:
    """Bring this process to niceness 0 if it runs below it; returns the niceness it has now."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if current <= 0:
        return current
    try:
        os.setpriority(os.PRIO_PROCESS, 0, 0)
    except PermissionError:
        logger.warning(
            "running at niceness %d (not allowed to lower it): real-time audio may be late "
            "when the machine is busy; start Ray with RAY_worker_niceness=0 to avoid this",
            current,
        )
        return current
    return 0
