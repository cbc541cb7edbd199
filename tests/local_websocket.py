"""A websocket endpoint on 127.0.0.1 for tests that need a peer other than the simulator."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def serve_websocket(handle: Handler) -> AsyncIterator[str]:
    """Serve ``handle`` at ``/v1/realtime`` on a free local port; yields its ``ws://`` URL."""
    app = web.Application()
    app.router.add_get("/v1/realtime", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"ws://127.0.0.1:{port}/v1/realtime"
    finally:
        await runner.cleanup()
