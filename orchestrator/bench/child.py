"""What the benchmarks' child processes share."""

from __future__ import annotations

import asyncio
import multiprocessing.connection
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["WorkWindow", "cores_used", "until_parent_says_stop"]


async def until_parent_says_stop(conn: multiprocessing.connection.Connection) -> None:
    """Return once the parent writes anything to ``conn`` (or closes it): the stop signal."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_reader(conn.fileno(), stop.set)
    try:
        await stop.wait()
    finally:
        loop.remove_reader(conn.fileno())


def cores_used(pids: Sequence[int | None], *, warmup_s: float, window_s: float) -> list[float]:
    """Cores each (started) process used over ``window_s`` seconds, sampled after ``warmup_s``."""
    import psutil

    if None in pids:
        raise ValueError("cores_used needs processes that have started (a pid each)")
    processes = [psutil.Process(pid) for pid in pids]
    time.sleep(warmup_s)
    before = [p.cpu_times() for p in processes]
    started = time.monotonic()
    time.sleep(window_s)
    after = [p.cpu_times() for p in processes]
    wall = time.monotonic() - started
    return [
        (b.user + b.system - a.user - a.system) / wall for a, b in zip(before, after, strict=True)
    ]


@dataclass
class WorkWindow:
    """The CPU a client process used over a window, and the audio it sent meanwhile.

    Its ratio is the client's CPU per conversation at real-time pace even when the machine is
    busy: a starved process sends fewer frames in the window (and catches up later), so CPU
    per wall-clock second would read low, while CPU per second of audio sent does not.
    """

    cpu_s: float = float("nan")
    audio_s: float = float("nan")

    @property
    def percent_per_conversation(self) -> float:
        """% of one core per conversation streaming in real time."""
        return self.cpu_s / self.audio_s * 100 if self.audio_s > 0 else float("nan")

    def measure(
        self, *, warmup_s: float, window_s: float, audio_sent_s: Callable[[], float]
    ) -> None:
        """Mark the window's start ``warmup_s`` from now and its end ``window_s`` later, on
        the running loop; ``audio_sent_s`` says how much audio (in seconds, summed over the
        conversations) the process has sent so far."""
        loop = asyncio.get_running_loop()
        start: list[float] = []

        def mark() -> None:
            times = os.times()
            cpu_s, audio_s = times.user + times.system, audio_sent_s()
            if not start:
                start.extend((cpu_s, audio_s))
                loop.call_later(window_s, mark)
            else:
                self.cpu_s, self.audio_s = cpu_s - start[0], audio_s - start[1]

        loop.call_later(warmup_s, mark)
