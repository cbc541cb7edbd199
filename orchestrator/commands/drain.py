"""``voxray drain``: stop the cluster's supervisor gracefully.

Admission stops at once (waiting requests are refused with ``CapacityError``), live sessions
get ``--deadline`` seconds to finish, then they are stopped cleanly (their websockets closed);
the warm pool and the tool pool are shut down and the supervisor removed. The next run starts a
fresh one. A driver's own SIGTERM drains only its job.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from voxray.commands import EXIT_FAILED, EXIT_OK

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register ``voxray drain``."""
    drain = commands.add_parser("drain", help="stop admission, finish live sessions, stop")
    drain.add_argument("--address", default="auto", help="Ray cluster to join (default: auto)")
    drain.add_argument(
        "--deadline",
        type=float,
        dest="deadline_s",
        help="seconds live sessions get to finish (default: VOXRAY_DRAIN_DEADLINE_S or 30)",
    )


def run(args: argparse.Namespace, console: Console) -> int:
    """Drain; exit 1 when no supervisor runs on the cluster."""
    from voxray.actors.errors import ConfigError
    from voxray.client import Fleet
    from voxray.cluster import describe_address
    from voxray.settings import VoxraySettings

    settings = VoxraySettings()
    deadline_s = settings.drain_deadline_s if args.deadline_s is None else args.deadline_s
    if deadline_s < 0:
        raise ConfigError("--deadline must be >= 0")
    with Fleet.connect(args.address, settings=settings) as fleet:
        console.print(f"draining on {describe_address()}", highlight=False, soft_wrap=True)
        gateways = fleet.gateways()
        if gateways:
            # Gateways first: callers are refused (503) from now on, live calls get the
            # deadline (default: the one `voxray serve --drain-deadline` set, one hour).
            console.print(
                f"draining {len(gateways)} gateway(s): new calls refused; live calls get "
                + (f"{args.deadline_s:g} s" if args.deadline_s is not None else "their deadline"),
                highlight=False,
            )
            drains = fleet.drain_gateways(args.deadline_s)
            console.print(
                f"gateways drained: {sum(d.finished for d in drains)} call(s) finished, "
                f"{sum(d.stopped for d in drains)} ended at the deadline; the gateways are gone",
                highlight=False,
            )
        if fleet.status() is None:
            if gateways:
                return EXIT_OK
            console.print("no voxray supervisor is running: nothing to drain", highlight=False)
            return EXIT_FAILED
        console.print(
            f"draining: admission stopped; live sessions get {deadline_s:g} s", highlight=False
        )
        report = fleet.drain(deadline_s)
    if report is None:  # it went away between the two calls: nothing left to drain
        console.print("no voxray supervisor is running: nothing to drain", highlight=False)
        return EXIT_FAILED
    console.print(
        f"drained in {report.elapsed_s:.1f} s: {report.finished} finished, "
        f"{report.stopped} stopped at the deadline, {report.killed} killed, "
        f"{report.refused} waiting request(s) refused; the supervisor is gone",
        highlight=False,
    )
    return EXIT_OK
