"""One gateway, plain asyncio: the context, the ingresses, the app, the listening socket.

The Ray actor (:mod:`.actor`) hosts one; tests and benchmarks run one directly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from aiohttp import web
from voxray.actors.conversation.endpoint import EngineTuning
from voxray.actors.gateway.admission import Admitter, LocalAdmitter
from voxray.actors.gateway.agents import AgentBook, HostedAgent
from voxray.actors.gateway.app import build_app
from voxray.actors.gateway.calls import Calls, DrainOutcome, EndpointSource
from voxray.actors.gateway.context import GatewayContext
from voxray.actors.gateway.ingress import Ingress, build_ingresses
from voxray.actors.gateway.metrics import GatewayMetrics
from voxray.actors.gateway.settings import GatewaySettings
from voxray.actors.tools.executor import ToolBackend

__all__ = ["GatewayServer"]


class GatewayServer:
    """Serves every registered ingress on ``settings.host:settings.port``.

    Constructed idle; :meth:`start` listens, :meth:`drain` stops taking calls and lets live
    ones finish, :meth:`aclose` stops at once (ending live calls cleanly).
    """

    def __init__(
        self,
        settings: GatewaySettings,
        agents: Sequence[HostedAgent],
        *,
        endpoints: EndpointSource,
        tools: ToolBackend,
        tuning: EngineTuning | None = None,
        admitter: Admitter | None = None,
        node_id: str = "local",
    ) -> None:
        metrics = GatewayMetrics(node_id)
        calls = Calls(
            settings,
            endpoints=endpoints,
            tools=tools,
            tuning=tuning or EngineTuning(),
            admitter=admitter or LocalAdmitter(),
            metrics=metrics,
        )
        self.context = GatewayContext(
            settings=settings, agents=AgentBook(agents), calls=calls, metrics=metrics
        )
        self.ingresses: list[Ingress] = build_ingresses(self.context)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        """Listen; returns the base URL (``http://host:port``)."""
        if self._runner is not None:
            return self.url
        app = build_app(self.context, self.ingresses)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        settings = self.context.settings
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2] if runner.addresses else (settings.host, settings.port)
        self.url = f"http://{host}:{port}"
        return self.url

    def describe(self) -> list[str]:
        """Where each ingress listens (what ``voxray serve`` prints)."""
        lines: list[str] = []
        for ingress in self.ingresses:
            lines += ingress.describe(self.url)
        return lines

    async def drain(self, deadline_s: float | None = None) -> DrainOutcome:
        """Refuse new calls (503), let live ones finish until the deadline, then end them."""
        return await self.context.calls.drain(deadline_s)

    async def aclose(self) -> None:
        """End live calls now and stop listening. Idempotent."""
        with contextlib.suppress(Exception):
            await self.context.calls.drain(0.0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
