"""The browser ingress: voxray's own page, a microphone in the browser, an agent on the other end.

``GET /`` serves one small page (no build step, no CDN: it works offline) that captures the
microphone through an AudioWorklet as PCM16, streams it over ``GET /browser/ws``, plays the agent,
shows live transcripts, and stops playback when the caller barges in.

The websocket needs a token (``?token=`` or ``Authorization: Bearer``) minted with the gateway's
``browser_secret`` (``voxray serve`` prints a page URL carrying one); without a valid one the
upgrade is refused with 401. Messages:

- browser to gateway: binary PCM16 mono little-endian at ``?rate=`` Hz (8000-48000); text
  ``{"type": "text", "text": ...}`` for a typed turn;
- gateway to browser: binary PCM16 mono at 24 kHz (agent audio); text JSON ``ready``,
  ``transcript`` (``role`` agent|caller, ``text``, ``final``), ``clear`` (barge-in: stop
  playback now), ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from importlib import resources

import numpy as np
from aiohttp import WSCloseCode, WSMsgType, web
from voxray.actors.conversation.events import (
    AgentAudio,
    AgentTranscript,
    ConversationEvent,
    Interrupted,
    UserTranscript,
)
from voxray.actors.errors import VoxrayError
from voxray.actors.gateway.admission import CallRefused
from voxray.actors.gateway.calls import Call
from voxray.actors.gateway.context import GatewayContext
from voxray.actors.gateway.limits import MessageRate
from voxray.actors.gateway.tokens import token_valid

__all__ = ["BrowserIngress"]

logger = logging.getLogger("voxray.gateway.browser")

_RATES = range(8000, 48001)
_OUTBOUND_QUEUE = 2_000
_MAX_TEXT_CHARS = 2_000


def _static(name: str) -> str:
    return resources.files("voxray.actors.gateway").joinpath("static", name).read_text("utf-8")


class BrowserIngress:
    """``/`` (the page), ``/browser/worklet.js``, ``/browser/agents`` and ``/browser/ws``."""

    name = "browser"

    def __init__(self, context: GatewayContext) -> None:
        self._context = context
        self._page = _static("index.html")
        self._worklet = _static("worklet.js")

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self._index),
            web.get("/browser/worklet.js", self._worklet_js),
            web.get("/browser/agents", self._agents),
            web.get("/browser/ws", self._socket),
        ]

    def describe(self, base_url: str) -> list[str]:
        return [f"browser  page           GET {base_url}/ (needs ?token=, printed below)"]

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(
            text=self._page,
            content_type="text/html",
            headers={"Cache-Control": "no-store", "Content-Security-Policy": _CSP},
        )

    async def _worklet_js(self, request: web.Request) -> web.Response:
        return web.Response(text=self._worklet, content_type="application/javascript")

    async def _agents(self, request: web.Request) -> web.Response:
        self._authorize(request)
        agents = [agent for agent in self._context.agents.agents() if agent.takes(self.name)]
        # Each agent's input rate: the page captures the microphone at it, so the browser's own
        # audio engine resamples and this gateway passes the frames through (no per-frame soxr).
        rates = {agent.name: agent.agent.input_audio.rate for agent in agents}
        return web.json_response({"agents": [agent.name for agent in agents], "rates": rates})

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        self._authorize(request)
        calls = self._context.calls
        if not self._context.accepting:
            calls.refuse(self.name, "draining", "browser call while draining")
            raise web.HTTPServiceUnavailable(text="draining: call back later")
        try:
            rate = int(request.query.get("rate", "48000"))
        except ValueError:
            rate = 0
        if rate not in _RATES:
            calls.refuse(self.name, "bad_request", f"rate {request.query.get('rate')!r}")
            raise web.HTTPBadRequest(text="rate must be 8000..48000")
        wanted = request.query.get("agent") or None
        agent = self._context.agents.route(self.name, name=wanted)
        if agent is None:
            calls.refuse(self.name, "unknown_agent", f"no agent {wanted!r} for the browser")
            raise web.HTTPNotFound(text=f"no agent {wanted!r} takes browser calls")
        arrived = time.monotonic()
        try:
            call = await calls.open(
                ingress=self.name,
                agent=agent,
                caller=f"browser {request.remote or ''}".strip(),
                arrived=arrived,
                greet=False,
            )
        except CallRefused as refused:
            raise web.HTTPServiceUnavailable(text=refused.message) from None
        settings = self._context.settings
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=settings.max_message_bytes)
        try:
            await ws.prepare(request)
        except BaseException:
            await call.end("socket failed")
            raise
        session = _BrowserCall(self._context, call, ws, rate)
        try:
            await session.run()
        finally:
            await session.finish()
        return ws

    def _authorize(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None
        token = token or request.query.get("token")
        secret = self._context.settings.browser_secret.get_secret_value()
        if not token_valid(secret, token):
            self._context.calls.refuse(self.name, "unauthorized", "missing or expired token")
            raise web.HTTPUnauthorized(text="a valid token is required (voxray serve prints one)")


# The page loads nothing from elsewhere; its own script and worklet only.
_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self' ws: wss:; media-src 'self' blob:"
)


class _BrowserCall:
    """One browser caller's socket and call."""

    def __init__(
        self, context: GatewayContext, call: Call, ws: web.WebSocketResponse, rate: int
    ) -> None:
        self._context = context
        self._call = call
        self._ws = ws
        self._rate = rate
        self._limit = MessageRate(context.settings.max_messages_per_s)
        self._outbound: asyncio.Queue[str | bytes] = asyncio.Queue(maxsize=_OUTBOUND_QUEUE)
        self._reason = "hangup"
        self._close: tuple[int, str] = (WSCloseCode.OK, "call ended")
        self._tasks: list[asyncio.Task[None]] = []

    async def run(self) -> None:
        call = self._call
        call.conversation.add_listener(self._on_event)
        self._send(json.dumps({"type": "ready", "agent": call.agent.name, "rate": 24000}))
        if call.agent.greeting:
            call.live.say(call.agent.greeting)
        self._tasks = [
            asyncio.create_task(self._write(), name=f"browser-{call.call_id}-writer"),
            asyncio.create_task(self._watch(), name=f"browser-{call.call_id}-watch"),
        ]
        async for msg in self._ws:
            if not self._limit.allow():
                self._refuse("over the message rate")
                return
            if msg.type is WSMsgType.BINARY:
                data: bytes = msg.data
                if len(data) % 2:
                    self._refuse("odd-length PCM16 frame")
                    return
                try:
                    call.live.send_audio(data, rate=self._rate, channels=1)
                except VoxrayError as error:  # the session ended under the caller
                    self._reason = f"session ended: {error.message}"
                    return
            elif msg.type is WSMsgType.TEXT:
                if not self._on_text(msg.data):
                    return
            elif msg.type is WSMsgType.ERROR:  # e.g. a frame over max_message_bytes (1009)
                self._refuse(f"socket error: {self._ws.exception()}")
                return
            else:
                break

    async def finish(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        await self._call.end(self._reason)
        if not self._ws.closed:
            code, message = self._close
            await self._ws.close(code=code, message=message.encode()[:120])

    def _on_text(self, text: str) -> bool:
        try:
            message = json.loads(text)
        except ValueError:
            self._refuse("a text message that is not JSON")
            return False
        if not isinstance(message, dict) or message.get("type") not in ("text", "hangup"):
            self._refuse("unknown message type")
            return False
        if message["type"] == "hangup":
            return False
        typed = message.get("text")
        if not isinstance(typed, str) or not typed.strip() or len(typed) > _MAX_TEXT_CHARS:
            self._refuse("text must be 1..2000 characters")
            return False
        self._call.live.send_text(typed)
        return True

    async def _watch(self) -> None:
        call = self._call
        asked = await call.wait_until_over()
        self._reason = call.stop_reason if asked else "session ended"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._outbound.join(), timeout=2.0)
        self._close = (WSCloseCode.OK, self._reason)
        await self._ws.close(code=WSCloseCode.OK, message=self._reason.encode()[:120])

    async def _write(self) -> None:
        while True:
            item = await self._outbound.get()
            try:
                if isinstance(item, bytes):
                    await self._ws.send_bytes(item)
                else:
                    await self._ws.send_str(item)
            except (ConnectionError, RuntimeError):
                return
            finally:
                self._outbound.task_done()

    def _send(self, item: str | bytes) -> None:
        if self._outbound.full():
            self._outbound.get_nowait()
            self._outbound.task_done()
        self._outbound.put_nowait(item)

    def _on_event(self, event: ConversationEvent) -> None:
        match event:
            case AgentAudio(samples=samples):
                self._send(np.ascontiguousarray(samples, dtype="<i2").tobytes())
                self._call.first_audio_sent()
            case AgentTranscript(text=text, final=final):
                self._send(
                    json.dumps(
                        {"type": "transcript", "role": "agent", "text": text, "final": final}
                    )
                )
            case UserTranscript(text=text, final=final):
                self._send(
                    json.dumps(
                        {"type": "transcript", "role": "caller", "text": text, "final": final}
                    )
                )
            case Interrupted():
                while not self._outbound.empty():  # unsent agent audio must not play either
                    self._outbound.get_nowait()
                    self._outbound.task_done()
                self._send(json.dumps({"type": "clear"}))
            case _:
                pass

    def _refuse(self, message: str) -> None:
        self._context.calls.refuse("browser", "bad_request", message)
        self._reason = f"refused: {message}"
        self._close = (WSCloseCode.POLICY_VIOLATION, message)
