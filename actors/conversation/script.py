"""What the simulated user does in a scenario: a list of turns, played in order.

A session actor receives a :class:`ScenarioScript` and plays it against the agent. Audio paths
are resolved (relative to the suite file) by the driver before the script is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from voxray.actors.audio.conditions import CallerCondition
from voxray.actors.conversation.caller import CallerSpec

__all__ = [
    "AudioTurn",
    "BackchannelTurn",
    "BargeInTurn",
    "SayTurn",
    "ScenarioScript",
    "TextTurn",
    "UserTurn",
    "WaitTurn",
]


class _Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SayTurn(_Turn):
    """Speak ``say`` with espeak-ng, then listen to the agent's reply."""

    say: str = Field(min_length=1, description="Text the user speaks.")
    voice: str = Field("en-us", description="espeak-ng voice of the user.")
    words_per_minute: int = Field(175, ge=80, le=450, description="Speaking rate.")


class AudioTurn(_Turn):
    """Play a WAV file (any rate, any channel count), then listen to the agent's reply."""

    audio: Path = Field(description="WAV file, resolved relative to the suite file.")


class TextTurn(_Turn):
    """Type a message (no audio), then listen to the agent's reply."""

    text: str = Field(min_length=1)


class BargeInTurn(_Turn):
    """Interrupt the agent: speak ``barge_in`` once the agent's reply to the previous turn has
    been playing for ``after_ms``. The agent should stop talking and answer this instead."""

    barge_in: str = Field(min_length=1, description="Text the user speaks over the agent.")
    after_ms: int = Field(500, ge=0, le=60_000, description="Offset into the agent's reply.")
    voice: str = Field("en-us", description="espeak-ng voice of the user.")
    words_per_minute: int = Field(175, ge=80, le=450, description="Speaking rate.")


class BackchannelTurn(_Turn):
    """Say a short acknowledgement (``uh-huh``, ``right``, ``mm-hmm``) over the agent once its
    reply to the previous turn has played for ``after_ms``. The agent should *not* stop: a
    false interruption if it does (``expect.max_false_interruptions``). Whether the provider's
    VAD hears it at all is its threshold's call against the sound's level (``level_db``)."""

    backchannel: str = Field(min_length=1, description="What the user murmurs over the agent.")
    after_ms: int = Field(800, ge=0, le=60_000, description="Offset into the agent's reply.")
    level_db: float = Field(
        0.0, ge=-40, le=0, description="Loudness relative to normal speech (-20: mumbled)."
    )
    voice: str = Field("en-us", description="espeak-ng voice of the user.")
    words_per_minute: int = Field(175, ge=80, le=450, description="Speaking rate.")


class WaitTurn(_Turn):
    """Stay silent (the microphone keeps sending silence) for ``wait_ms``."""

    wait_ms: int = Field(ge=0, le=600_000)


UserTurn = SayTurn | AudioTurn | TextTurn | WaitTurn | BargeInTurn | BackchannelTurn


class ScenarioScript(_Turn):
    """The user's side of one conversation: scripted ``turns``, or a simulated ``caller``."""

    turns: tuple[UserTurn, ...] = Field(
        (), description="The user's turns, in order (none when a `caller` plays the user)."
    )
    caller: CallerSpec | None = Field(
        None, description="A simulated caller with a goal plays the user instead of `turns`."
    )
    reply_timeout_s: float = Field(
        30.0, gt=0, description="Longest wait for the agent to finish answering a turn."
    )
    condition: CallerCondition | None = Field(
        None, description="How the caller sounds and what the line does to the audio."
    )
    seed: int = Field(
        0, ge=0, description="This run's seed for the condition (repeats differ, each replays)."
    )

    @model_validator(mode="after")
    def _one_user(self) -> Self:
        if not self.turns and self.caller is None:
            raise ValueError("a scenario needs `turns` or a `caller`")
        if self.turns and self.caller is not None:
            raise ValueError("a scenario has `turns` or a `caller`, not both")
        return self
