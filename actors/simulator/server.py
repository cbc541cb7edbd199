"""The simulator's HTTP/websocket server: authentication, routes, and connection bookkeeping.

A scenario hands its brain script to the simulator with :meth:`Simulator.register`, which
returns a fresh bearer token bound to that script: the session then connects exactly as it
would to xAI, with the token as its API key, and gets the scripted behaviour.

Routes:
    ``GET /v1/realtime``: websocket upgrade. Credentials: ``Authorization: Bearer <token>`` or
    the browser subprotocol ``xai-client-secret.<token>`` (echoed on accept). Anything else
    is refused with HTTP 401 and a JSON error body before upgrading.
    ``POST /v1/realtime/client_secrets``: mint an ephemeral token bound to the caller's script;
    body ``{"expires_after": {"seconds": N}}`` (default 600, max 3600); answers
    ``{"value": ..., "expires_at": <unix s>}``.

Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import time
from dataclasses import dataclass
from enum import Enum
from typing import Final

from aiohttp import web

from actors.simulator.brain import Brain
from actors.simulator.config import SimulatorConfig
from actors.simulator.connection import SimConnection
from actors.simulator.rules import BrainScript
from actors.simulator.voice import VoiceBank

__all__ = ["REALTIME_PATH", "Simulator", "SimulatorState"]

logger = logging.getLogger("voxray.simulator")

REALTIME_PATH: Final = "/v1/realtime"
_SECRETS_PATH: Final = "/v1/realtime/client_secrets"
_SUBPROTOCOL_PREFIX: Final = "xai-client-secret."
_DEFAULT_SECRET_S: Final = 600
_MAX_SECRET_S: Final = 3600
_MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024


class SimulatorState(Enum):
    """Where a :class:`Simulator` is in its life."""

    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


@dataclass(frozen=True)
class _Grant:
    brain: Brain
    expires_at: float | None = None  # unix seconds; None: until unregistered


class Simulator:
    """An xAI-compatible realtime server on loopback. ``start()`` listens; ``aclose()`` stops."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.state = SimulatorState.NEW
        self._default_brain = Brain(BrainScript())
        self._grants: dict[str, _Grant] = {}
        self._connections: set[SimConnection] = set()
        self._voices = VoiceBank(self.config.output_chunk_ms)
        self._rng = random.Random(self.config.seed)
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._accepted = 0

    @property
    def url(self) -> str:
        """The websocket URL, e.g. ``ws://127.0.0.1:40123/v1/realtime``."""
        if self._url is None:
            raise RuntimeError("the simulator is not started")
        return self._url

    async def start(self) -> str:
        """Listen on ``config.host:config.port``; returns the websocket URL."""
        if self.state is not SimulatorState.NEW:
            raise RuntimeError(f"cannot start a simulator that is {self.state.value}")
        app = web.Application()
        app.router.add_get(REALTIME_PATH, self._realtime)
        app.router.add_post(_SECRETS_PATH, self._client_secrets)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        await site.start()
        self._runner = runner
        port = _bound_port(runner)
        self._url = f"ws://{self.config.host}:{port}{REALTIME_PATH}"
        self.state = SimulatorState.RUNNING
        logger.info("simulator listening on %s", self._url)
        return self._url

    def register(self, script: BrainScript) -> str:
        """A fresh random bearer token whose sessions follow ``script``."""
        token = f"sim-{secrets.token_urlsafe(24)}"
        self._grants[token] = _Grant(Brain(script))
        return token

    def unregister(self, token: str) -> None:
        """Forget ``token``; sessions already open keep running."""
        self._grants.pop(token, None)

    def statistics(self) -> dict[str, int]:
        """Connections open now and accepted so far, tokens registered."""
        return {
            "connections": len(self._connections),
            "accepted": self._accepted,
            "tokens": len(self._grants),
        }

    async def aclose(self) -> None:
        """Close every session and stop listening. Idempotent."""
        if self.state is SimulatorState.CLOSED:
            return
        self.state = SimulatorState.CLOSED
        await asyncio.gather(*(conn.aclose() for conn in list(self._connections)))
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ auth

    def _brain_for(self, token: str | None) -> Brain | None:
        if not token:
            return None
        grant = self._grants.get(token)
        if grant is not None:
            if grant.expires_at is not None and grant.expires_at < time.time():
                self._grants.pop(token, None)
                return None
            return grant.brain
        if token in self.config.api_keys:
            return self._default_brain
        return None

    @staticmethod
    def _bearer(request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    @staticmethod
    def _unauthorized(message: str) -> web.Response:
        body = {
            "error": {
                "type": "invalid_request_error",
                "code": "invalid_api_key",
                "message": message,
                "param": None,
            }
        }
        return web.json_response(body, status=401)

    # ------------------------------------------------------------------ routes

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        subprotocol: str | None = None
        token = self._bearer(request)
        if token is None:
            offered = request.headers.get("Sec-WebSocket-Protocol", "")
            for candidate in (item.strip() for item in offered.split(",")):
                if candidate.startswith(_SUBPROTOCOL_PREFIX):
                    subprotocol = candidate
                    token = candidate.removeprefix(_SUBPROTOCOL_PREFIX)
                    break
        brain = self._brain_for(token)
        if brain is None:
            logger.info("refused a realtime connection: missing or unknown credentials")
            return self._unauthorized("Incorrect API key provided.")
        ws = web.WebSocketResponse(
            heartbeat=self.config.heartbeat_s,
            protocols=(subprotocol,) if subprotocol else (),
            max_msg_size=_MAX_MESSAGE_BYTES,
        )
        await ws.prepare(request)
        model = request.query.get("model") or self.config.default_model
        connection = SimConnection(
            ws,
            config=self.config,
            brain=brain,
            model=model,
            voices=self._voices,
            rng=random.Random(self._rng.getrandbits(64)),
        )
        self._connections.add(connection)
        self._accepted += 1
        logger.debug("%s: accepted (model %s)", connection.name, model)
        try:
            await connection.serve()
        finally:
            self._connections.discard(connection)
            with contextlib.suppress(Exception):
                await ws.close()
        return ws

    async def _client_secrets(self, request: web.Request) -> web.Response:
        token = self._bearer(request)
        brain = self._brain_for(token)
        if brain is None:
            return self._unauthorized("Incorrect API key provided.")
        seconds = _DEFAULT_SECRET_S
        if request.can_read_body:
            try:
                body = await request.json()
                asked = body.get("expires_after", {}).get("seconds", _DEFAULT_SECRET_S)
                seconds = int(asked)
            except (ValueError, TypeError, AttributeError, json.JSONDecodeError):
                return web.json_response(
                    {"error": {"type": "invalid_request_error", "message": "invalid body"}},
                    status=400,
                )
        if not 1 <= seconds <= _MAX_SECRET_S:
            return web.json_response(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": f"expires_after.seconds must be 1..{_MAX_SECRET_S}",
                    }
                },
                status=400,
            )
        now = time.time()
        # Minted secrets expire unused; forget the stale ones so the table stays small.
        for stale in [k for k, g in self._grants.items() if g.expires_at and g.expires_at < now]:
            del self._grants[stale]
        expires_at = int(now) + seconds
        secret = f"sim-eph-{secrets.token_urlsafe(24)}"
        self._grants[secret] = _Grant(brain, expires_at=float(expires_at))
        return web.json_response({"value": secret, "expires_at": expires_at})


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        # (host, port) for IPv4, (host, port, flow, scope) for IPv6.
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the simulator's site has no listening socket")
