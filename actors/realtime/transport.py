"""The websocket to a realtime endpoint: connect, one reader, one writer.

aiohttp's exceptions are mapped into voxray's tree here and nowhere else. The reader parses every
frame once (``parse_server_event``) and hands the result straight to the consumer's ``on_event``
callback, in order: no queue and no second task per event (at 50 audio deltas a second per
conversation, each hand-off between tasks is a visible share of the CPU), and a slow consumer
slows the socket rather than losing events. A malformed frame is passed on as a
:class:`~voxray.actors.errors.ProtocolError` value: it is reported, and the session goes on. The
end of the connection is reported once, by :meth:`RealtimeTransport.closed`.

This is the one place provider text enters voxray, so it is where the key is scrubbed from it
(:mod:`~voxray.actors.realtime.redaction`), and where a refusal of the credentials after the
upgrade (an ``invalid_api_key`` error event, a close with code 4001/4003) becomes an
:class:`~voxray.actors.errors.AuthenticationError`: not retryable, unlike a dropped socket. A
transient 5xx at the handshake is retried here a few times with jittered backoff (a 429 is the
supervisor's to retry: it frees the admission slot while it waits).
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final

import aiohttp
from voxray.actors.cancel import cancel_and_wait
from voxray.actors.conversation.endpoint import ProviderEndpoint
from voxray.actors.errors import (
    AuthenticationError,
    ConnectionLostError,
    ConnectTimeoutError,
    HandshakeError,
    ProtocolError,
    ProviderConnectionError,
    ProviderError,
    RateLimitedError,
)
from voxray.actors.realtime.client_events import ClientEvent, InputAudioBufferAppend
from voxray.actors.realtime.eager_send import EagerWriter
from voxray.actors.realtime.frame_tap import FrameTap
from voxray.actors.realtime.outbound import OutboundQueue, OutboundStatistics
from voxray.actors.realtime.redaction import InboundRedactor
from voxray.actors.realtime.server_events import (
    ErrorEvent,
    OutputAudio,
    ServerEvent,
    parse_server_frame,
)

__all__ = [
    "Inbound",
    "RealtimeTransport",
    "SocketClosed",
    "TransportState",
    "append_frame",
    "encode_append",
]

logger = logging.getLogger("voxray.transport")

_HEARTBEAT_S = 20.0
_APPEND_PREFIX = '{"type":"input_audio_buffer.append","audio":"'
_APPEND_SUFFIX = '"}'
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024

HANDSHAKE_RETRY_DELAYS_S: Final = (0.25, 0.75, 2.0)
"""Waits before re-trying a handshake refused with a 5xx (each ±25 % jitter); then it fails."""

_REFUSED_CREDENTIALS: Final = {"invalid_api_key": 401, "account_deactivated": 403}
"""Error codes after which nothing on this key will work: HTTP status they stand for."""
_ACCOUNT_STOPPED: Final = frozenset(
    {"insufficient_quota", "billing_hard_limit_reached", "credit_balance_exhausted"}
)
"""Error codes after which nothing on this account will work until a person acts."""
REPLAY_DIVERGENCE: Final = "replay_divergence"
"""The error code of a replaying simulator when the client departs from the cassette."""
_AUTH_CLOSE_CODES: Final = {4001: 401, 4003: 403}
"""Close codes that mirror HTTP 401/403 after the upgrade."""


class TransportState(Enum):
    """Where a transport is in its life."""

    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class SocketClosed:
    """The socket is gone; ``error`` says why when it was not closed by us: a
    :class:`~voxray.actors.errors.ConnectionLostError` for a drop (retryable), an
    :class:`~voxray.actors.errors.AuthenticationError` or a non-retryable
    :class:`~voxray.actors.errors.ProviderError` when the provider refused the key or account.

    ``code`` is the websocket close code when a close frame came (1000: a normal close, which
    on a SIP call means the call ended).
    """

    error: ProviderConnectionError | ProviderError | None
    code: int | None = None


Inbound = ServerEvent | OutputAudio | ProtocolError
"""What the reader hands to ``on_event``: an event (agent audio on its fast path, binary frames
included), or a malformed frame's error."""


