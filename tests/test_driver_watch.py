"""DriverWatch: which jobs to stop when their driver is gone, each once (no Ray: a fake table)."""

from __future__ import annotations

from voxray.actors.supervision.drivers import DriverWatch


class Table:
    """A fake GCS job table: the drivers recorded dead, and every read made."""

    def __init__(self) -> None:
        self.dead: set[str] = set()
        self.reads: list[set[str]] = []

    def __call__(self, drivers: set[str]) -> set[str]:
        self.reads.append(set(drivers))
        return drivers & self.dead


async def test_each_job_of_a_dead_driver_is_reported_once() -> None:
    table = Table()
    gone: list[tuple[str, str]] = []
    watch = DriverWatch(
        lambda job, driver: gone.append((job, driver)), check_every_s=1, read_dead=table
    )
    watch.watch("02000000", "eval-a")
    watch.watch("02000000", "eval-a")  # two runs of one job
    watch.watch("02000000", "eval-b")
    watch.watch("03000000", "eval-c")
    await watch.check()
    assert gone == []
    table.dead.add("02000000")
    await watch.check()
    assert gone == [("eval-a", "02000000"), ("eval-b", "02000000")]
    assert watch.is_gone("02000000") and not watch.is_gone("03000000")
    await watch.check()  # not again, and the dead driver is no longer read
    assert len(gone) == 2
    assert table.reads[-1] == {"03000000"}


async def test_nothing_watched_reads_nothing() -> None:
    table = Table()
    watch = DriverWatch(lambda job, driver: None, check_every_s=1, read_dead=table)
    watch.watch("02000000", "eval-a")
    watch.unwatch("02000000", "eval-a")
    await watch.check()
    assert table.reads == []
