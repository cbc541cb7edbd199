"""What a replayed client must send, and the first thing it sent otherwise.

From one recorded connection, :class:`ReplayExpectations` derives the client's control frames
in order (everything but audio) with the input audio sent before each, and for every server
frame what it waited for: how many client control frames, how much input audio, and the
recorded gap since the last of them. :class:`ClientChecker` then follows a live client.

Tolerated, by design (the README lists them):

- ids: ``event_id`` anywhere is ignored; ids the server issued (items, responses, calls, the
  session) are compared through the per-connection rewrite, ids the client made up are not
  compared;
- timing: frames may come at other times; only their order is checked;
- audio chunking and silence: appends may be cut differently, and a continuous microphone
  sends as much silence as the wait lasted; what is compared before each control frame is the
  length of *voiced* input audio (:mod:`.voiced`), within ``speech_tolerance`` of the recorded
  length, at least ``speech_slack_s`` seconds;
- ``conversation.item.truncate.audio_end_ms`` within ``truncate_tolerance_ms`` (it is where
  playback was when the user interrupted, a matter of timing).

Everything else in a control frame must be equal: the event type and order, the session config,
the items (text, tool outputs), ``response.create``'s options.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from voxray.actors.cassette.format import AUDIO_REF, Cassette, CassetteFrame
from voxray.actors.cassette.voiced import VoicedMeter

__all__ = [
    "ID_KEYS",
    "ClientChecker",
    "Divergence",
    "ReplayExpectations",
    "ServerStep",
    "Tolerances",
    "first_difference",
]

ID_KEYS: Final = frozenset(
    {"id", "item_id", "response_id", "call_id", "previous_item_id", "conversation_id"}
)
"""Fields holding server-issued ids, rewritten per replayed connection."""
_IGNORED_KEYS: Final = frozenset({"event_id"})
_CLIENT_ID: Final = "<client id>"
_SHOWN_CHARS: Final = 80


@dataclass(frozen=True)
class Tolerances:
    """How far a replayed client may depart from the recording and still match."""

    speech_tolerance: float = 0.2
    """Share of the recorded voiced input audio the replayed one may differ by..."""
    speech_slack_s: float = 0.5
    """...but never less than this many seconds of it."""
    gate_slack_s: float = 1.5
    """A server frame recorded after N bytes of input audio goes out once the client sent
    N minus this many seconds of audio (or minus ``gate_tolerance`` of N, if more)."""
    gate_tolerance: float = 0.25
    truncate_tolerance_ms: float = 1000.0


@dataclass(frozen=True)
class Divergence:
    """The first place a replayed client departed from its cassette."""

    frame_index: int | None
    """The recorded frame it concerns (its line in frames.jsonl, from 0)."""
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ServerStep:
    """A recorded server frame and what it waited for."""

    index: int
    frame: CassetteFrame
    controls_before: int
    """Client control frames recorded before it."""
    audio_before: int
    """Input audio bytes recorded before it."""
    voiced_before: int
    """Voiced input audio bytes recorded before it."""
    anchor_t_s: float
    """Recorded time of the last client control frame before it (0: the connection's open)."""


def _audio_bytes(frame: CassetteFrame) -> int:
    if frame.binary is not None:
        return frame.binary[1]
    if frame.event is not None and frame.type == "input_audio_buffer.append":
        ref = frame.event.get("audio")
        if isinstance(ref, dict) and AUDIO_REF in ref:
            return int(ref[AUDIO_REF][1])
    return 0


def _audio_of(cassette: Cassette, frame: CassetteFrame) -> bytes:
    if frame.binary is not None:
        return cassette.audio_of(frame, frame.binary)
    ref = frame.event.get("audio") if frame.event is not None else None
    if isinstance(ref, dict) and AUDIO_REF in ref:
        offset, length = ref[AUDIO_REF]
        return cassette.audio_of(frame, (int(offset), int(length)))
    return b""


def is_client_audio(frame: CassetteFrame) -> bool:
    """Whether a client frame is input audio (an append or a binary frame)."""
    return frame.binary is not None or frame.type == "input_audio_buffer.append"


class ReplayExpectations:
    """The recorded connection ``connection`` of ``cassette``, as a replay needs it."""

    def __init__(self, cassette: Cassette, connection: int = 0) -> None:
        self.cassette = cassette
        self.controls: list[tuple[int, CassetteFrame, int]] = []
        """(frame index, frame, voiced input audio bytes recorded before it) of each control
        frame."""
        self.server: list[ServerStep] = []
        self.recorded_ids: set[str] = set()
        self.meter = VoicedMeter(cassette.meta.input_format)
        audio = 0
        voiced = 0
        anchor = 0.0
        for index, frame in enumerate(cassette.frames):
            if frame.connection != connection:
                continue
            if frame.outbound:
                if is_client_audio(frame):
                    audio += _audio_bytes(frame)
                    voiced += self.meter.voiced_bytes(_audio_of(cassette, frame))
                else:
                    self.controls.append((index, frame, voiced))
                    anchor = frame.t_s
                continue
            step = ServerStep(index, frame, len(self.controls), audio, voiced, anchor)
            self.server.append(step)
            if frame.event is not None:
                _collect_ids(frame.event, self.recorded_ids)
        self.total_audio = audio
        self.total_voiced = voiced
        self.bytes_per_s = _bytes_per_second(cassette.meta.input_format)

    def seconds(self, audio_bytes: int) -> float:
        """Input audio bytes as seconds."""
        return audio_bytes / self.bytes_per_s


class ClientChecker:
    """Follows what a replayed client sends and finds the first divergence."""

    def __init__(self, expected: ReplayExpectations, tolerances: Tolerances) -> None:
        self.expected = expected
        self.tolerances = tolerances
        self.controls_received = 0
        self.audio_received = 0
        self.voiced_received = 0

    def audio(self, audio: bytes) -> None:
        """Input audio came (an append's decoded bytes, or a binary frame)."""
        self.audio_received += len(audio)
        self.voiced_received += self.expected.meter.voiced_bytes(audio)

    def audio_slack(self, recorded: int) -> int:
        """How far short of ``recorded`` input audio bytes a server frame may go out."""
        tolerances = self.tolerances
        return int(
            max(
                recorded * tolerances.gate_tolerance,
                tolerances.gate_slack_s * self.expected.bytes_per_s,
            )
        )

    def speech_slack(self, recorded: int) -> int:
        """How many bytes the voiced audio before a recorded frame may differ by."""
        tolerances = self.tolerances
        return int(
            max(
                recorded * tolerances.speech_tolerance,
                tolerances.speech_slack_s * self.expected.bytes_per_s,
            )
        )

    def control(self, event: dict[str, Any], id_back: Mapping[str, str]) -> Divergence | None:
        """A client control frame came; None when it matches the next recorded one."""
        expected = self.expected
        position = self.controls_received
        kind = str(event.get("type"))
        if position >= len(expected.controls):
            return Divergence(
                None,
                f"the client sent {kind} after the last client frame of the recording "
                f"({len(expected.controls)} recorded)",
            )
        index, frame, voiced_before = expected.controls[position]
        self.controls_received += 1
        where = f"recorded frame #{index} (client {frame.type} at {frame.t_s:.2f} s)"
        if kind != frame.type:
            return Divergence(index, f"{where}: the client sent {kind} instead")
        difference = first_difference(
            _canonical(frame.event, None, expected.recorded_ids),
            _canonical(event, id_back, expected.recorded_ids),
            tolerances=self.tolerances,
        )
        if difference is not None:
            return Divergence(index, f"{where}: {difference}")
        gap = self.voiced_received - voiced_before
        if abs(gap) > self.speech_slack(voiced_before):
            return Divergence(
                index,
                f"{where}: the client had sent {expected.seconds(self.voiced_received):.2f} s "
                f"of voiced input audio before it, {expected.seconds(voiced_before):.2f} s "
                "recorded",
            )
        return None

    def missing(self) -> Divergence | None:
        """The next recorded client control frame not sent yet, as a divergence (or None)."""
        expected = self.expected
        if self.controls_received >= len(expected.controls):
            return None
        index, frame, _ = expected.controls[self.controls_received]
        return Divergence(
            index,
            f"recorded frame #{index} (client {frame.type} at {frame.t_s:.2f} s): "
            "the client never sent it",
        )


def first_difference(
    recorded: Any, got: Any, *, tolerances: Tolerances = Tolerances(), path: str = ""
) -> str | None:
    """The first place ``got`` differs from ``recorded`` (``path: recorded X, got Y``)."""
    if isinstance(recorded, dict) and isinstance(got, dict):
        for key in list(recorded) + [k for k in got if k not in recorded]:
            here = f"{path}.{key}" if path else str(key)
            if key not in got:
                return f"{here} is missing (recorded {_show(recorded[key])})"
            if key not in recorded:
                return f"{here} was not recorded (got {_show(got[key])})"
            if key == "audio_end_ms" and _close(recorded[key], got[key], tolerances):
                continue
            found = first_difference(recorded[key], got[key], tolerances=tolerances, path=here)
            if found is not None:
                return found
        return None
    if isinstance(recorded, list) and isinstance(got, list):
        for position, (left, right) in enumerate(zip(recorded, got, strict=False)):
            found = first_difference(left, right, tolerances=tolerances, path=f"{path}[{position}]")
            if found is not None:
                return found
        if len(recorded) != len(got):
            return f"{path or 'the frame'}: {len(got)} entries, {len(recorded)} recorded"
        return None
    if recorded != got:
        if isinstance(recorded, str) and isinstance(got, str):
            recorded, got = _around_first_change(recorded, got)
        return f"{path or 'the frame'}: recorded {_show(recorded)}, got {_show(got)}"
    return None


def _around_first_change(recorded: str, got: str) -> tuple[str, str]:
    """Both strings cut to start a little before their first difference (long texts)."""
    if len(recorded) <= _SHOWN_CHARS and len(got) <= _SHOWN_CHARS:
        return recorded, got
    at = next(
        (i for i, (a, b) in enumerate(zip(recorded, got, strict=False)) if a != b),
        min(len(recorded), len(got)),
    )
    start = max(0, at - 20)
    prefix = "…" if start else ""
    return prefix + recorded[start:], prefix + got[start:]


def _close(recorded: Any, got: Any, tolerances: Tolerances) -> bool:
    if isinstance(recorded, int | float) and isinstance(got, int | float):
        return abs(recorded - got) <= tolerances.truncate_tolerance_ms
    return False


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _canonical(value: Any, id_back: Mapping[str, str] | None, recorded_ids: set[str]) -> Any:
    """``value`` with event ids dropped and ids in their recorded form (client ids blanked).

    ``id_back`` maps this connection's ids to the recorded ones (None: ``value`` is recorded).
    """
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in _IGNORED_KEYS:
                continue
            if key in ID_KEYS and isinstance(item, str):
                recorded = item if id_back is None else id_back.get(item, item)
                out[key] = recorded if recorded in recorded_ids else _CLIENT_ID
            else:
                out[key] = _canonical(item, id_back, recorded_ids)
        return out
    if isinstance(value, list):
        return [_canonical(item, id_back, recorded_ids) for item in value]
    return value


def _collect_ids(value: Any, into: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ID_KEYS and isinstance(item, str):
                into.add(item)
            else:
                _collect_ids(item, into)
    elif isinstance(value, list):
        for item in value:
            _collect_ids(item, into)


def _bytes_per_second(input_format: Mapping[str, Any] | None) -> float:
    """Input audio bytes per second: PCM16 at its rate (24 kHz default), G.711 at 8 kHz."""
    if input_format is None:
        return 48_000.0
    kind = str(input_format.get("type", "audio/pcm"))
    rate = float(input_format.get("rate", 8_000 if kind != "audio/pcm" else 24_000))
    return rate if kind in ("audio/pcmu", "audio/pcma") else rate * 2
