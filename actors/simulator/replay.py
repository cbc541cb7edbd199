"""Serving a recorded session from its cassette, and checking the client against it.

A scenario whose brain script names a cassette (``BrainScript.replay``) is not simulated: its
connection replays the first recorded connection of the cassette.

- The server's frames go out in their recorded order. Each waits for what preceded it in the
  recording (the client's control frames before it, and about as much input audio), then for
  its recorded delay after the last of them, divided by the speed factor (the simulator's
  speed over the recording's).
- Server-issued ids (session, items, responses, calls) are replaced by fresh ones per
  connection, consistently; ``event_id`` is new on every frame. The client's ids are mapped
  back before comparing.
- Output audio is the recorded audio, byte for byte (rebuilt from ``server.raw``).
- A simulated caller's run is two cassettes (``agent/``, ``caller/``): each session replays its
  own, and a divergence names the side (``the caller's session: recorded frame #3 ...``).
- A recorded reconnect is replayed: the N-th connect serves the N-th recorded connection, and
  a connection the recording shows ending under the client is closed (1011) after its last
  frame, so the client reconnects as it did.
- Every control frame the client sends is compared with the next recorded one
  (:mod:`voxray.actors.cassette.divergence`). The first divergence ends the session with an
  ``error`` event of code ``replay_divergence`` naming the recorded frame and what came
  instead; the client's transport ends the run with it (not retried).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import json
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from aiohttp import WSMsgType, web
from voxray.actors.cassette.divergence import (
    ID_KEYS,
    ClientChecker,
    Divergence,
    ReplayExpectations,
    ServerStep,
    Tolerances,
)
from voxray.actors.cassette.format import (
    AUDIO_REF,
    CALL_SIDES,
    Cassette,
    CassetteError,
    load_cassette,
)
from voxray.actors.realtime.transport import REPLAY_DIVERGENCE
from voxray.actors.simulator.ids import new_id

__all__ = ["REPLAY_DIVERGENCE", "IdRewriter", "ReplayConnection", "serve_replay"]

logger = logging.getLogger("voxray.simulator.replay")

DEFAULT_WAIT_S: Final = 10.0
"""How long (at speed 1) a recorded server frame waits for the client's part before the
replay calls it a divergence."""
_DIVERGENCE_CLOSE_CODE: Final = 1008
_RECORDED_DROP_CLOSE_CODE: Final = 1011
"""Closes a replayed connection the recording shows ending under the client (retryable)."""
_ENDED: Final = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


class IdRewriter:
    """Fresh ids for the recorded server-issued ones, the same fresh id for the same recorded
    one within a connection; and the way back, for comparing what the client sends."""

    def __init__(self) -> None:
        self.fresh: dict[str, str] = {}
        self.back: dict[str, str] = {}

    def rewrite(self, value: Any) -> Any:
        """``value`` (a decoded server event) with its ids replaced, in place."""
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "event_id":
                    value[key] = new_id("event")
                elif key in ID_KEYS and isinstance(item, str) and item:
                    value[key] = self._fresh(item)
                else:
                    self.rewrite(item)
        elif isinstance(value, list):
            for item in value:
                self.rewrite(item)
        return value

    def _fresh(self, recorded: str) -> str:
        found = self.fresh.get(recorded)
        if found is None:
            prefix = recorded.split("_", 1)[0] if "_" in recorded else "id"
            found = self.fresh[recorded] = new_id(prefix)
            self.back[found] = recorded
        return found


class ReplayConnection:
    """One client connection served from a cassette.

    Args:
        speed: the simulator's speed; frames come ``speed / cassette speed`` times faster.
        wait_s: how long a server frame waits for the client's part before it diverges.
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        cassette: Cassette,
        *,
        speed: float = 1.0,
        tolerances: Tolerances | None = None,
        wait_s: float = DEFAULT_WAIT_S,
        name: str = "replay",
        connection: int = 0,
        label: str = "",
    ) -> None:
        self._ws = ws
        self._label = label
        self._cassette = cassette
        self._factor = speed / cassette.meta.speed
        self._expected = ReplayExpectations(cassette, connection)
        # A recorded connection followed by another ended under the client (a drop, a
        # server close): it ends here too once its frames are out, and the client reconnects.
        self._ends_by_itself = connection + 1 < cassette.meta.connections
        self._checker = ClientChecker(self._expected, tolerances or Tolerances())
        self._wait_s = wait_s
        self._name = name
        self._ids = IdRewriter()
        self._changed = asyncio.Event()
        self._opened = time.monotonic()
        self._control_times: list[float] = []
        self.divergence: Divergence | None = None

    async def serve(self) -> Divergence | None:
        """Replay until the client closes (or diverges); returns the divergence, if any."""
        self._opened = time.monotonic()
        sender = asyncio.create_task(self._send_all(), name=f"{self._name}-send")
        try:
            await self._read_all()
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        if self.divergence is None and not self._ends_by_itself:
            missing = self._checker.missing()
            if missing is not None:
                # Too late to tell the client (it left): the driver asks (GET /v1/sim/replay).
                missing = replace(missing, message=self._label + missing.message)
                logger.warning("%s: replay diverged: %s", self._name, missing.message)
                self.divergence = missing
        return self.divergence

    async def _read_all(self) -> None:
        checker = self._checker
        async for message in self._ws:
            if message.type is WSMsgType.TEXT:
                try:
                    event = json.loads(message.data)
                except ValueError:
                    await self._diverge(
                        Divergence(None, "the client sent a frame that is not JSON")
                    )
                    return
                if not isinstance(event, dict):
                    continue
                if event.get("type") == "input_audio_buffer.append":
                    checker.audio(_decoded(event.get("audio")))
                else:
                    divergence = checker.control(event, self._ids.back)
                    if divergence is not None:
                        await self._diverge(divergence)
                        return
                    self._control_times.append(time.monotonic())
                self._changed.set()
            elif message.type is WSMsgType.BINARY:
                checker.audio(message.data)
                self._changed.set()
            elif message.type in _ENDED:
                return

    async def _send_all(self) -> None:
        released = self._opened
        for step in self._expected.server:
            if not await self._wait_for_client(step):
                return
            anchor = (
                self._control_times[step.controls_before - 1]
                if step.controls_before
                else self._opened
            )
            released = max(released, anchor + (step.frame.t_s - step.anchor_t_s) / self._factor)
            delay = released - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._ws.closed:
                return
            await self._send(step)
        if self._ends_by_itself:
            await self._ws.close(code=_RECORDED_DROP_CLOSE_CODE, message=b"recorded drop")

    async def _wait_for_client(self, step: ServerStep) -> bool:
        """Until the client did what preceded ``step`` in the recording; False on divergence."""
        checker = self._checker
        audio_needed = step.audio_before - checker.audio_slack(step.audio_before)
        voiced_needed = step.voiced_before - checker.speech_slack(step.voiced_before)
        gap_s = (step.frame.t_s - step.anchor_t_s) / self._factor
        deadline = time.monotonic() + self._wait_s + gap_s
        while (
            checker.controls_received < step.controls_before
            or checker.audio_received < audio_needed
            or checker.voiced_received < voiced_needed
        ):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                await self._diverge(self._stalled(step))
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
        return True

    def _stalled(self, step: ServerStep) -> Divergence:
        checker = self._checker
        frame = step.frame
        waiting = f"recorded frame #{step.index} (server {frame.type} at {frame.t_s:.2f} s)"
        missing = checker.missing()
        if checker.controls_received < step.controls_before and missing is not None:
            return Divergence(
                missing.frame_index,
                f"{missing.message} (within {self._wait_s:g} s; {waiting} waits for it)",
            )
        expected = self._expected
        if checker.voiced_received < step.voiced_before - checker.speech_slack(step.voiced_before):
            return Divergence(
                step.index,
                f"{waiting} came after {expected.seconds(step.voiced_before):.2f} s of voiced "
                f"input audio; the client sent {expected.seconds(checker.voiced_received):.2f} s",
            )
        return Divergence(
            step.index,
            f"{waiting} came after {expected.seconds(step.audio_before):.2f} s of input audio; "
            f"the client sent {expected.seconds(checker.audio_received):.2f} s",
        )

    async def _send(self, step: ServerStep) -> None:
        frame = step.frame
        try:
            if frame.binary is not None:
                await self._ws.send_bytes(self._cassette.audio_of(frame, frame.binary))
            elif frame.event is not None:
                await self._ws.send_str(json.dumps(self._rebuild(step)))
            elif frame.text is not None:
                await self._ws.send_str(frame.text)
        except (ConnectionError, RuntimeError):
            return  # the client left; the reader ends too

    def _rebuild(self, step: ServerStep) -> dict[str, Any]:
        """The recorded event with fresh ids and its audio put back as base64."""
        frame = step.frame
        assert frame.event is not None
        event: dict[str, Any] = copy.deepcopy(frame.event)
        self._ids.rewrite(event)
        for key, value in event.items():
            if isinstance(value, dict) and AUDIO_REF in value:
                offset, length = value[AUDIO_REF]
                audio = self._cassette.audio_of(frame, (int(offset), int(length)))
                event[key] = base64.b64encode(audio).decode("ascii")
        return event

    async def _diverge(self, divergence: Divergence) -> None:
        if self.divergence is not None:
            return
        divergence = replace(divergence, message=self._label + divergence.message)
        self.divergence = divergence
        logger.warning("%s: replay diverged: %s", self._name, divergence.message)
        await send_divergence(self._ws, divergence.message)


