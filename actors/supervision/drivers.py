"""Runs whose driver is gone are stopped: no session talks to the provider for nobody.

A batch job's driver (``voxray eval``, a script using ``Fleet.submit``) waits for its runs'
results. Killed (``kill -9``, the OOM killer, a closed laptop lid on a remote cluster), it can
no longer receive them, but the supervisor is detached and the session actors are its own: left
alone they would run every conversation to its end, billed, with the results thrown away.

Each run's ticket names its driver by Ray job id (:attr:`SessionTicket.driver_job`). The GCS
marks a job dead within ≈ 50 ms of its driver's death (measured: a driver killed with SIGKILL,
its job's ``IsDead`` read back), so :class:`DriverWatch` reads the job table every
``check_every_s`` while runs are watched, and reports each voxray job whose driver is gone once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

__all__ = ["DriverWatch", "read_dead_jobs"]

logger = logging.getLogger("voxray.supervisor")


def read_dead_jobs(ray_job_ids: set[str]) -> set[str]:
    """Those of ``ray_job_ids`` whose driver the GCS has recorded dead.

    Ray's public job listing needs the dashboard; its global state client reads the same job
    table straight from the GCS (≈ 1 ms). A job the table does not know is not reported.
    """
    from ray._private import state

    return {
        str(job["JobID"])
        for job in state.jobs()
        if job.get("IsDead") and str(job.get("JobID")) in ray_job_ids
    }


class DriverWatch:
    """Which voxray jobs wait on which drivers, and a loop that notices drivers that died.

    Args:
        on_gone: called with (voxray job id, Ray job id of its driver) once per job whose
            driver is gone.
        check_every_s: how often the job table is read while anything is watched.
        read_dead: the job-table reader (tests pass their own).
    """

    def __init__(
        self,
        on_gone: Callable[[str, str], None],
        *,
        check_every_s: float,
        read_dead: Callable[[set[str]], set[str]] = read_dead_jobs,
    ) -> None:
        self._on_gone = on_gone
        self._check_every_s = check_every_s
        self._read_dead = read_dead
        self._runs: Counter[tuple[str, str]] = Counter()  # (driver, job) -> runs watched
        self._gone: set[str] = set()

    def watch(self, driver_job: str, job_id: str) -> None:
        """One more run of ``job_id`` waits on ``driver_job``."""
        self._runs[(driver_job, job_id)] += 1

    def unwatch(self, driver_job: str, job_id: str) -> None:
        """A run of ``job_id`` ended."""
        key = (driver_job, job_id)
        self._runs[key] -= 1
        if self._runs[key] <= 0:
            del self._runs[key]

    def is_gone(self, driver_job: str) -> bool:
        """Whether ``driver_job`` was found dead already (a run still queued must not start)."""
        return driver_job in self._gone

    async def run(self) -> None:
        """Check forever; a failed read is logged and tried again at the next check."""
        while True:
            await asyncio.sleep(self._check_every_s)
            try:
                await self.check()
            except Exception:  # a GCS hiccup must not end the watch
                logger.exception("reading the job table failed")

    async def check(self) -> None:
        """Read the job table once and report the jobs whose driver is gone."""
        drivers = {driver for driver, _ in self._runs} - self._gone
        if not drivers:
            return
        dead = await asyncio.to_thread(self._read_dead, drivers)
        for driver in dead:
            self._gone.add(driver)
            for job_id in sorted({job for owner, job in self._runs if owner == driver}):
                self._on_gone(job_id, driver)
