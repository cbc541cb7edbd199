"""``voxray sim``: serve the xAI-compatible simulator on its own (loopback by default).

``--rules FILE`` scripts its brain without an eval suite (the schema of a scenario's ``sim:``
block, see :mod:`voxray.actors.simulator.script_file`): the printed token follows the file's
top-level rules, and each entry of its ``scripts:`` is served to ``?script=<name>`` and to a
token of its own, printed too. A bad file is one line naming the field, and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import secrets
import signal
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from rich.console import Console
from voxray.actors import event_loop
from voxray.actors.errors import ConfigError, VoxrayError
from voxray.actors.heap import freeze_startup_heap
from voxray.commands import EXIT_INVALID, EXIT_OK

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register ``voxray sim``."""
    sim = commands.add_parser("sim", help="serve the xAI-compatible simulator")
    sim.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    sim.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    sim.add_argument("--token", help="bearer token to accept (default: a random one, printed)")
    sim.add_argument("--speed", type=float, default=1.0, help="audio pacing factor")
    sim.add_argument(
        "--transcribe",
        action="store_true",
        help="transcribe user audio with pocketsphinx (pip install 'voxray[transcribe]')",
    )
    sim.add_argument(
        "--ping-interval",
        type=float,
        default=15.0,
        metavar="S",
        help="seconds between `ping` events (0: none; default 15)",
    )
    sim.add_argument(
        "--latency-ms",
        type=float,
        default=300.0,
        metavar="MS",
        help="mean delay before a response's first output (default 300)",
    )
    sim.add_argument(
        "--latency-spread-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="uniform spread around --latency-ms, e.g. 100 for 300 ± 100 ms",
    )
    sim.add_argument(
        "--max-duration",
        type=float,
        default=7200.0,
        metavar="S",
        help="end sessions after S seconds with error{max_duration} (0: never; default 7200)",
    )
    sim.add_argument(
        "--faults",
        type=Path,
        metavar="YAML",
        help="a fault plan applied to every session (see the README's fault schema)",
    )
    sim.add_argument(
        "--rules",
        type=Path,
        metavar="YAML",
        help="scripted replies and tool calls: `rules:` in a scenario's sim: schema "
        "(faults: allowed beside them; scripts: for named behaviours, ?script=<name>)",
    )
    sim.add_argument(
        "--record-frames",
        action="store_true",
        help="keep what each client sent; GET /v1/sim/connections (with the token) returns it",
    )


def run(args: argparse.Namespace, console: Console) -> int:
    """Serve until interrupted; returns the exit code."""
    from voxray.actors.simulator.config import SimulatorConfig
    from voxray.actors.simulator.faults import FaultPlan
    from voxray.actors.simulator.latency import ResponseLatency
    from voxray.actors.simulator.rules import BrainScript
    from voxray.actors.simulator.script_file import describe_validation_error, load_rules_file
    from voxray.actors.simulator.server import Simulator

    token = args.token or secrets.token_urlsafe(24)
    if not math.isfinite(args.speed) or args.speed <= 0:
        raise ConfigError(f"--speed must be a finite number > 0, got {args.speed!r}")
    for option, value in (
        ("--ping-interval", args.ping_interval),
        ("--latency-ms", args.latency_ms),
        ("--latency-spread-ms", args.latency_spread_ms),
        ("--max-duration", args.max_duration),
    ):
        if not value >= 0:  # also refuses nan
            raise ConfigError(f"{option} must be >= 0, got {value!r}")
    faults: FaultPlan | None = None
    if args.faults is not None:
        try:
            faults = FaultPlan.model_validate(yaml.safe_load(args.faults.read_text("utf-8")))
        except ValidationError as error:
            where, message = describe_validation_error(error)
            raise ConfigError(f"{args.faults}: {where}: {message}") from None
        except (OSError, yaml.YAMLError) as error:
            reason = " ".join(str(error).split())
            raise ConfigError(f"cannot use the fault plan {args.faults}: {reason}") from None
    script: BrainScript | None = None
    named: dict[str, BrainScript] = {}
    if args.rules is not None:
        rules_file = load_rules_file(args.rules)
        script = rules_file.default_script()
        named = dict(rules_file.scripts)
    config = SimulatorConfig(
        host=args.host,
        port=args.port,
        speed=args.speed,
        api_keys=frozenset({token}),
        transcribe=args.transcribe,
        ping_interval_s=args.ping_interval or None,
        response_latency=ResponseLatency(mean_ms=args.latency_ms, spread_ms=args.latency_spread_ms),
        max_duration_s=args.max_duration or None,
        faults=faults,
        record_frames=args.record_frames,
    )

    async def serve() -> None:
        simulator = Simulator(config, script=script)
        try:
            url = await simulator.start()
        except OSError as error:  # the port is taken, or the address is not this machine's
            reason = error.strerror or str(error)
            raise ConfigError(
                f"cannot listen on {args.host}:{args.port}: {reason} (--port 0 picks a free one)"
            ) from None
        tokens = {name: simulator.register(each, name) for name, each in named.items()}
        freeze_startup_heap()  # a real-time server: keep GC pauses off its event loop
        console.print(f"voxray simulator listening on {url}", highlight=False, soft_wrap=True)
        base_url = url.removesuffix("/realtime").replace("ws://", "http://", 1)
        console.print(f"base URL for SDKs: {base_url}", highlight=False, soft_wrap=True)
        if args.token is None:
            console.print(f"bearer token: {token}", highlight=False, soft_wrap=True)
        if args.rules is not None:
            count = len(script.rules) if script is not None else 0
            console.print(f"rules: {args.rules} ({count} rules)", markup=False, soft_wrap=True)
        for name, named_token in tokens.items():
            console.print(
                f"script {name!r}: add ?script={name} to the URL, or use the token {named_token}",
                highlight=False,
                soft_wrap=True,
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            await simulator.aclose()

    try:
        event_loop.run(serve())
    except VoxrayError as error:
        console.print(f"[red]error:[/red] {error.message}", highlight=False)
        return EXIT_INVALID
    return EXIT_OK
