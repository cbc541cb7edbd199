"""The conversation's events for consumers: small frozen dataclasses, dispatched with ``match``.

These are voxray's own vocabulary, decoupled from the wire: a consumer (the scenario player, a
gateway, a Python caller iterating a session) never sees a raw server event. Times are ms on the
session's audio timeline.

Each event carries its own tag, ``type`` (``"user_speech_started"``, ...), fixed per class and
readable on the class too (``UserSpeechStarted.type``): timelines, reports and any consumer that
stores or compares events use it, never the class's name, so renaming a class changes nothing
they keep. A class variable, so it costs nothing in an event's pickle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

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

    type: ClassVar[Literal["user_speech_started"]] = "user_speech_started"

    t_ms: float
    item_id: str


@dataclass(frozen=True)
class UserSpeechEnded:
    """The server decided the user's turn ended."""

    type: ClassVar[Literal["user_speech_ended"]] = "user_speech_ended"

    t_ms: float
    item_id: str


@dataclass(frozen=True)
class UserTranscript:
    """What the server understood the user said; ``final`` once transcription completed."""

    type: ClassVar[Literal["user_transcript"]] = "user_transcript"

    t_ms: float
    item_id: str
    text: str
    final: bool


@dataclass(frozen=True)
class AgentSpeechStarted:
    """The first audio of a response is scheduled to play at ``t_ms``."""

    type: ClassVar[Literal["agent_speech_started"]] = "agent_speech_started"

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

    type: ClassVar[Literal["agent_audio"]] = "agent_audio"

    t_ms: float
    response_id: str
    samples: NDArray[np.int16]
    rate: int
    encoded: bytes = b""

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Across Ray (a live session's event stream) the audio travels once: PCM samples that
        # are the encoded bytes themselves are rebuilt from them on the other side.
        if (
            self.encoded
            and self.samples.dtype == np.int16
            and self.samples.tobytes() == self.encoded
        ):
            return (_agent_audio_from_pcm, (self.t_ms, self.response_id, self.rate, self.encoded))
        return (AgentAudio, (self.t_ms, self.response_id, self.samples, self.rate, self.encoded))


def _agent_audio_from_pcm(t_ms: float, response_id: str, rate: int, encoded: bytes) -> AgentAudio:
    return AgentAudio(t_ms, response_id, np.frombuffer(encoded, dtype=np.int16), rate, encoded)


@dataclass(frozen=True)
class AgentSpeechEnded:
    """The last scheduled audio of a response finishes playing at ``t_ms``."""

    type: ClassVar[Literal["agent_speech_ended"]] = "agent_speech_ended"

    t_ms: float
    response_id: str


@dataclass(frozen=True)
class AgentTranscript:
    """Text of the agent's speech: deltas while speaking, then ``final``."""

    type: ClassVar[Literal["agent_transcript"]] = "agent_transcript"

    t_ms: float
    response_id: str
    text: str
    final: bool


@dataclass(frozen=True)
class Interrupted:
    """The user barged in: playback was cleared and the response cancelled."""

    type: ClassVar[Literal["interrupted"]] = "interrupted"

    t_ms: float
    response_id: str | None
    played_ms: int
    dropped_ms: float


@dataclass(frozen=True)
class ToolCallStarted:
    """The model called a function."""

    type: ClassVar[Literal["tool_call_started"]] = "tool_call_started"

    t_ms: float
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolCallFinished:
    """A function call ended (successfully or with an error output)."""

    type: ClassVar[Literal["tool_call_finished"]] = "tool_call_finished"

    t_ms: float
    outcome: ToolOutcome
    arguments: str


@dataclass(frozen=True)
class ResponseFinished:
    """A response ended; ``status`` is completed, cancelled, incomplete or failed."""

    type: ClassVar[Literal["response_finished"]] = "response_finished"

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

    type: ClassVar[Literal["dtmf_received"]] = "dtmf_received"

    t_ms: float
    digit: str
    received_at: float


@dataclass(frozen=True)
class ErrorOccurred:
    """Something went wrong; ``fatal`` errors end the session."""

    type: ClassVar[Literal["error_occurred"]] = "error_occurred"

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
