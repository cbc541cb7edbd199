"""The Twilio Media Streams ingress: a phone call reaches an agent through Twilio.

``POST /twilio/voice`` (the number's voice webhook) answers TwiML that connects the call to a
bidirectional stream, ``<Connect><Stream url=".../twilio/stream">``, with the chosen agent, the
caller and the called number as ``<Parameter>``s; a ``<Say>`` after it tells the caller to call
back later if the stream ends without an agent (refused, drained). ``GET /twilio/stream`` is the
websocket. μ-law 8 kHz passes through to the session as ``audio/pcmu`` both ways, untouched.

Barge-in: when the caller speaks over the agent the session cancels the response and this
ingress sends ``clear``; the item is truncated at the last mark Twilio acknowledged
(:mod:`.twilio_playback`), i.e. what the caller really heard.

With an auth token configured, the webhook and the websocket upgrade must carry a valid
``X-Twilio-Signature`` (else 403).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import time
from typing import Any, Final
from xml.sax.saxutils import escape, quoteattr

from aiohttp import WSCloseCode, WSMessage, WSMsgType, web
from pydantic import ValidationError
from voxray.actors.conversation.events import ConversationEvent, Interrupted, ResponseFinished
from voxray.actors.errors import VoxrayError
from voxray.actors.gateway.admission import CallRefused, RefusalCause
from voxray.actors.gateway.calls import Call
from voxray.actors.gateway.context import GatewayContext
from voxray.actors.gateway.limits import MessageRate
from voxray.actors.gateway.twilio_media import (
    DtmfMessage,
    MarkMessage,
    MediaMessage,
    OutboundFrames,
    StartMessage,
    StopMessage,
    TwilioInbound,
    parse_inbound,
)
from voxray.actors.gateway.twilio_playback import MarkLedger
from voxray.actors.gateway.twilio_signature import valid_twilio_signature

__all__ = ["CALL_BACK_LATER", "TwilioIngress"]

logger = logging.getLogger("voxray.gateway.twilio")

CALL_BACK_LATER = "Sorry, we cannot take your call right now. Please call back later."
_TELEPHONE: Final[dict[str, Any]] = {"encoding": "pcmu", "rate": 8000}
_OUTBOUND_QUEUE = 2_000  # messages to Twilio waiting for the socket; a stuck caller drops
_START_TIMEOUT_S = 10.0


def _twiml(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'


def _say_later() -> str:
    return f"<Say>{escape(CALL_BACK_LATER)}</Say><Hangup/>"


class TwilioIngress:
    """``/twilio/voice`` and ``/twilio/stream``; see the module docstring."""

    name = "twilio"

    def __init__(self, context: GatewayContext) -> None:
        self._context = context

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/twilio/voice", self._voice),
            web.get("/twilio/stream", self._stream),
        ]

    def describe(self, base_url: str) -> list[str]:
        ws = base_url.replace("http", "ws", 1)
        return [
            f"twilio   voice webhook  POST {base_url}/twilio/voice",
            f"         media stream   {ws}/twilio/stream",
        ]

    # --- the voice webhook ------------------------------------------------------------------

    async def _voice(self, request: web.Request) -> web.Response:
        # A refusal is still a 200: Twilio speaks TwiML only from a successful answer (an
        # error status makes it play its own "application error" message instead).
        form = {key: str(value) for key, value in (await request.post()).items()}
        if not self._signed(request, form):
            raise web.HTTPForbidden(text="invalid X-Twilio-Signature")
        calls = self._context.calls
        if not self._context.accepting:
            calls.refuse(self.name, "draining", "voice webhook while draining")
            return _xml(_twiml(_say_later()))
        if calls.live >= self._context.settings.max_calls:
            calls.refuse(self.name, "capacity", "voice webhook over max_calls")
            return _xml(_twiml(_say_later()))
        wanted = request.query.get("agent")
        agent = self._context.agents.route(self.name, name=wanted, number=form.get("To"))
        if agent is None:
            calls.refuse(self.name, "unknown_agent", f"no agent for agent={wanted!r}")
            return _xml(_twiml(_say_later()))
        stream_url = self._public_base(request, websocket=True) + "/twilio/stream"
        parameters = "".join(
            f"<Parameter name={quoteattr(key)} value={quoteattr(value)}/>"
            for key, value in (
                ("agent", agent.name),
                ("from", form.get("From", "")),
                ("to", form.get("To", "")),
            )
        )
        stream = f"<Connect><Stream url={quoteattr(stream_url)}>{parameters}</Stream></Connect>"
        return _xml(_twiml(stream + f"<Say>{escape(CALL_BACK_LATER)}</Say>"))

    # --- the media stream -------------------------------------------------------------------

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if not self._signed(request, None):
            self._context.calls.refuse(
                self.name, "unauthorized", "stream without a valid signature"
            )
            raise web.HTTPForbidden(text="invalid X-Twilio-Signature")
        if not self._context.accepting:
            self._context.calls.refuse(self.name, "draining", "stream while draining")
            raise web.HTTPServiceUnavailable(text="draining: call back later")
        settings = self._context.settings
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=settings.max_message_bytes)
        await ws.prepare(request)
        stream = _Stream(self._context, ws, peer=request.remote or "unknown")
        try:
            await stream.run()
        finally:
            await stream.finish()
        return ws

    # --- helpers ----------------------------------------------------------------------------

    def _signed(self, request: web.Request, params: dict[str, str] | None) -> bool:
        token = self._context.settings.twilio_auth_token
        if token is None:
            return True
        url = self._public_base(request, websocket=params is None) + request.path_qs
        ok = valid_twilio_signature(
            token.get_secret_value(), url, params, request.headers.get("X-Twilio-Signature")
        )
        if not ok:
            logger.warning("twilio: bad signature on %s from %s", request.path, request.remote)
        return ok

    def _public_base(self, request: web.Request, *, websocket: bool) -> str:
        public = self._context.settings.public_url
        if public:
            base = public.rstrip("/")
        else:
            scheme = request.headers.get("X-Forwarded-Proto", request.scheme)
            base = f"{scheme}://{request.host}"
        if websocket:
            base = base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return base


def _xml(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/xml")


class _Stream:
    """One Twilio media stream: its call, its marks, its writer."""

    def __init__(self, context: GatewayContext, ws: web.WebSocketResponse, *, peer: str) -> None:
        self._context = context
        self._ws = ws
        self._peer = peer
        self._call: Call | None = None
        self._frames = OutboundFrames("")
        self._marks = MarkLedger()
        self._outbound: asyncio.Queue[str] = asyncio.Queue(maxsize=_OUTBOUND_QUEUE)
        self._dropped = 0
        self._rate = MessageRate(context.settings.max_messages_per_s)
        self._reason = "hangup"
        self._tasks: list[asyncio.Task[None]] = []
        self._close: tuple[int, str] = (WSCloseCode.OK, "call ended")

    async def run(self) -> None:
        """Read until the stream stops, the socket closes, or the call must end."""
        try:
            started = await asyncio.wait_for(self._until_start(), timeout=_START_TIMEOUT_S)
        except TimeoutError:
            self._refuse("bad_request", "no start message within 10 s")
            return
        if started is None:
            return
        call = await self._open(started)
        if call is None:
            return
        self._tasks = [
            asyncio.create_task(self._write(), name=f"twilio-{call.call_id}-writer"),
            asyncio.create_task(self._watch(call), name=f"twilio-{call.call_id}-watch"),
        ]
        await self._read(call)

    async def finish(self) -> None:
        """End the call (record, slot, metrics) and close the socket. Idempotent."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._call is not None:
            await self._call.end(self._reason)
        if not self._ws.closed:
            code, message = self._close
            await self._ws.close(code=code, message=message.encode()[:120])

    async def _until_start(self) -> StartMessage | None:
        async for msg in self._ws:
            message = self._parse(msg)
            if message is None:
                return None
            if isinstance(message, StartMessage):
                return message
            if isinstance(message, StopMessage):
                return None
            if isinstance(message, MediaMessage):
                self._refuse("bad_request", f"{message.event} before start")
                return None
        return None

    async def _open(self, started: StartMessage) -> Call | None:
        info = started.start
        self._frames = OutboundFrames(info.stream_sid)
        params = info.custom_parameters
        fmt = info.media_format
        if fmt.encoding != "audio/x-mulaw" or fmt.sample_rate != 8000:
            self._refuse(
                "bad_request", f"unsupported media format {fmt.encoding}/{fmt.sample_rate}"
            )
            return None
        agent = self._context.agents.route(
            "twilio", name=params.get("agent"), number=params.get("to")
        )
        if agent is None:
            self._refuse(
                "unknown_agent", f"no agent named {params.get('agent')!r} takes Twilio calls"
            )
            return None
        # μ-law at 8 kHz both ways; the agent's own transport (JSON or binary frames) is kept.
        config = agent.agent.model_copy(
            update={
                "input_audio": agent.agent.input_audio.model_copy(update=_TELEPHONE),
                "output_audio": agent.agent.output_audio.model_copy(update=_TELEPHONE),
            }
        )
        try:
            call = await self._context.calls.open(
                ingress="twilio",
                agent=agent,
                caller=params.get("from") or info.call_sid or self._peer,
                called=params.get("to") or None,
                arrived=time.monotonic(),
                config=config,
                greet=False,
            )
        except CallRefused as refused:
            # Counted and logged by calls.open; closing the stream lets TwiML's <Say> speak.
            reason = refused.message.encode()[:120]  # a close reason holds 123 bytes at most
            await self._ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=reason)
            return None
        self._call = call
        call.conversation.report_playback(self._marks)
        call.conversation.add_wire_audio_listener(self._on_agent_audio)
        call.conversation.add_listener(self._on_event)
        if agent.greeting:
            call.live.say(agent.greeting)
        return call

    async def _read(self, call: Call) -> None:
        async for msg in self._ws:
            message = self._parse(msg)
            if message is None:
                self._reason = "refused: bad message"
                return
            match message:
                case MediaMessage(media=media):
                    if media.track not in ("inbound", "inbound_track"):
                        continue
                    try:
                        audio = base64.b64decode(media.payload, validate=True)
                    except (binascii.Error, ValueError):
                        self._refuse("bad_request", "media payload is not base64")
                        self._reason = "refused: bad message"
                        return
                    try:
                        call.conversation.send_wire_audio(audio)
                    except VoxrayError as error:  # the session ended under the caller
                        self._reason = f"session ended: {error.message}"
                        return
                case MarkMessage(mark=mark):
                    self._marks.acknowledged_mark(mark.name)
                case DtmfMessage(dtmf=dtmf):
                    call.tracker.note_dtmf(call.conversation.now_ms(), dtmf.digit)
                case StopMessage():
                    self._reason = "hangup"
                    return
                case _:
                    pass
        if self._ws.close_code not in (None, WSCloseCode.OK) and self._reason == "hangup":
            self._reason = f"socket closed ({self._ws.close_code})"

    async def _watch(self, call: Call) -> None:
        """Hang up when the gateway asks (drain deadline, maximum duration) or the session
        failed."""
        asked = await call.wait_until_over()
        self._reason = call.stop_reason if asked else "session ended"
        # Let the writer flush what the agent already said before the socket goes.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._outbound.join(), timeout=2.0)
        self._close = (WSCloseCode.OK, self._reason)
        await self._ws.close(code=WSCloseCode.OK, message=self._reason.encode()[:120])

    async def _write(self) -> None:
        while True:
            text = await self._outbound.get()
            try:
                await self._ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return  # the socket went; the reader ends the call
            finally:
                self._outbound.task_done()

    def _send(self, text: str) -> None:
        if self._outbound.full():
            self._outbound.get_nowait()
            self._outbound.task_done()
            self._dropped += 1
        self._outbound.put_nowait(text)

    def _on_agent_audio(self, response_id: str, item_id: str, delta: str) -> None:
        tail = self._marks.before(item_id)
        if tail is not None:
            self._send(self._frames.mark(tail))
        self._send(self._frames.media(delta))
        audio_bytes = len(delta) * 3 // 4 - delta.count("=", -2)
        name = self._marks.sent(item_id, audio_bytes)
        if name is not None:
            self._send(self._frames.mark(name))
        if self._call is not None:
            self._call.first_audio_sent()

    def _on_event(self, event: ConversationEvent) -> None:
        if isinstance(event, ResponseFinished):
            tail = self._marks.flush()  # the response's last audio gets its mark
            if tail is not None:
                self._send(self._frames.mark(tail))
        elif isinstance(event, Interrupted):
            # What was queued at Twilio must not play; its marks will echo and be ignored.
            while not self._outbound.empty():
                self._outbound.get_nowait()
                self._outbound.task_done()
            self._marks.cleared()
            self._send(self._frames.clear())

    def _parse(self, msg: WSMessage) -> TwilioInbound | None:
        kind = msg.type
        if kind is WSMsgType.ERROR:
            self._refuse("bad_request", f"socket error: {self._ws.exception()}")
            return None
        if kind is WSMsgType.CLOSE or kind is WSMsgType.CLOSED:
            return None
        if not self._rate.allow():
            self._refuse("bad_request", "over the message rate")
            return None
        if kind is not WSMsgType.TEXT:
            self._refuse("bad_request", "binary message (Twilio sends JSON text)")
            return None
        try:
            return parse_inbound(msg.data)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "message"
            self._refuse("bad_request", f"malformed message: {where}: {first['msg']}")
            return None

    def _refuse(self, cause: RefusalCause, message: str) -> None:
        self._context.calls.refuse("twilio", cause, f"{message} (from {self._peer})")
        self._close = (WSCloseCode.POLICY_VIOLATION, message)