class RealtimeTransport:
    """One websocket connection to a realtime endpoint.

    Args:
        endpoint: where to connect and the bearer key.
        model: sent as ``?model=``.
        name: prefix of the task names, e.g. ``session-<id>``.
        connect_timeout_s: bound on the handshake.
        max_queued_audio: outbound audio frames kept before the oldest is dropped.
        on_event: called by the reader with every inbound item, in order; it must not raise.
        binary_audio: send input audio as binary websocket frames of raw codec bytes
            (``audio.input.transport: binary``) instead of base64 in JSON appends.
        frame_tap: sees the handshake and every frame sent or received, as on the wire
            (recording a cassette); None costs one test per frame.
    """

    def __init__(
        self,
        endpoint: ProviderEndpoint,
        model: str,
        *,
        name: str,
        connect_timeout_s: float,
        max_queued_audio: int,
        on_event: Callable[[Inbound], None],
        binary_audio: bool = False,
        frame_tap: FrameTap | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._tap = frame_tap
        self._redactor = InboundRedactor([endpoint.api_key.get_secret_value()])
        self._refusal: ProviderConnectionError | ProviderError | None = None
        self._binary_audio = binary_audio
        self._model = model
        self._name = name
        self._connect_timeout_s = connect_timeout_s
        self._outbound = OutboundQueue(max_audio=max_queued_audio)
        self._on_event = on_event
        self._closed = asyncio.Event()
        self._close_marker = SocketClosed(None)
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._io_task: asyncio.Task[None] | None = None
        self._eager = EagerWriter()
        self.state = TransportState.NEW

    async def connect(self) -> None:
        """Open the websocket and start the reader and writer.

        A handshake refused with a 5xx (a gateway restarting, a transient overload) is tried
        again after :data:`HANDSHAKE_RETRY_DELAYS_S`; every other failure raises at once.

        Raises:
            ProviderConnectionError: mapped from aiohttp's errors (see its subclasses).
        """
        if self.state is not TransportState.NEW:
            raise RuntimeError(f"transport is {self.state.value}; connect() runs once")
        self._http = aiohttp.ClientSession()
        url = self._endpoint.connect_url(self._model)
        headers = {"Authorization": f"Bearer {self._endpoint.api_key.get_secret_value()}"}
        delays = iter(HANDSHAKE_RETRY_DELAYS_S)  # read per call: tests shorten it
        while True:
            try:
                # asyncio.timeout, not wait_for: on Python 3.11, wait_for returns the socket and
                # drops a cancellation that lands as the handshake completes, and a conversation
                # being closed then carried on with a fresh connection.
                async with asyncio.timeout(self._connect_timeout_s):
                    self._ws = await self._http.ws_connect(
                        url,
                        headers=headers,
                        heartbeat=_HEARTBEAT_S,
                        max_msg_size=_MAX_MESSAGE_BYTES,
                    )
                break
            except BaseException as error:
                mapped = _map_connect_error(error, self._connect_timeout_s)
                delay = next(delays, None) if _transient_refusal(mapped) else None
                if delay is None:
                    await self._http.close()
                    self.state = TransportState.CLOSED
                    raise mapped from error
                logger.info("%s: %s; trying again in %.2f s", self._name, mapped, delay)
            try:
                await asyncio.sleep(delay * random.uniform(0.75, 1.25))
            except BaseException:
                await self._http.close()
                self.state = TransportState.CLOSED
                raise
        self.state = TransportState.OPEN
        if self._tap is not None:
            self._tap.opened(url, headers)
        self._io_task = asyncio.create_task(self._run_io(), name=f"{self._name}-io")

    def send_nowait(self, event: ClientEvent) -> None:
        """Send an event now, or queue it behind a backlog. Audio may be dropped under backlog;
        control events never are."""
        if self.state is not TransportState.OPEN:
            raise ConnectionLostError(f"cannot send {event.type}: the socket is closed")
        self._put(event.to_json(), is_audio=isinstance(event, InputAudioBufferAppend))

    def send_audio_nowait(self, audio_b64: str) -> None:
        """Send one ``input_audio_buffer.append`` (droppable under backlog).

        The hot path of every session: base64 text needs no JSON escaping, so the frame is
        formatted directly instead of building and serializing a model for every chunk. It is
        byte-for-byte what ``InputAudioBufferAppend(audio=...).to_json()`` produces.
        """
        if self.state is not TransportState.OPEN:
            raise ConnectionLostError("cannot send audio: the socket is closed")
        self._put(encode_append(audio_b64), is_audio=True)

    def send_audio_frame_nowait(self, audio: bytes) -> None:
        """Send one chunk of input audio, raw codec bytes (droppable under backlog): a binary
        frame with ``binary_audio``, else an ``input_audio_buffer.append`` with its base64."""
        if self.state is not TransportState.OPEN:
            raise ConnectionLostError("cannot send audio: the socket is closed")
        if self._binary_audio:
            self._put(audio, is_audio=True)
        else:
            self._put(append_frame(audio), is_audio=True)

    def _put(self, payload: str | bytes, *, is_audio: bool) -> None:
        # With nothing queued and the writer not waiting for the socket to drain, the frame is
        # written at once (see eager_send).
        if self._outbound.empty and not self._eager.busy and self._write_now(payload):
            self._outbound.note_sent()
            if self._tap is not None:
                self._tap.frame(True, payload)
            return
        self._outbound.put_nowait(payload, is_audio=is_audio)

    def _write_now(self, payload: str | bytes) -> bool:
        """Write one frame without a task switch; False if it must go through the writer.

        If the socket needs to drain, the writer waits for it before sending anything else,
        and frames queue (dropping the oldest audio) until the queue is empty again.
        """
        assert self._ws is not None
        try:
            self._eager.write_now(self._ws, payload)
        except (aiohttp.ClientError, ConnectionError, RuntimeError):
            return False  # not written: the writer meets the same error and reports it
        return True

    async def closed(self) -> SocketClosed:
        """Wait until the connection is over; says why when it was not closed by us."""
        await self._closed.wait()
        return self._close_marker

    def statistics(self) -> OutboundStatistics:
        """Outbound queue counters (dropped audio included)."""
        return self._outbound.statistics()

    def clear_queued_audio(self) -> int:
        """Drop audio not yet sent; returns how many frames were dropped."""
        return self._outbound.clear_audio()

    async def aclose(self) -> None:
        """Close the socket and the HTTP session. Idempotent."""
        if self.state is TransportState.CLOSED and self._io_task is None:
            return
        self.state = TransportState.CLOSED
        self._outbound.close()
        if self._ws is not None and not self._ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), timeout=2.0)
        if self._io_task is not None:
            await cancel_and_wait(self._io_task)
            self._io_task = None
        if self._http is not None:
            await self._http.close()

    async def _run_io(self) -> None:
        # Reader and writer share one fate: when either ends, the connection is over.
        lost: ConnectionLostError | None = None
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._read(), name=f"{self._name}-recv")
                group.create_task(self._write(), name=f"{self._name}-send")
        except* ConnectionLostError as errors:
            first = errors.exceptions[0]
            lost = first if isinstance(first, ConnectionLostError) else None
        finally:
            closed_by_us = self.state is TransportState.CLOSED
            self.state = TransportState.CLOSED
            self._outbound.close()
            code = self._ws.close_code if self._ws is not None else None
            why: ProviderConnectionError | ProviderError | None = lost
            if self._refusal is not None:
                why = self._refusal
            elif code in _AUTH_CLOSE_CODES:
                why = AuthenticationError(
                    f"the provider refused the credentials: it closed the socket with code "
                    f"{code} (not retried: check the API key)",
                    status=_AUTH_CLOSE_CODES[code],
                )
            self._close_marker = SocketClosed(None if closed_by_us else why, code)
            self._closed.set()

    async def _read(self) -> None:
        assert self._ws is not None
        ws = self._ws
        on_event = self._on_event
        while True:
            message = await ws.receive()
            if message.type is aiohttp.WSMsgType.TEXT:
                if self._tap is not None:
                    self._tap.frame(False, message.data)
                on_event(self._inbound(message.data))
                if self._refusal is not None:
                    # Nothing more can work on this key: end here, whether or not the server
                    # closes (the close marker carries the refusal, not a drop).
                    raise ConnectionLostError(self._refusal.message)
            elif message.type is aiohttp.WSMsgType.BINARY:
                if self._tap is not None:
                    self._tap.frame(False, message.data)
                # Output audio as raw codec bytes (audio.output.transport: binary).
                on_event(OutputAudio(None, None, message.data))
            elif message.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
            ):
                code = ws.close_code
                raise ConnectionLostError(f"the server closed the socket (code {code})")
            elif message.type is aiohttp.WSMsgType.ERROR:
                raise ConnectionLostError(f"websocket error: {type(ws.exception()).__name__}")

    def _inbound(self, data: str) -> Inbound:
        """One text frame, scrubbed of secrets, parsed; notes a refusal of the credentials."""
        redactor = self._redactor
        data = redactor.known(data)
        inbound = _parse(data)
        if not isinstance(inbound, OutputAudio) and redactor.looks_secret(data):
            inbound = _parse(redactor.all(data))
        if isinstance(inbound, ErrorEvent):
            self._refusal = _account_refusal(inbound) or self._refusal
        return inbound

    async def _write(self) -> None:
        assert self._ws is not None
        while True:
            self._eager.waiting_for_frames(queue_empty=self._outbound.empty)
            payload = await self._outbound.get()
            if payload is None:
                return
            await self._eager.ready_to_send()
            try:
                if isinstance(payload, str):
                    await self._ws.send_str(payload)
                else:
                    await self._ws.send_bytes(payload)
            except (aiohttp.ClientError, ConnectionError, RuntimeError) as error:
                raise ConnectionLostError(f"send failed: {type(error).__name__}") from error
            if self._tap is not None:
                self._tap.frame(True, payload)


