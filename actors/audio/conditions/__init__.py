"""Caller conditions: seeded, documented transforms of the user's audio before the session
hears it — background noise at an SNR, a telephone line, packet loss, a cheap microphone, and
the caller's voice, rate and pitch.

A :class:`CallerCondition` is a pydantic model a suite can write inline; :data:`PRESETS`
names the common ones (``clean``, ``phone``, ``noisy-cafe``, ``bad-mic``, ...). In a session
actor, :meth:`CallerCondition.line` builds the stream transform the simulated microphone
runs every chunk through, so the provider's VAD and transcription hear the degraded audio and
the recording keeps it.
"""

from voxray.actors.audio.conditions.cheap_mic import MicrophoneConfig
from voxray.actors.audio.conditions.condition import CallerCondition, CallerLine
from voxray.actors.audio.conditions.noise import NoiseConfig, active_speech_power
from voxray.actors.audio.conditions.packet_loss import PacketLossConfig
from voxray.actors.audio.conditions.presets import CLEAN, PRESETS
from voxray.actors.audio.conditions.speaker import SpeakerConfig, SpokenVoice
from voxray.actors.audio.conditions.telephone import TelephoneConfig

__all__ = [
    "CLEAN",
    "PRESETS",
    "CallerCondition",
    "CallerLine",
    "MicrophoneConfig",
    "NoiseConfig",
    "PacketLossConfig",
    "SpeakerConfig",
    "SpokenVoice",
    "TelephoneConfig",
    "active_speech_power",
]
