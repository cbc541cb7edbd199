"""Recording a conversation into a cassette: a frame tap, then one build at the end.

While the conversation runs, :class:`CassetteRecorder` only appends ``(time, direction,
payload)`` to a list (the tap is on the transport's hot path); parsing, moving audio out of the
JSON and scrubbing secrets happen once, in :meth:`CassetteRecorder.build`. The raw frames never
leave the process: only the built, scrubbed cassette is written.
"""

from __future__ import annotations

import asyncio
import binascii
import json
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from voxray.actors.cassette.format import (
    AUDIO_REF,
    Cassette,
    CassetteFrame,
    CassetteMeta,
    ToolOutputRecord,
    save_cassette,
    utc_now,
)
from voxray.actors.cassette.redaction import CassetteScrubber, known_secrets

__all__ = ["AUDIO_FIELDS", "CassetteRecorder", "save_recording"]

AUDIO_FIELDS: dict[tuple[bool, str], str] = {
    (True, "input_audio_buffer.append"): "audio",
    (False, "response.output_audio.delta"): "delta",
}
"""(outbound, event type) -> the field whose base64 is audio, moved to the raw files."""


class CassetteRecorder:
    """A :class:`~voxray.actors.realtime.frame_tap.FrameTap` that keeps every frame.

    Args:
        clock: monotonic seconds (injected for tests).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._t0: float | None = None
        self._connection = -1
        self._url = ""
        self._headers: dict[str, str] = {}
        self._raw: list[tuple[float, bool, int, str | bytes]] = []

    @property
    def frames_seen(self) -> int:
        """Frames recorded so far."""
        return len(self._raw)

    def opened(self, url: str, headers: Mapping[str, str]) -> None:
        if self._t0 is None:
            self._t0 = self._clock()
            self._url = url
            self._headers = dict(headers)
        self._connection += 1

    def frame(self, outbound: bool, payload: str | bytes) -> None:
        t0 = self._t0
        if t0 is None:  # a frame before any open cannot happen; keep it at time 0 anyway
            self._t0 = t0 = self._clock()
        self._raw.append((self._clock() - t0, outbound, max(self._connection, 0), payload))

    def build(self, *, scenario: str, secrets: Iterable[str], speed: float = 1.0) -> Cassette:
        """The scrubbed cassette of what was recorded (audio moved to the raw buffers)."""
        scrubber = CassetteScrubber(secrets)
        client_audio = bytearray()
        server_audio = bytearray()
        frames: list[CassetteFrame] = []
        for t_s, outbound, connection, payload in self._raw:
            sink = client_audio if outbound else server_audio
            if isinstance(payload, bytes):
                frames.append(
                    CassetteFrame(t_s, outbound, connection, binary=(len(sink), len(payload)))
                )
                sink.extend(payload)
                continue
            event = _parse(payload)
            if event is None:
                frames.append(CassetteFrame(t_s, outbound, connection, text=scrubber.text(payload)))
                continue
            field = AUDIO_FIELDS.get((outbound, str(event.get("type"))))
            encoded = event.get(field) if field is not None else None
            if field is not None and isinstance(encoded, str):
                try:
                    audio = binascii.a2b_base64(encoded)
                except binascii.Error:
                    audio = None
                if audio is not None:
                    event[field] = {AUDIO_REF: [len(sink), len(audio)]}
                    sink.extend(audio)
            frames.append(CassetteFrame(t_s, outbound, connection, event=scrubber.value(event)))
        session = _first_session(frames)
        meta = CassetteMeta(
            recorded_at=utc_now(),
            scenario=scenario,
            model=_query_value(self._url, "model"),
            url=scrubber.text(self._url.split("?", 1)[0]),
            headers=scrubber.headers(self._headers),
            speed=speed,
            connections=self._connection + 1,
            session=session,
            tool_outputs=_tool_outputs(frames),
            input_format=_audio_format(session, "input"),
            output_format=_audio_format(session, "output"),
            frames=len(frames),
        )
        return Cassette(meta, frames, bytes(client_audio), bytes(server_audio))


async def save_recording(
    recorder: CassetteRecorder,
    directory: Path,
    *,
    api_key: str,
    speed: float = 1.0,
    scenario: str | None = None,
) -> Path:
    """Build ``recorder``'s cassette, scrubbed of ``api_key`` and this process's secrets, and
    write it to ``directory`` (named ``scenario``, default the directory's name), off the event
    loop: a host actor may be running other conversations.

    Raises:
        CassetteRefusedError: a secret would still be in it (nothing is written).
        CassetteError: the directory cannot be written.
    """

    def build_and_save() -> Path:
        secrets = known_secrets(api_key)
        name = scenario or directory.name
        cassette = recorder.build(scenario=name, secrets=secrets, speed=speed)
        return save_cassette(cassette, directory, secrets)

    return await asyncio.to_thread(build_and_save)


def _parse(payload: str) -> dict[str, Any] | None:
    try:
        event = json.loads(payload)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _query_value(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


def _first_session(frames: list[CassetteFrame]) -> dict[str, Any] | None:
    for frame in frames:
        if frame.outbound and frame.event is not None and frame.type == "session.update":
            session = frame.event.get("session")
            return session if isinstance(session, dict) else None
    return None


def _audio_format(session: dict[str, Any] | None, direction: str) -> dict[str, Any] | None:
    try:
        found = session["audio"][direction]["format"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    return found if isinstance(found, dict) else None


def _tool_outputs(frames: list[CassetteFrame]) -> list[ToolOutputRecord]:
    """Each function call the server made, with the output the client gave back."""
    calls: dict[str, dict[str, Any]] = {}
    for frame in frames:
        event = frame.event
        if event is None:
            continue
        if not frame.outbound and frame.type == "response.function_call_arguments.done":
            call_id = str(event.get("call_id", ""))
            calls.setdefault(call_id, {"call_id": call_id}).update(
                name=event.get("name"), arguments=event.get("arguments")
            )
        elif frame.outbound and frame.type == "conversation.item.create":
            item = event.get("item")
            if isinstance(item, dict) and item.get("type") == "function_call_output":
                call_id = str(item.get("call_id", ""))
                calls.setdefault(call_id, {"call_id": call_id})["output"] = item.get("output")
    return [ToolOutputRecord.model_validate(call) for call in calls.values()]