def encode_append(audio_b64: str) -> str:
    """The JSON text of ``input_audio_buffer.append`` for a base64 payload (no escaping needed)."""
    return _APPEND_PREFIX + audio_b64 + _APPEND_SUFFIX


def append_frame(audio: bytes) -> str:
    """The JSON text of ``input_audio_buffer.append`` carrying ``audio`` (raw codec bytes)."""
    return (
        _APPEND_PREFIX + binascii.b2a_base64(audio, newline=False).decode("ascii") + _APPEND_SUFFIX
    )


def _parse(data: str) -> Inbound:
    try:
        return parse_server_frame(data)
    except ProtocolError as error:
        return error


def _account_refusal(event: ErrorEvent) -> ProviderConnectionError | ProviderError | None:
    """The error a refusal of the key or account ends the session with, else None."""
    detail = event.error
    code = detail.code or detail.type
    text = f"{code}: {detail.message}" if detail.message else code
    if code in _REFUSED_CREDENTIALS:
        return AuthenticationError(
            f"the provider refused the credentials ({text}); not retried: check the API key",
            status=_REFUSED_CREDENTIALS[code],
        )
    if code == REPLAY_DIVERGENCE:
        # A replaying simulator found the client sending something else than was recorded:
        # reconnecting would replay the same cassette to the same client.
        return ProviderError(
            f"replay diverged from the cassette: {detail.message}",
            error_type=detail.type,
            code=code,
            retryable=False,
        )
    if code in _ACCOUNT_STOPPED:
        return ProviderError(
            f"the provider refused the account ({text}); not retried",
            error_type=detail.type,
            code=code,
            retryable=False,
        )
    return None


def _transient_refusal(error: BaseException) -> bool:
    """A handshake refused with a 5xx: worth another try soon."""
    return (
        isinstance(error, HandshakeError)
        and not isinstance(error, AuthenticationError | RateLimitedError)
        and error.status >= 500
    )


def _map_connect_error(error: BaseException, timeout_s: float) -> BaseException:
    """The one place aiohttp's connect errors become voxray's."""
    if isinstance(error, TimeoutError):
        return ConnectTimeoutError(f"no websocket handshake within {timeout_s:g} s")
    if isinstance(error, aiohttp.WSServerHandshakeError):
        status = error.status
        if status in (401, 403):
            return AuthenticationError(
                f"the endpoint refused the credentials (HTTP {status})", status=status
            )
        if status == 429:
            return RateLimitedError("the endpoint is at capacity (HTTP 429)", status=status)
        return HandshakeError(
            f"websocket handshake refused (HTTP {status})",
            status=status,
            retryable=status >= 500,
        )
    if isinstance(error, aiohttp.ClientError | OSError):
        return ProviderConnectionError(f"cannot connect: {type(error).__name__}: {error}")
    return error
