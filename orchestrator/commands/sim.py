"""``voxray sim``: serve the xAI-compatible simulator on its own (loopback by default)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import signal
from typing import Any

from rich.console import Console

from actors.errors import ConfigError, VoxrayError
from orchestrator.commands import EXIT_INVALID, EXIT_OK

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register ``voxray sim``."""
    sim = commands.add_parser("sim", help="serve the xAI-compatible simulator")
    sim.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    sim.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    sim.add_argument("--token", help="bearer token to accept (default: a random one, printed)")
    sim.add_argument("--speed", type=float, default=1.0, help="audio pacing factor")


def run(args: argparse.Namespace, console: Console) -> int:
    """Serve until interrupted; returns the exit code."""
    from actors.simulator.config import SimulatorConfig
    from actors.simulator.server import Simulator

    token = args.token or secrets.token_urlsafe(24)
    if args.speed <= 0:
        raise ConfigError("--speed must be > 0")
    config = SimulatorConfig(
        host=args.host, port=args.port, speed=args.speed, api_keys=frozenset({token})
    )

    async def serve() -> None:
        simulator = Simulator(config)
        url = await simulator.start()
        console.print(f"voxray simulator listening on {url}", highlight=False)
        if args.token is None:
            console.print(f"bearer token: {token}", highlight=False)
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
        asyncio.run(serve())
    except VoxrayError as error:
        console.print(f"[red]error:[/red] {error.message}", highlight=False)
        return EXIT_INVALID
    return EXIT_OK
