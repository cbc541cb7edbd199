"""The conversation's events for consumers: small frozen dataclasses, dispatched with ``match``.

These are voxray's own vocabulary, decoupled from the wire: a consumer (the scenario player, a
gateway, a Python caller iterating a session) never sees a raw server event. Times are ms on the
session's audio timeline.

Each event carries its own tag, ``type`` (``"user_speech_started"``, ...; also readable on the
class, ``UserSpeechStarted.type``): timelines, reports and any consumer that stores or compares
events use it, never the class's name, so renaming a class changes nothing they keep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from voxray.actors.tools.outcome import ToolOutcome

__all__ = [
    "AgentAudio",
    "AgentSpeechEnded",
    "AgentSpeechStarted",
    "AgentTranscript",
    "ConversationEvent",
    "DtmfReceived",
    "ErrorOccurred",
    "Interrupted",
    "ResponseFinished",
    "ToolCallFinished",
    "ToolCallStarted",
    "UserSpeechEnded",
    "UserSpeechStarted",
    "UserTranscript",
]


@dataclass(frozen=True)
class UserSpeechStarted:
    """The server heard the user start speaking."""

    type: Literal["user_speech_started"] = field(
        default="user_speech_started", init=False, repr=False
    )

    t_ms: float
    item_id: str


@dataclass(frozen=True)
class UserSpeechEnded:
    """The server decided the user's turn ended."""

    type: Literal["user_speech_ended"] = field(default="user_speech_ended", init=False, repr=False)

    t_ms: float
    item_id: str


@dataclass(frozen=True)
class UserTranscript:
    """What the server understood the user said; ``final`` once transcription completed."""

    type: Literal["user_transcript"] = field(default="user_transcript", init=False, repr=False)

    t_ms: float
    item_id: str
    text: str
    final: bool


@dataclass(frozen=True)
class AgentSpeechStarted:
    """The first audio of a response is scheduled to play at ``t_ms``."""

    type: Literal["agent_speech_started"] = field(
        default="agent_speech_started", init=False, repr=False
    )

    t_ms: float
    response_id: str


@dataclass(frozen=True)
class AgentAudio:
    """A chunk of agent audio, to play from ``t_ms``.

    ``samples`` (read-only) are at ``rate``: the consumer's rate for PCM, the wire's 8 kHz for
    a G.711 session (never resampled). ``encoded`` is the chunk exactly as the provider sent
    it, in the session's output encoding: a telephone bridge forwards those μ-law bytes to the
    phone line untouched.
    """

    type: Literal["agent_audio"] = field(default="agent_audio", init=False, repr=False)

    t_ms: float
    response_id: str
    samples: NDArray[np.int16]
    rate: int
    encoded: bytes = b""


@dataclass(frozen=True)
class AgentSpeechEnded:
    """The last scheduled audio of a response finishes playing at ``t_ms``."""

    type: Literal["agent_speech_ended"] = field(
        default="agent_speech_ended", init=False, repr=False
    )

    t_ms: float
    response_id: str


@dataclass(frozen=True)
class AgentTranscript:
    """Text of the agent's speech: deltas while speaking, then ``final``."""

    type: Literal["agent_transcript"] = field(default="agent_transcript", init=False, repr=False)

    t_ms: float
    response_id: str
    text: str
    final: bool


@dataclass(frozen=True)
class Interrupted:
    """The user barged in: playback was cleared and the response cancelled."""

    type: Literal["interrupted"] = field(default="interrupted", init=False, repr=False)

    t_ms: float
    response_id: str | None
    played_ms: int
    dropped_ms: float


@dataclass(frozen=True)
class ToolCallStarted:
    """The model called a function."""

    type: Literal["tool_call_started"] = field(default="tool_call_started", init=False, repr=False)

    t_ms: float
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolCallFinished:
    """A function call ended (successfully or with an error output)."""

    type: Literal["tool_call_finished"] = field(
        default="tool_call_finished", init=False, repr=False
    )

    t_ms: float
    outcome: ToolOutcome
    arguments: str


@dataclass(frozen=True)
class ResponseFinished:
    """A response ended; ``status`` is completed, cancelled, incomplete or failed."""

    type: Literal["response_finished"] = field(default="response_finished", init=False, repr=False)

    t_ms: float
    response_id: str
    status: str
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class DtmfReceived:
    """The caller pressed a key on a SIP call (``0-9``, ``*``, ``#``).

    For the record only: the provider passes the digit to the model as text itself.
    ``received_at`` is the provider's unix time of the key press.
    """

    type: Literal["dtmf_received"] = field(default="dtmf_received", init=False, repr=False)

    t_ms: float
    digit: str
    received_at: float


@dataclass(frozen=True)
class ErrorOccurred:
    """Something went wrong; ``fatal`` errors end the session."""

    type: Literal["error_occurred"] = field(default="error_occurred", init=False, repr=False)

    t_ms: float
    message: str
    code: str | None
    fatal: bool


ConversationEvent = (
    UserSpeechStarted
    | UserSpeechEnded
    | UserTranscript
    | AgentSpeechStarted
    | AgentAudio
    | AgentSpeechEnded
    | AgentTranscript
    | Interrupted
    | ToolCallStarted
    | ToolCallFinished
    | ResponseFinished
    | DtmfReceived
    | ErrorOccurred
)
