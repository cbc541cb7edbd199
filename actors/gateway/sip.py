"""The xAI direct SIP ingress: a phone call to the team's xAI number reaches an agent.

xAI answers the phone itself and posts a signed ``realtime.call.incoming`` webhook to
``POST /sip/webhook``. This ingress:

1. verifies the Standard Webhooks signature, the timestamp (five minutes either way) and that
   the message id is new (:mod:`voxray.actors.realtime.webhooks`), with the secret from
   ``VOXRAY_XAI_WEBHOOK_SECRET``; any failure is a 401 whose cause is logged, never the secret;
2. parses the body (a malformed one is a 400 naming the field) and picks the agent: the one
   named by ``?agent=`` on the webhook URL, else the one whose ``routes.numbers`` has the
   number called (the SIP ``To`` header), else the default agent (none: 404);
3. claims a slot and answers 200 at once (over a cap, or draining: 503); the conversation then
   connects in the background to ``/v1/realtime?call_id=<id>`` with the API key, sends its one
   ``session.update`` (the agent's configuration, with the phone leg's G.711 μ-law as its audio
   format) and the agent's greeting.

No audio passes through voxray: xAI carries it between the phone network and the model, and
the session exchanges only events and tool calls. The call ends when xAI closes the session's
socket (the caller hung up), or when the gateway ends it (drain deadline, maximum duration).
Keypad digits (``input_audio_buffer.dtmf_event_received``) go into the call record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from aiohttp import web
from voxray.actors.conversation.agent import AudioFormatConfig
from voxray.actors.conversation.events import AgentSpeechStarted, ConversationEvent, DtmfReceived
from voxray.actors.errors import ProtocolError, WebhookRejected
from voxray.actors.gateway.admission import CallRefused, RefusalCause
from voxray.actors.gateway.agents import HostedAgent
from voxray.actors.gateway.calls import Call
from voxray.actors.gateway.context import GatewayContext
from voxray.actors.realtime.sip_events import CallIncomingData, parse_call_incoming
from voxray.actors.realtime.webhooks import WebhookVerifier

__all__ = ["WEBHOOK_PATH", "SipIngress"]

logger = logging.getLogger("voxray.gateway.sip")

WEBHOOK_PATH: Final = "/sip/webhook"
_TELEPHONE: Final = AudioFormatConfig(encoding="pcmu", rate=8000)
_STATUS: Final[dict[RefusalCause, int]] = {
    "draining": 503,
    "capacity": 503,
    "connect_failed": 503,
    "unknown_agent": 404,
    "bad_request": 400,
    "unauthorized": 401,
}


class SipIngress:
    """``POST /sip/webhook``; see the module docstring."""

    name = "sip"

    def __init__(self, context: GatewayContext) -> None:
        self._context = context
        secret = context.settings.xai_webhook_secret
        # A malformed secret is a ConfigError now, when the gateway starts, not per call.
        self._verifier = WebhookVerifier(secret) if secret is not None else None
        self._running: dict[str, asyncio.Task[None]] = {}  # xAI call id -> its call's task

    def routes(self) -> list[web.RouteDef]:
        """The webhook route (``POST /sip/webhook``)."""
        return [web.post(WEBHOOK_PATH, self._webhook)]

    def describe(self, base_url: str) -> list[str]:
        """The line ``voxray serve`` prints: the webhook URL, or why every webhook is refused."""
        line = f"sip      xAI webhook    POST {base_url}{WEBHOOK_PATH}"
        if self._verifier is None:
            line += "  (refusing: set VOXRAY_XAI_WEBHOOK_SECRET)"
        return [line]

    # --- the webhook ------------------------------------------------------------------------

    async def _webhook(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        body = await request.read()  # bounded by the app's client_max_size (413 beyond)
        if self._verifier is None:
            return self._refused("unauthorized", "no VOXRAY_XAI_WEBHOOK_SECRET is configured")
        try:
            self._verifier.verify(request.headers, body)
        except WebhookRejected as rejected:
            return self._refused("unauthorized", f"webhook {rejected.cause}: {rejected.message}")
        try:
            data = parse_call_incoming(body).data
        except ProtocolError as error:
            return self._refused("bad_request", error.message)
        if not self._context.accepting:
            return self._refused("draining", "the gateway is draining: call back later")
        wanted = request.query.get("agent")
        agent = self._context.agents.route(self.name, name=wanted, number=data.called)
        if agent is None:
            return self._refused(
                "unknown_agent",
                f"no agent for call {data.call_id} (agent={wanted!r}, called={data.called!r})",
            )
        if data.call_id in self._running:
            return self._refused("bad_request", f"call {data.call_id} is already being handled")
        return await self._take(data, agent, arrived)

    async def _take(
        self, data: CallIncomingData, agent: HostedAgent, arrived: float
    ) -> web.Response:
        """Start the call; answer once it holds a slot (200) or was refused."""
        admitted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            self._run_call(data, agent, arrived, admitted), name=f"sip-{data.call_id}"
        )
        self._running[data.call_id] = task
        task.add_done_callback(lambda done: self._call_done(data.call_id, done, admitted))
        await asyncio.wait({admitted, task}, return_when=asyncio.FIRST_COMPLETED)
        if admitted.done():
            logger.info("sip: call %s from %s to agent %s", data.call_id, data.caller, agent.name)
            return web.json_response(
                {"status": "accepted", "call_id": data.call_id, "agent": agent.name}
            )
        error = task.exception()
        if isinstance(error, CallRefused):  # already counted and logged by calls.refuse
            return _answer(error.cause, error.message)
        raise error if error is not None else RuntimeError("the call ended before admission")

    async def _run_call(
        self,
        data: CallIncomingData,
        agent: HostedAgent,
        arrived: float,
        admitted: asyncio.Future[None],
    ) -> None:
        calls = self._context.calls
        endpoint = calls.endpoint_for(agent).model_copy(update={"call_id": data.call_id})
        # The phone leg is G.711 μ-law at 8 kHz: say so, so nothing transcodes on the way.
        config = agent.agent.model_copy(
            update={"input_audio": _TELEPHONE, "output_audio": _TELEPHONE}
        )

        def on_admitted() -> None:
            if not admitted.done():
                admitted.set_result(None)

        try:
            call = await calls.open(
                ingress=self.name,
                agent=agent,
                caller=data.caller or "unknown",
                called=data.called,
                arrived=arrived,
                endpoint=endpoint,
                config=config,
                call_id=data.call_id,
                admitted=on_admitted,
            )
        except CallRefused:
            if admitted.done():  # the webhook was answered; the refusal is counted and logged
                return
            raise
        await _hold(call)

    def _call_done(
        self, call_id: str, task: asyncio.Task[None], admitted: asyncio.Future[None]
    ) -> None:
        self._running.pop(call_id, None)
        if task.cancelled() or not admitted.done():
            return  # before admission the webhook handler reads the outcome itself
        error = task.exception()
        if error is not None:  # the webhook was answered long ago: nobody else will see it
            logger.error("sip: call %s failed", call_id, exc_info=error)

    def _refused(self, cause: RefusalCause, message: str) -> web.Response:
        refused = self._context.calls.refuse(self.name, cause, message)
        return _answer(cause, refused.message)


async def _hold(call: Call) -> None:
    """Keep the call until xAI ends it (the caller hung up) or the gateway must."""

    def on_event(event: ConversationEvent) -> None:
        match event:
            case DtmfReceived(t_ms=t_ms, digit=digit):
                call.tracker.note_dtmf(t_ms, digit)
            case AgentSpeechStarted():
                call.first_audio_sent()  # xAI said the audio started playing to the phone
            case _:
                pass

    call.conversation.add_listener(on_event)
    try:
        await call.wait_until_over()
    finally:
        # The caller hanging up closes the session's socket; otherwise closing it here ends
        # the call (drain deadline, maximum duration, the gateway stopping).
        hung_up = call.conversation.failure is None and not call.stop_requested.is_set()
        await call.end("hangup" if hung_up else None)


def _answer(cause: RefusalCause, message: str) -> web.Response:
    return web.json_response({"error": {"type": cause, "message": message}}, status=_STATUS[cause])
