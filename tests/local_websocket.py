"""Endpoints on 127.0.0.1 for tests that need a peer other than the simulator."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def serve_local(method: str, path: str, handle: Handler) -> AsyncIterator[str]:
    """Serve ``handle`` for ``method path`` on a free local port; yields ``127.0.0.1:<port>``."""
    app = web.Application()
    app.router.add_route(method, path, handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def serve_websocket(handle: Handler) -> AsyncIterator[str]:
    """Serve ``handle`` at ``/v1/realtime`` on a free local port; yields its ``ws://`` URL."""
    async with serve_local("GET", "/v1/realtime", handle) as host:
        yield f"ws://{host}/v1/realtime"
