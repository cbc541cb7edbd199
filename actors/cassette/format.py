"""The cassette on disk: models, reading, and writing that refuses anything holding a secret.

Layout of one cassette directory::

    cassette.json   CassetteMeta: when, what, the session config, the tool outputs given
    frames.jsonl    one CassetteFrame a line, both directions, in the order they crossed
    client.raw      the input audio the client sent (appends and binary frames), concatenated
    server.raw      the output audio the server sent (audio deltas and binary frames)

An audio-carrying frame keeps its JSON with the base64 replaced by ``{"$audio": [offset,
length]}`` into its direction's raw file, so the audio is stored once, as audio, and a replay
rebuilds the exact frame. Times are seconds since the first connection opened (monotonic clock).

A simulated caller's run (two sessions bridged) is a folder of two cassettes, one per session:
``agent/`` and ``caller/`` (:data:`CALL_SIDES`); each replays to its own connection.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from voxray.actors.errors import VoxrayError

__all__ = [
    "AUDIO_REF",
    "CALL_SIDES",
    "CASSETTE_FILE",
    "CLIENT_AUDIO_FILE",
    "FORMAT_NAME",
    "FRAMES_FILE",
    "SERVER_AUDIO_FILE",
    "Cassette",
    "CassetteError",
    "CassetteFrame",
    "CassetteMeta",
    "CassetteRefusedError",
    "ToolOutputRecord",
    "load_cassette",
    "save_cassette",
]

FORMAT_NAME: Final = "voxray-cassette"
FORMAT_VERSION: Final = 1
CASSETTE_FILE: Final = "cassette.json"
FRAMES_FILE: Final = "frames.jsonl"
CLIENT_AUDIO_FILE: Final = "client.raw"
SERVER_AUDIO_FILE: Final = "server.raw"
CALL_SIDES: Final = ("agent", "caller")
"""The sub-cassettes of a simulated caller's run: the agent's session, the caller's session."""
AUDIO_REF: Final = "$audio"
"""The key that stands for an audio payload moved to a raw file: ``{"$audio": [offset, len]}``."""


class CassetteError(VoxrayError):
    """A cassette cannot be read or written (names the file and the cause)."""


class CassetteRefusedError(CassetteError):
    """A cassette was not written: it would have held the API key or another secret.

    ``where`` names the place (a header, a frame and its type, an audio file); the secret
    itself is never in the message.
    """

    def __init__(self, message: str, *, where: str) -> None:
        super().__init__(message, retryable=False)
        self.where = where


class ToolOutputRecord(BaseModel):
    """One function call of the recorded session and the output voxray gave back."""

    model_config = ConfigDict(frozen=True)

    call_id: str
    name: str | None = None
    arguments: str | None = None
    output: str | None = None


class CassetteMeta(BaseModel):
    """``cassette.json``: what a cassette holds, apart from the frames and the audio."""

    model_config = ConfigDict(frozen=True)

    format: Literal["voxray-cassette"] = FORMAT_NAME
    version: int = FORMAT_VERSION
    recorded_at: datetime = Field(description="When the recording ended (UTC).")
    scenario: str = Field(description="The run it recorded (the run key in results.jsonl).")
    model: str | None = Field(None, description="The model asked for (?model=).")
    url: str = Field(description="The endpoint, scrubbed of any secret in its query.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Handshake headers, the credentials redacted."
    )
    speed: float = Field(
        1.0, gt=0, description="Pacing of the recorded session (1 on xAI; the sim's speed)."
    )
    connections: int = Field(1, ge=0, description="Websocket connections (reconnects add one).")
    session: dict[str, Any] | None = Field(
        None, description="The session config of the first session.update the client sent."
    )
    tool_outputs: list[ToolOutputRecord] = Field(
        default_factory=list, description="Each function call and the output given back."
    )
    input_format: dict[str, Any] | None = Field(None, description="session.audio.input.format.")
    output_format: dict[str, Any] | None = Field(None, description="session.audio.output.format.")
    frames: int = Field(0, ge=0, description="Lines in frames.jsonl.")


