"""Endpoints on 127.0.0.1 for tests that need a peer other than the simulator."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

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


@contextlib.contextmanager
def websocket_in_thread(handle: Handler) -> Iterator[str]:
    """:func:`serve_websocket` on its own thread and event loop, for a test that blocks its
    thread (``main(["eval", ...])``); yields the ``ws://`` URL, stops on exit."""
    served: concurrent.futures.Future[str] = concurrent.futures.Future()
    loop = asyncio.new_event_loop()
    stop = loop.create_future()

    async def serve() -> None:
        async with serve_websocket(handle) as url:
            served.set_result(url)
            await stop

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        yield served.result(timeout=10)
    finally:
        loop.call_soon_threadsafe(stop.set_result, None)
        thread.join(10)
        loop.close()
