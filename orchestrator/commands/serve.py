"""``voxray serve AGENTS.yaml``: host live agents for callers (Twilio, browser) on Ray.

Deploys one gateway actor per node (detached), prints where each ingress listens and a browser
URL with a short-lived token, then a live line (calls now, total, refused). Ctrl-C drains (no new
calls, live ones get ``--drain-deadline`` seconds; a second Ctrl-C ends them at once) and
stops. ``--detach`` leaves the gateways
running in the cluster until ``voxray drain``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from voxray.commands import EXIT_OK

if TYPE_CHECKING:
    from voxray.client import Fleet

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register ``voxray serve``."""
    serve = commands.add_parser("serve", help="host live agents for phone and browser callers")
    serve.add_argument("agents", type=Path, help="the agent file (YAML)")
    serve.add_argument(
        "--address", default=None, help="Ray cluster to join (auto, host:port); default embedded"
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument(
        "--public-url",
        default=None,
        help="the https URL Twilio reaches this gateway at (stream URLs, signature checks)",
    )
    serve.add_argument(
        "--records",
        type=Path,
        default=Path("calls/calls.jsonl"),
        help="JSONL file of call records (default calls/calls.jsonl)",
    )
    serve.add_argument(
        "--recordings",
        type=Path,
        default=None,
        help="keep each call's stereo recording as <call_id>.wav in this folder (SIP calls "
        "have none: their audio never passes through voxray)",
    )
    serve.add_argument("--max-calls", type=int, default=None, help="calls one gateway takes")
    serve.add_argument(
        "--drain-deadline",
        type=float,
        default=3600.0,
        help="on Ctrl-C or drain: seconds live calls get to finish (default 3600)",
    )
    serve.add_argument(
        "--detach", action="store_true", help="leave the gateway running; stop with voxray drain"
    )


def run(args: argparse.Namespace, console: Console) -> int:
    """Serve until Ctrl-C (drained), or deploy and return with ``--detach``."""
    from pydantic import SecretStr, ValidationError
    from voxray.actors.errors import ConfigError
    from voxray.actors.gateway.settings import GatewaySettings
    from voxray.actors.gateway.tokens import mint_token
    from voxray.client import Fleet
    from voxray.serve.agents import load_agent_file
    from voxray.settings import VoxraySettings

    agent_file = load_agent_file(args.agents)
    settings = VoxraySettings()
    address = args.address or settings.ray_address
    if args.detach and address is None:
        raise ConfigError(
            "--detach needs a cluster that outlives this command: `ray start --head`, "
            "then `voxray serve --address auto --detach ...`"
        )
    twilio_token = os.environ.get("VOXRAY_TWILIO_AUTH_TOKEN") or os.environ.get("TWILIO_AUTH_TOKEN")
    browser_secret = os.environ.get("VOXRAY_GATEWAY_BROWSER_SECRET") or secrets.token_urlsafe(32)
    try:
        gateway = GatewaySettings(
            host=args.host,
            port=args.port,
            public_url=args.public_url,
            twilio_auth_token=SecretStr(twilio_token) if twilio_token else None,
            xai_webhook_secret=settings.xai_webhook_secret,
            browser_secret=SecretStr(browser_secret),
            max_calls=args.max_calls or settings.supervisor.max_sessions,
            drain_deadline_s=args.drain_deadline,
            records_path=str(args.records.resolve()),
            recordings_dir=str(args.recordings.resolve()) if args.recordings else None,
        )
    except ValidationError as error:
        first = error.errors()[0]
        raise ConfigError(f"--{first['loc'][0]}: {first['msg']}".replace("_", "-")) from error
    with Fleet.connect(address, settings=settings) as fleet:
        deployment = fleet.serve(agent_file, gateway)
        for line in deployment.lines:
            console.print(line, highlight=False, soft_wrap=True)
        token = mint_token(browser_secret, gateway.browser_token_ttl_s)
        for line in deployment.lines:
            if line.startswith("gateway"):
                url = line.split()[-1]
                console.print(f"browser  {url}/?token={token}", highlight=False, soft_wrap=True)
        console.print(f"agents   {', '.join(entry.name for entry in agent_file.agents)}")
        console.print(f"records  {gateway.records_path}", highlight=False, soft_wrap=True)
        if args.detach:
            console.print("detached: the gateway keeps serving; `voxray drain` stops it")
            return EXIT_OK
        console.print("Ctrl-C drains and stops", style="dim")
        try:
            _live_line(console, fleet)
        except KeyboardInterrupt:
            console.print(
                f"\ndraining: new calls refused; live calls get {args.drain_deadline:g} s "
                "(Ctrl-C again ends them now)",
                highlight=False,
            )
            try:
                drains = fleet.drain_gateways(args.drain_deadline, end_now=_second_ctrl_c(console))
            finally:
                signal.signal(signal.SIGINT, signal.default_int_handler)
            finished = sum(drain.finished for drain in drains)
            stopped = sum(drain.stopped for drain in drains)
            console.print(
                f"stopped: {finished} call(s) finished, {stopped} ended at the deadline",
                highlight=False,
            )
    return EXIT_OK


def _second_ctrl_c(console: Console) -> Callable[[], bool]:
    """From now on Ctrl-C (SIGINT) does not raise: a second one, a moment after the first,
    asks for live calls to end now. Returns the question the drain polls."""
    first = time.monotonic()
    pressed = threading.Event()

    def on_sigint(signum: int, frame: object) -> None:
        # A terminal's one Ctrl-C can arrive twice (a wrapper forwarding it to its group).
        if time.monotonic() - first > 1.0 and not pressed.is_set():
            pressed.set()
            console.print("ending live calls now", highlight=False)

    signal.signal(signal.SIGINT, on_sigint)
    return pressed.is_set


def _live_line(console: Console, fleet: Fleet) -> None:
    from rich.live import Live

    with Live(console=console, auto_refresh=False, transient=False) as live:
        while True:
            statuses = fleet.gateways()
            live.update(
                f"calls now {sum(s.calls_live for s in statuses)}  "
                f"total {sum(s.calls_total for s in statuses)}  "
                f"refused {sum(s.refused for s in statuses)}  "
                f"gateways {len(statuses)}",
                refresh=True,
            )
            time.sleep(1.0)