async def send_divergence(ws: web.WebSocketResponse, message: str) -> None:
    """Tell the client the replay cannot go on (``error`` with ``replay_divergence``), close."""
    error = {
        "type": "error",
        "event_id": new_id("event"),
        "error": {
            "type": "invalid_request_error",
            "code": REPLAY_DIVERGENCE,
            "message": message,
        },
    }
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(json.dumps(error))
        await ws.close(code=_DIVERGENCE_CLOSE_CODE, message=b"replay diverged")


async def serve_replay(
    ws: web.WebSocketResponse,
    cassette_dir: str,
    *,
    speed: float,
    wait_s: float = DEFAULT_WAIT_S,
    name: str = "replay",
    connection: int = 0,
) -> Divergence | None:
    """Serve ``ws`` from recorded connection ``connection`` (the N-th connect of the scenario
    replays the N-th recorded connection; later ones replay the last) of the cassette in
    ``cassette_dir``. A cassette that cannot be read is reported to the client as a divergence
    (the run fails naming the file)."""
    try:
        cassette = load_cassette(Path(cassette_dir))
    except CassetteError as error:
        logger.warning("%s: %s", name, error.message)
        await send_divergence(ws, f"cannot replay: {error.message}")
        return Divergence(None, error.message)
    side = Path(cassette_dir).name
    # The wait is in the recording's seconds: a replay at speed 8 gives up 8 times sooner.
    replayed = ReplayConnection(
        ws,
        cassette,
        speed=speed,
        wait_s=wait_s / speed,
        name=name,
        connection=min(connection, max(cassette.meta.connections - 1, 0)),
        # One side of a simulated caller's call: say which session departed.
        label=f"the {side}'s session: " if side in CALL_SIDES else "",
    )
    return await replayed.serve()


def _decoded(audio: Any) -> bytes:
    """An append's audio (nothing, for a malformed one: the length check will say)."""
    if not isinstance(audio, str):
        return b""
    try:
        return binascii.a2b_base64(audio)
    except binascii.Error:
        return b""
