"""Call records: what each call did, appended to a JSONL file as the call ends.

One line per call (the schema is :class:`CallRecord`), written with one ``write`` of a whole line
under an ``O_APPEND`` descriptor, so gateways on one machine can share a file and a reader never
sees half a record. ``voxray calls`` lists them.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from voxray.actors.conversation.result import TokenUsage, ToolCallRecord

__all__ = ["CallRecord", "CallRecordWriter", "CallTurn", "DtmfRecord", "TranscriptLine"]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class TranscriptLine(_Record):
    """One final transcript: who said it, when (ms since the call was answered), what."""

    role: Literal["caller", "agent"]
    t_ms: float
    text: str


class CallTurn(_Record):
    """One exchange: the caller stops speaking, the agent answers."""

    index: int
    caller_text: str | None = None
    agent_text: str = ""
    caller_speech_end_ms: float | None = None
    agent_audio_start_ms: float | None = None
    latency_ms: float | None = Field(
        None, description="Caller speech end to the agent's first audio."
    )
    interrupted: bool = Field(False, description="The caller barged in on this answer.")


class DtmfRecord(_Record):
    """A keypad digit the caller pressed."""

    t_ms: float
    digit: str


class CallRecord(_Record):
    """One call, as it ended."""

    call_id: str
    ingress: str
    agent: str
    caller: str = Field(description="The caller's number, or `browser`/an address.")
    called: str | None = Field(None, description="The number called, when known.")
    started_at: str = Field(description="ISO 8601 UTC.")
    duration_s: float
    status: Literal["completed", "failed", "lost"]
    end_reason: str = Field(description="hangup, drain deadline, error, max duration, ...")
    error: str | None = None
    first_agent_audio_ms: float | None = Field(
        None, description="Arrival to the first agent audio sent to the caller."
    )
    transcript: tuple[TranscriptLine, ...] = ()
    turns: tuple[CallTurn, ...] = ()
    tool_calls: tuple[ToolCallRecord, ...] = ()
    barge_ins: int = 0
    dtmf: tuple[DtmfRecord, ...] = ()
    usage: TokenUsage = Field(default_factory=TokenUsage)
    audio_in_min: float = 0.0
    audio_out_min: float = 0.0
    cost_usd: float = Field(0.0, description="Audio minutes in + out at xAI's $0.05/min.")
    recording: str | None = Field(
        None,
        description="The stereo WAV (caller left, agent right), when recordings are kept. "
        "Always None for SIP calls: their audio goes between the phone network and xAI, never "
        "through voxray.",
    )


class CallRecordWriter:
    """Appends records to one JSONL file (parents created); ``None`` path: records dropped."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.written = 0

    async def append(self, record: CallRecord) -> None:
        """Append one line, off the event loop (other calls keep their audio on time)."""
        if self.path is None:
            return
        line = (record.model_dump_json() + "\n").encode("utf-8")
        await asyncio.to_thread(self._write, line)
        self.written += 1

    def _write(self, line: bytes) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
