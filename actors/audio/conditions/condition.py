"""A caller condition: the whole set of transforms one scenario run's user audio goes through.

The order is the physical one: the caller speaks (``speaker``), the room adds its noise
(``noise``), the microphone colours and clips it (``microphone``), the phone network
band-limits and companders it (``telephone``) and loses packets on the way (``packet_loss``).
"""

from __future__ import annotations

import re

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator
from voxray.actors.audio.conditions.cheap_mic import MicrophoneConfig, MicrophoneStage
from voxray.actors.audio.conditions.noise import NoiseConfig, NoiseStage
from voxray.actors.audio.conditions.packet_loss import PacketLossConfig, PacketLossStage
from voxray.actors.audio.conditions.speaker import SpeakerConfig, SpokenVoice
from voxray.actors.audio.conditions.stream import Stage
from voxray.actors.audio.conditions.telephone import TelephoneConfig, TelephoneStage
from voxray.actors.audio.pcm import float_to_pcm16, pcm16_to_float

__all__ = ["CallerCondition", "CallerLine"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,60}$")


class CallerCondition(BaseModel):
    """How the caller sounds and what the line does to it; every part optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("custom", description="Names the condition in records and reports.")
    description: str = Field("", description="What the condition stands for, for humans.")
    speaker: SpeakerConfig | None = Field(None, description="Voice, rate and pitch overrides.")
    noise: NoiseConfig | None = Field(None, description="Background noise at an SNR.")
    microphone: MicrophoneConfig | None = Field(None, description="A cheap microphone.")
    telephone: TelephoneConfig | None = Field(None, description="An 8 kHz G.711 phone line.")
    packet_loss: PacketLossConfig | None = Field(None, description="Lost 20 ms packets.")
    seed: int = Field(0, ge=0, description="Base of every random choice (noise, losses).")

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"{name!r} may only use letters, digits, '-' and '_'")
        return name

    @property
    def changes_audio(self) -> bool:
        """Whether any stage transforms the audio stream (the speaker alone does not)."""
        return any((self.noise, self.microphone, self.telephone, self.packet_loss))

    def voice_for(self, voice: str, words_per_minute: int) -> SpokenVoice:
        """The synthesis settings of a turn written with this voice and rate."""
        if self.speaker is None:
            return SpokenVoice(voice=voice, words_per_minute=words_per_minute)
        return self.speaker.apply(voice, words_per_minute)

    def line(self, rate: int, seed: int = 0) -> CallerLine | None:
        """The stream transform for audio at ``rate``; None when nothing changes the audio.

        ``seed`` is mixed with :attr:`seed`: a run passes its own so that repeats differ but
        each is reproducible.
        """
        if not self.changes_audio:
            return None
        return CallerLine(self, rate, seed)


class CallerLine:
    """The condition's stages as one stream transform of int16 microphone chunks.

    Call it on every chunk in order (it keeps state: filters, the noise loop, the loss chain)
    and tell it each utterance before it is spoken (:meth:`hear_utterance`), which sets the
    noise level. Built in the actor by :meth:`CallerCondition.line`.
    """

    def __init__(self, condition: CallerCondition, rate: int, seed: int) -> None:
        base = np.random.SeedSequence([condition.seed, seed]).generate_state(1)[0]
        self.rate = rate
        self._noise = (
            NoiseStage(condition.noise, rate, int(base)) if condition.noise is not None else None
        )
        self._packet_loss = (
            PacketLossStage(condition.packet_loss, rate, int(base) + 2)
            if condition.packet_loss is not None
            else None
        )
        stages: list[Stage] = []
        if self._noise is not None:
            stages.append(self._noise)
        if condition.microphone is not None:
            stages.append(MicrophoneStage(condition.microphone, rate))
        if condition.telephone is not None:
            stages.append(TelephoneStage(condition.telephone, rate))
        if self._packet_loss is not None:
            stages.append(self._packet_loss)
        self._stages = stages

    def hear_utterance(self, samples: NDArray[np.int16]) -> None:
        """An utterance is about to be spoken: the noise level follows its speech level."""
        if self._noise is not None:
            self._noise.hear_utterance(pcm16_to_float(samples))

    def __call__(self, chunk: NDArray[np.int16]) -> NDArray[np.int16]:
        """The next chunk as the session hears it (same length)."""
        signal = pcm16_to_float(chunk)
        for stage in self._stages:
            signal = stage.process(signal)
        return float_to_pcm16(signal)
