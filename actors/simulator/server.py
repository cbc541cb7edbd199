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
    ``POST /v1/sim/scripts``: register a script at run time (what :meth:`Simulator.register`
    does, for clients outside this process). Only the server's own tokens
    (``SimulatorConfig.api_keys``) may call it. Body: a JSON object in the rules-file schema
    of one script (``rules``, ``default_reply``, ``idle_reply``, ``latency``, ``faults``) plus
    an optional ``name``; answers 201 ``{"token": ..., "name": ..., "url": ...}``, or 400 with
    ``error.param`` naming the invalid field.
    ``POST /v1/chat/completions``: the scripted judge (:mod:`.judge`): a chat completion whose
    content is the verdict the token's script's ``judge`` block gives for the rubric and
    transcript of the request (or the fault it scripts). Any valid token; others get 401.
    ``GET /v1/sim/replay``: what the replayed connections of the token's script found
    (``BrainScript.replay``), once none is open (up to 5 s): ``{"replayed": N, "settled":
    bool, "divergences": [message, ...]}``; any valid token, for its own script.
    ``GET /v1/sim/connections``: what each client sent (``SimulatorConfig.record_frames``),
    ``{"connections": [<FrameLog.to_json()>, ...]}``, oldest first; the server's tokens only.

Query parameters: ``model`` (default ``grok-voice-latest``), ``reasoning.effort``
(``high``/``none``, echoed in the session), ``conversation_id`` (resume a conversation whose
session enabled ``resumption``) and ``script`` (follow the script registered under that name
instead of the token's own; any valid token may ask, an unknown name is HTTP 400).
``call_id`` attaches the session to a ringing SIP call (:meth:`Simulator.place_call` rings
one): its input audio then comes from the caller's phone line, its answers are spoken to the
line (the socket gets ``output_audio_buffer.started``/``stopped``, transcripts and DTMF, no
audio), and the caller hanging up closes the socket with 1000. An unknown or ended call is
HTTP 404, one that already has a session 409, and an ephemeral secret 401 (xAI requires the
API key there).

Faults: a script's ``faults`` plan and ``SimulatorConfig.faults`` apply to every session they
cover from its first frame; :meth:`Simulator.inject` arms more on open sessions while running
(and a ``refuse`` in an injected plan refuses the next connects). Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import time
from collections import deque
from enum import Enum
from typing import Final, Literal

import aiohttp
from aiohttp import web
from pydantic import SecretStr, ValidationError
from voxray.actors.simulator.admission import Grant, Refusals, Script, refusal_response
from voxray.actors.simulator.brain import Brain
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.connection import SimConnection
from voxray.actors.simulator.context import ServerContext, SessionSetup
from voxray.actors.simulator.faults import ConnectRefusal, FaultAction, FaultPlan
from voxray.actors.simulator.frame_log import FrameLog
from voxray.actors.simulator.judge import CHAT_COMPLETIONS_PATH
from voxray.actors.simulator.judge import answer as answer_judge
from voxray.actors.simulator.replay import serve_replay
from voxray.actors.simulator.resumption import ConversationStore
from voxray.actors.simulator.rules import BrainScript
from voxray.actors.simulator.script_file import SCRIPT_NAME, describe_validation_error
from voxray.actors.simulator.sip_caller import SipCaller, SipCallReport, SipCallScript
from voxray.actors.simulator.sip_line import LineState, SipLine, SipLines
from voxray.actors.simulator.transcription import Transcriber
from voxray.actors.simulator.voice import VoiceBank

__all__ = [
    "CONNECTIONS_PATH",
    "REALTIME_PATH",
    "REPLAY_PATH",
    "SCRIPTS_PATH",
    "Simulator",
    "SimulatorState",
]

logger = logging.getLogger("voxray.simulator")

REALTIME_PATH: Final = "/v1/realtime"
_SECRETS_PATH: Final = "/v1/realtime/client_secrets"
SCRIPTS_PATH: Final = "/v1/sim/scripts"
CONNECTIONS_PATH: Final = "/v1/sim/connections"
REPLAY_PATH: Final = "/v1/sim/replay"
_REPLAY_SETTLE_S: Final = 5.0
_FRAME_LOGS_KEPT: Final = 1_000
_SUBPROTOCOL_PREFIX: Final = "xai-client-secret."
_DEFAULT_SECRET_S: Final = 600
_MAX_SECRET_S: Final = 3600
_MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024


class SimulatorState(Enum):
    """Where a :class:`Simulator` is in its life."""

    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


class Simulator:
    """An xAI-compatible realtime server on loopback. ``start()`` listens; ``aclose()`` stops.

    ``script`` is what the static tokens (``config.api_keys``) get; the default echoes.
    """

    def __init__(
        self, config: SimulatorConfig | None = None, *, script: BrainScript | None = None
    ) -> None:
        self.config = config or SimulatorConfig()
        self.state = SimulatorState.NEW
        self._default_script = Script(Brain(script or BrainScript()))
        self._grants: dict[str, Grant] = {}
        self._named: dict[str, Script] = {}
        self._frame_logs: deque[FrameLog] = deque(maxlen=_FRAME_LOGS_KEPT)
        self._connections: dict[SimConnection, Script] = {}
        self._global_refusals = Refusals()
        self._context = ServerContext(
            config=self.config,
            voices=VoiceBank(self.config.output_chunk_ms),
            transcriber=Transcriber(self.config.transcribe),
            conversations=ConversationStore(self.config.resumption_ttl_s),
        )
        self._rng = random.Random(self.config.seed)
        self.lines = SipLines()
        """Inbound SIP calls: ringing, or attached to a session by ``?call_id=``."""
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._accepted = 0
        self._closing = asyncio.Event()

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
        app.router.add_post(SCRIPTS_PATH, self._register_script)
        app.router.add_get(CONNECTIONS_PATH, self._connection_logs)
        app.router.add_get(REPLAY_PATH, self._replay_verdict)
        app.router.add_post(CHAT_COMPLETIONS_PATH, self._chat_completions)
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

    def register(self, script: BrainScript, name: str | None = None) -> str:
        """A fresh random bearer token whose sessions follow ``script``.

        With ``name``, connections asking ``?script=<name>`` (with any valid token) follow it
        too; registering a name again replaces its script for new connections.
        """
        if name is not None and not SCRIPT_NAME.fullmatch(name):
            raise ValueError("a script name is 1-64 of A-Z a-z 0-9 _ . -")
        token = f"sim-{secrets.token_urlsafe(24)}"
        registered = Script(Brain(script))
        self._grants[token] = Grant(registered)
        if name is not None:
            self._named[name] = registered
        return token

    @property
    def connections(self) -> list[FrameLog]:
        """What each client sent, one log per connection, oldest first (the last 1,000).

        Empty unless ``config.record_frames`` is on.
        """
        return list(self._frame_logs)

    def unregister(self, token: str) -> None:
        """Forget ``token``; sessions already open keep running."""
        self._grants.pop(token, None)

    async def inject(self, fault: FaultAction | FaultPlan, token: str | None = None) -> int:
        """Arm ``fault`` now on the open sessions of ``token`` (every session when None).

        A plan's actions, quirks and ``max_duration_s`` apply to those sessions; its
        ``refuse`` refuses the next connects of ``token`` (of anyone, when None). Returns how
        many open sessions got the fault.
        """
        script: Script | None = None
        if token is not None:
            script = self._script_for(token)
            if script is None:
                raise KeyError("unknown token")
        if isinstance(fault, FaultPlan) and fault.refuse is not None:
            refusals = script.refusals if script is not None else self._global_refusals
            refusals.injected.append((fault.refuse, refusals.connects))
        targets = [c for c, s in self._connections.items() if script is None or s is script]
        for connection in targets:
            await connection.inject(fault)
        return len(targets)

    def statistics(self) -> dict[str, int]:
        """Connections open now and accepted so far, tokens registered, resumable ones."""
        return {
            "connections": len(self._connections),
            "accepted": self._accepted,
            "tokens": len(self._grants),
            "resumable": len(self._context.conversations),
        }

    def input_audio(self, token: str) -> list[dict[str, int | str]]:
        """Per connection of ``token`` (oldest first, the last 1,000): frames and bytes of
        input audio appended, and a BLAKE2b digest of it in arrival order.

        Raises:
            KeyError: unknown token.
        """
        script = self._script_for(token)
        if script is None:
            raise KeyError("unknown token")
        return [tally.snapshot() for tally in script.inputs]

    async def aclose(self) -> None:
        """Close every session and stop listening. Idempotent."""
        if self.state is SimulatorState.CLOSED:
            return
        self.state = SimulatorState.CLOSED
        self._closing.set()
        self.lines.hang_up_all()
        await asyncio.gather(*(conn.aclose() for conn in list(self._connections)))
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._context.transcriber.close()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ SIP calls

    async def place_call(
        self,
        webhook_url: str,
        secret: str | SecretStr,
        script: SipCallScript | None = None,
        *,
        http: aiohttp.ClientSession | None = None,
    ) -> SipCallReport:
        """Play a phone caller on xAI's direct SIP: ring a call, post the signed
        ``realtime.call.incoming`` webhook to ``webhook_url``, wait for a session to attach
        with ``?call_id=``, then follow ``script`` (speak, press keys) and hang up.

        ``secret`` is the ``whsec_…`` webhook secret the receiver verifies with.
        """
        caller = SipCaller(self.lines, webhook_url, secret, script or SipCallScript())
        caller.speed = self.config.speed
        return await caller.run(http)

    def _is_ephemeral(self, token: str | None) -> bool:
        grant = self._grants.get(token or "")
        return grant is not None and grant.expires_at is not None

    def _call_to_attach(
        self, call_id: str, *, ephemeral: bool
    ) -> tuple[SipLine | None, web.Response | None]:
        """The ringing call ``?call_id=`` names (now attached), or the refusal to answer."""
        if ephemeral:
            refusal = ConnectRefusal(status=401)
            message = "call_id sessions need an API key, not an ephemeral client secret"
            return None, refusal_response(refusal, message)
        line = self.lines.get(call_id)
        if line is None:
            error = {
                "type": "invalid_request_error",
                "code": "call_not_found",
                "message": f"no incoming call {call_id!r} (unknown, or it ended)",
                "param": "call_id",
            }
            return None, web.json_response({"error": error}, status=404)
        if line.state is not LineState.RINGING:
            error = {
                "type": "invalid_request_error",
                "code": "call_already_attached",
                "message": f"call {call_id!r} already has a session",
                "param": "call_id",
            }
            return None, web.json_response({"error": error}, status=409)
        line.attach()
        logger.debug("a session attached to SIP call %s", call_id)
        return line, None

    # ------------------------------------------------------------------ auth

    def _script_for(self, token: str | None) -> Script | None:
        if not token:
            return None
        grant = self._grants.get(token)
        if grant is not None:
            if grant.expires_at is not None and grant.expires_at < time.time():
                self._grants.pop(token, None)
                return None
            return grant.script
        if token in self.config.api_keys:
            return self._default_script
        return None

    @staticmethod
    def _bearer(request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    @staticmethod
    def _unauthorized(message: str) -> web.Response:
        return refusal_response(ConnectRefusal(status=401), message)

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
        script = self._script_for(token)
        if script is None:
            logger.info("refused a realtime connection: missing or unknown credentials")
            return self._unauthorized("Incorrect API key provided.")
        wanted = request.query.get("script")
        if wanted is not None:
            named = self._named.get(wanted)
            if named is None:
                return _bad_request(f"no script is registered as {wanted!r}", param="script")
            script = named
        global_plan = self.config.faults
        global_ordinal, global_refusal = self._global_refusals.next_connect(
            global_plan.refuse if global_plan is not None else None
        )
        script_plan = script.faults
        script_ordinal, script_refusal = script.refusals.next_connect(
            script_plan.refuse if script_plan is not None else None
        )
        refusal = script_refusal or global_refusal
        if refusal is not None:
            logger.info("refused a realtime connection with HTTP %d (fault)", refusal.status)
            return refusal_response(refusal)
        effort = request.query.get("reasoning.effort")
        if effort not in (None, "high", "none"):
            return web.json_response(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "invalid_value",
                        "message": "reasoning.effort must be 'high' or 'none'",
                        "param": "reasoning.effort",
                    }
                },
                status=400,
            )
        plans: list[tuple[FaultPlan, int]] = []
        if script_plan is not None:
            plans.append((script_plan, script_ordinal))
        if global_plan is not None:
            plans.append((global_plan, global_ordinal))
        line: SipLine | None = None
        call_id = request.query.get("call_id")
        if call_id is not None:
            ephemeral = subprotocol is not None or self._is_ephemeral(token)
            line, refused = self._call_to_attach(call_id, ephemeral=ephemeral)
            if refused is not None:
                return refused
        setup = SessionSetup(
            brain=script.brain,
            model=request.query.get("model") or self.config.default_model,
            reasoning_effort=_effort(effort),
            conversation_id=request.query.get("conversation_id") or None,
            faults=tuple(plans),
            call=line,
        )
        ws = web.WebSocketResponse(
            heartbeat=self.config.heartbeat_s,
            protocols=(subprotocol,) if subprotocol else (),
            max_msg_size=_MAX_MESSAGE_BYTES,
        )
        try:
            await ws.prepare(request)
        except BaseException:
            if line is not None:
                line.end("the session's handshake failed")
            raise

        if script.brain.script.replay is not None:
            script.replays.opened()
            divergence = None
            try:
                divergence = await serve_replay(
                    ws,
                    script.brain.script.replay,
                    speed=self.config.speed,
                    connection=script_ordinal - 1,
                )
            finally:
                script.replays.closed(divergence.message if divergence is not None else None)
                with contextlib.suppress(Exception):
                    await ws.close()
            return ws

        def drop() -> None:
            if request.transport is not None:
                request.transport.abort()

        frame_log: FrameLog | None = None
        if self.config.record_frames:
            frame_log = FrameLog(model=setup.model, query=dict(request.query))
            self._frame_logs.append(frame_log)
        connection = SimConnection(
            ws,
            context=self._context,
            setup=setup,
            rng=random.Random(self._rng.getrandbits(64)),
            drop=drop,
            frame_log=frame_log,
        )
        self._connections[connection] = script
        script.inputs.append(connection.protocol.input_tally)
        self._accepted += 1
        logger.debug("%s: accepted (model %s)", connection.name, setup.model)
        try:
            await connection.serve()
        finally:
            self._connections.pop(connection, None)
            with contextlib.suppress(Exception):
                await ws.close()
        return ws

    async def _replay_verdict(self, request: web.Request) -> web.Response:
        script = self._script_for(self._bearer(request))
        if script is None:
            return self._unauthorized("Incorrect API key provided.")
        ledger = script.replays
        settled = await ledger.settled(_REPLAY_SETTLE_S)
        body = {
            "replayed": ledger.replayed,
            "settled": settled,
            "divergences": list(ledger.divergences),
        }
        return web.json_response(body)

    async def _client_secrets(self, request: web.Request) -> web.Response:
        token = self._bearer(request)
        script = self._script_for(token)
        if script is None:
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
        self._grants[secret] = Grant(script, expires_at=float(expires_at))
        return web.json_response({"value": secret, "expires_at": expires_at})

    async def _chat_completions(self, request: web.Request) -> web.Response:
        script = self._script_for(self._bearer(request))
        if script is None:
            return self._unauthorized("Incorrect API key provided.")
        return await answer_judge(script.judge, request, self._closing)

    async def _connection_logs(self, request: web.Request) -> web.Response:
        token = self._bearer(request)
        if token is None or token not in self.config.api_keys:
            return self._unauthorized("Reading frame logs needs the simulator's own token.")
        if not self.config.record_frames:
            return _bad_request("frames are not recorded: start with --record-frames")
        return web.json_response({"connections": [log.to_json() for log in self.connections]})

    async def _register_script(self, request: web.Request) -> web.Response:
        # The server's own tokens only: a session's token must not mint other scripts.
        token = self._bearer(request)
        if token is None or token not in self.config.api_keys:
            return self._unauthorized("Registering scripts needs the simulator's own token.")
        try:
            body = await request.json()
        except (ValueError, json.JSONDecodeError):
            return _bad_request("the body must be a JSON object (a script)")
        if not isinstance(body, dict):
            return _bad_request("the body must be a JSON object (a script)")
        name = body.pop("name", None)
        if name is not None and not (isinstance(name, str) and SCRIPT_NAME.fullmatch(name)):
            return _bad_request("name: 1-64 of A-Z a-z 0-9 _ . -", param="name")
        try:
            script = BrainScript.model_validate(body)
        except ValidationError as error:
            where, message = describe_validation_error(error)
            return _bad_request(f"{where}: {message}", param=where)
        registered = self.register(script, name)
        url = self.url if name is None else f"{self.url}?script={name}"
        return web.json_response({"token": registered, "name": name, "url": url}, status=201)


def _bad_request(message: str, *, param: str | None = None) -> web.Response:
    error = {"type": "invalid_request_error", "code": "invalid_value", "message": message}
    return web.json_response({"error": {**error, "param": param}}, status=400)


def _effort(value: str | None) -> Literal["high", "none"] | None:
    if value == "high":
        return "high"
    if value == "none":
        return "none"
    return None


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        # (host, port) for IPv4, (host, port, flow, scope) for IPv6.
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the simulator's site has no listening socket")
