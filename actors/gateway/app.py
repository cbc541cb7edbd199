"""The gateway's aiohttp application: every ingress's routes, health, readiness and metrics.

``/healthz`` answers 200 while the process serves; ``/readyz`` 200 while it takes calls and 503
once a drain began (a load balancer stops sending callers); ``/metrics`` is Prometheus text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiohttp import web
from voxray.actors.gateway.context import GatewayContext
from voxray.actors.gateway.ingress import Ingress
from voxray.actors.gateway.metrics import CONTENT_TYPE

__all__ = ["CONTEXT_KEY", "build_app"]

logger = logging.getLogger("voxray.gateway")

CONTEXT_KEY = web.AppKey("voxray_gateway_context", GatewayContext)


def build_app(context: GatewayContext, ingresses: Sequence[Ingress]) -> web.Application:
    """The application serving ``ingresses`` with the shared ``context``."""
    app = web.Application(client_max_size=context.settings.max_message_bytes)
    app[CONTEXT_KEY] = context

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "calls": context.calls.live})

    async def readyz(request: web.Request) -> web.Response:
        if context.accepting:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": context.calls.state.value}, status=503)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=context.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.get("/readyz", readyz),
            web.get("/metrics", metrics),
        ]
    )
    for ingress in ingresses:
        app.add_routes(ingress.routes())
    return app