@dataclass(frozen=True)
class CassetteFrame:
    """One websocket frame of a recorded session.

    Exactly one of ``event`` (a JSON frame, audio moved out), ``binary`` (a binary frame:
    offset and length in its direction's raw file) and ``text`` (a text frame that was not
    JSON, kept as text) is set.
    """

    t_s: float
    outbound: bool
    """True: the client sent it; False: the server did."""
    connection: int = 0
    event: dict[str, Any] | None = None
    binary: tuple[int, int] | None = None
    text: str | None = None

    @property
    def type(self) -> str:
        """The event's ``type``; ``<binary>`` or ``<text>`` for the others."""
        if self.event is not None:
            return str(self.event.get("type", "<untyped>"))
        return "<binary>" if self.binary is not None else "<text>"

    @property
    def side(self) -> str:
        """``client`` or ``server``."""
        return "client" if self.outbound else "server"

    def to_json(self) -> dict[str, Any]:
        line: dict[str, Any] = {"t": round(self.t_s, 4), "dir": self.side}
        if self.connection:
            line["conn"] = self.connection
        if self.event is not None:
            line["event"] = self.event
        elif self.binary is not None:
            line["binary"] = list(self.binary)
        else:
            line["text"] = self.text
        return line

    @classmethod
    def from_json(cls, line: dict[str, Any]) -> CassetteFrame:
        binary = line.get("binary")
        return cls(
            t_s=float(line["t"]),
            outbound=line["dir"] == "client",
            connection=int(line.get("conn", 0)),
            event=line.get("event"),
            binary=(int(binary[0]), int(binary[1])) if binary is not None else None,
            text=line.get("text"),
        )


@dataclass
class Cassette:
    """A recorded session in memory: its meta, its frames and the audio of each direction."""

    meta: CassetteMeta
    frames: list[CassetteFrame]
    client_audio: bytes = b""
    server_audio: bytes = b""

    def audio_of(self, frame: CassetteFrame, ref: tuple[int, int]) -> bytes:
        """The audio bytes ``ref`` (offset, length) of ``frame``'s direction."""
        offset, length = ref
        source = self.client_audio if frame.outbound else self.server_audio
        if offset < 0 or offset + length > len(source):
            raise CassetteError(
                f"a {frame.side} frame points past the end of its audio file "
                f"({offset}+{length} > {len(source)} bytes)"
            )
        return source[offset : offset + length]


def save_cassette(cassette: Cassette, directory: Path, secrets: Iterable[str]) -> Path:
    """Write ``cassette`` to ``directory`` (replacing a cassette already there, so a suite can
    be re-recorded in place); returns the directory.

    Nothing is written when any of ``secrets`` (the API key...) or anything shaped like a
    credential is still in it: the recorder scrubs as it builds, this is the last check.

    Raises:
        CassetteRefusedError: it would still hold a secret (the message says where).
        CassetteError: the directory cannot be written.
    """
    from voxray.actors.cassette.redaction import find_secret

    where = find_secret(cassette, secrets)
    if where is not None:
        raise CassetteRefusedError(
            f"cassette {cassette.meta.scenario!r} not written: {where} still holds the API key "
            "or a secret-looking value",
            where=where,
        )
    meta = cassette.meta.model_copy(update={"frames": len(cassette.frames)})
    directory = Path(directory)
    staging: Path | None = None
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
        staging.chmod(0o755)  # mkdtemp's 0700 would hide it from the rest of the team
        (staging / CASSETTE_FILE).write_text(meta.model_dump_json(indent=2) + "\n")
        with (staging / FRAMES_FILE).open("w") as out:
            for frame in cassette.frames:
                out.write(json.dumps(frame.to_json(), separators=(",", ":")) + "\n")
        (staging / CLIENT_AUDIO_FILE).write_bytes(cassette.client_audio)
        (staging / SERVER_AUDIO_FILE).write_bytes(cassette.server_audio)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(staging, directory)
    except OSError as error:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)  # no half-written cassette left behind
        raise CassetteError(f"{directory}: cannot write the cassette: {error}") from error
    return directory


def load_cassette(directory: Path) -> Cassette:
    """Read the cassette in ``directory``.

    Raises:
        CassetteError: a file is missing or malformed (named, with the line for frames).
    """
    directory = Path(directory)
    meta_path = directory / CASSETTE_FILE
    try:
        meta = CassetteMeta.model_validate_json(meta_path.read_text())
    except FileNotFoundError as error:
        raise CassetteError(f"{meta_path}: no cassette here") from error
    except (OSError, ValidationError) as error:
        first = str(error).splitlines()[0]
        raise CassetteError(f"{meta_path}: not a voxray cassette: {first}") from error
    frames: list[CassetteFrame] = []
    frames_path = directory / FRAMES_FILE
    try:
        with frames_path.open() as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    frames.append(CassetteFrame.from_json(json.loads(line)))
                except (ValueError, KeyError, TypeError, IndexError) as error:
                    raise CassetteError(
                        f"{frames_path}:{number}: malformed frame: {error}"
                    ) from error
        client_audio = (directory / CLIENT_AUDIO_FILE).read_bytes()
        server_audio = (directory / SERVER_AUDIO_FILE).read_bytes()
    except OSError as error:
        raise CassetteError(f"{directory}: cannot read the cassette: {error}") from error
    return Cassette(meta, frames, client_audio, server_audio)


def utc_now() -> datetime:
    """Now, in UTC (cassette timestamps)."""
    return datetime.now(UTC)
