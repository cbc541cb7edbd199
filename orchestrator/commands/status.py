"""``voxray status``: the supervisor's view of the cluster and the running gateways, as tables.

Each gateway (calls now, total, refused), then nodes (live sessions, warm pool, free memory),
caps, sessions per API key (by fingerprint only), the queue per job, and recent failures.
Joins ``--address`` (default ``auto``: the ``ray start`` cluster of this machine, or
``RAY_ADDRESS``); never starts Ray or a supervisor.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from voxray.commands import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from voxray.actors.supervision.models import SupervisorStatus

__all__ = ["add_parser", "render_status", "run"]


def add_parser(commands: Any) -> None:
    """Register ``voxray status``."""
    status = commands.add_parser("status", help="show nodes, sessions, warm pool, caps, queue")
    status.add_argument("--address", default="auto", help="Ray cluster to join (default: auto)")
    status.add_argument("--json", action="store_true", help="print the status as JSON")


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the status (the supervisor's and every gateway's); exit 1 when neither runs.

    ``--json`` prints one document, ``{"supervisor": {...} | null, "gateways": [...]}``.
    """
    from voxray.client import Fleet
    from voxray.cluster import describe_address
    from voxray.settings import VoxraySettings

    settings = VoxraySettings()
    with Fleet.connect(args.address, settings=settings) as fleet:
        if not args.json:  # JSON stays one parsable document
            console.print(f"status of {describe_address()}", highlight=False, soft_wrap=True)
        status = fleet.status()
        gateways = fleet.gateways()
    found = EXIT_OK if status is not None or gateways else EXIT_FAILED
    if args.json:
        document = {
            "supervisor": None if status is None else status.model_dump(mode="json"),
            "gateways": [gateway.model_dump(mode="json") for gateway in gateways],
        }
        console.print_json(json.dumps(document))
        return found
    for gateway in gateways:
        console.print(
            f"gateway [bold]{gateway.state}[/bold] at {gateway.url} (node "
            f"{gateway.node_id[:12]}): {gateway.calls_live} calls now, {gateway.calls_total} "
            f"total, {gateway.refused} refused; agents {', '.join(gateway.agents)}",
            highlight=False,
            soft_wrap=True,
        )
    if status is not None:
        render_status(console, status)
    elif not gateways:
        console.print(
            f"no voxray supervisor in namespace {settings.namespace!r} on this cluster "
            "(it starts with the first `voxray eval`, Fleet job or `voxray serve`)",
            highlight=False,
        )
    return found


def render_status(console: Console, status: SupervisorStatus) -> None:
    """The status as rich tables."""
    console.print(
        f"supervisor [bold]{status.state}[/bold]: {status.live_sessions} live, "
        f"{status.waiting} queued; done {status.completed} completed, {status.failed} failed, "
        f"{status.lost} lost ({status.retried} retried, {status.rate_limited} 429 backoffs); "
        f"{status.warm_starts} warm / {status.cold_starts} cold starts, "
        f"{status.recycled} actors recycled",
        highlight=False,
    )
    caps = Table(title="caps", title_justify="left")
    for column in ("per API key", "per node", "queue", "warm per node"):
        caps.add_column(column, justify="right")
    caps.add_row(
        str(status.max_sessions),
        str(status.max_sessions_per_node),
        str(status.max_queued),
        str(status.warm_per_node),
    )
    console.print(caps)

    nodes = Table(title="nodes", title_justify="left")
    for column in ("node", "address", "state", "live", "max", "warm", "starting", "free MB"):
        nodes.add_column(
            column, justify="left" if column in ("node", "address") else "right", no_wrap=True
        )
    for node in status.nodes:
        state = ("head " if node.is_head else "") + (
            "[green]alive[/green]" if node.alive else "[red]dead[/red]"
        )
        nodes.add_row(
            node.node_id[:12],
            node.address,
            state,
            str(node.live_sessions),
            str(node.max_sessions),
            str(node.warm_idle),
            str(node.warm_starting),
            "?" if node.available_mb is None else f"{node.available_mb:,.0f}",
        )
    console.print(nodes)

    if status.quotas:
        quotas = Table(title="sessions per API key (fingerprint)", title_justify="left")
        for column in ("key", "live", "limit"):
            quotas.add_column(column, justify="left" if column == "key" else "right")
        for quota in status.quotas:
            quotas.add_row(quota.fingerprint, str(quota.live_sessions), str(quota.limit))
        console.print(quotas)

    if status.jobs:
        jobs = Table(title="jobs", title_justify="left")
        for column in ("job", "live", "queued"):
            jobs.add_column(column, justify="left" if column == "job" else "right")
        for job in status.jobs:
            jobs.add_row(job.job_id, str(job.live_sessions), str(job.queued))
        console.print(jobs)

    if status.recent_failures:
        failures = Table(title="recent failures", title_justify="left")
        failures.add_column("failure", overflow="fold")
        for line in status.recent_failures[-10:]:
            failures.add_row(line)
        console.print(failures)
