"""Named caller conditions, ready to use from a suite or ``voxray eval --conditions``.

========================  ===================================================================
preset                    what the caller sounds like
========================  ===================================================================
``clean``                 the scripted audio untouched (what runs without a condition)
``phone``                 an 8 kHz μ-law phone line, 300-3400 Hz, 1 % packets lost (concealed)
``noisy-cafe``            café babble (six espeak-ng talkers) 10 dB below the caller
``noisy-street``          brown (traffic) noise 10 dB below the caller
``bad-mic``               a cheap capsule's response, 12 dB too much gain clipping at -6 dBFS,
                          hiss 35 dB down
``bad-network``           8 % of 20 ms packets lost in bursts of 3, concealed
``fast-talker``           every turn spoken 1.5x faster
``accented``              a Scottish English voice (espeak-ng ``en-gb-scotland``)
========================  ===================================================================
"""

from __future__ import annotations

from voxray.actors.audio.conditions.cheap_mic import MicrophoneConfig
from voxray.actors.audio.conditions.condition import CallerCondition
from voxray.actors.audio.conditions.noise import NoiseConfig
from voxray.actors.audio.conditions.packet_loss import PacketLossConfig
from voxray.actors.audio.conditions.speaker import SpeakerConfig
from voxray.actors.audio.conditions.telephone import TelephoneConfig

__all__ = ["CLEAN", "PRESETS"]

CLEAN = "clean"
"""The name of the condition that changes nothing; runs under it are named as plain runs."""

PRESETS: dict[str, CallerCondition] = {
    condition.name: condition
    for condition in (
        CallerCondition(name=CLEAN, description="the scripted audio untouched"),
        CallerCondition(
            name="phone",
            description="8 kHz μ-law phone line, 300-3400 Hz, 1% packet loss (concealed)",
            telephone=TelephoneConfig(codec="mulaw"),
            packet_loss=PacketLossConfig(rate=0.01, burst_frames=1.5, concealment="repeat"),
        ),
        CallerCondition(
            name="noisy-cafe",
            description="café babble (six talkers) at 10 dB SNR",
            noise=NoiseConfig(kind="babble", snr_db=10.0, talkers=6),
        ),
        CallerCondition(
            name="noisy-street",
            description="brown (traffic) noise at 10 dB SNR",
            noise=NoiseConfig(kind="brown", snr_db=10.0),
        ),
        CallerCondition(
            name="bad-mic",
            description="cheap capsule, +12 dB gain clipping at -6 dBFS, hiss at 35 dB SNR",
            noise=NoiseConfig(kind="white", snr_db=35.0),
            microphone=MicrophoneConfig(response="cheap", gain_db=12.0, clip_dbfs=-6.0),
        ),
        CallerCondition(
            name="bad-network",
            description="8% of 20 ms packets lost in bursts of 3 (concealed)",
            packet_loss=PacketLossConfig(rate=0.08, burst_frames=3.0, concealment="repeat"),
        ),
        CallerCondition(
            name="fast-talker",
            description="every turn spoken 1.5x faster",
            speaker=SpeakerConfig(rate_factor=1.5),
        ),
        CallerCondition(
            name="accented",
            description="Scottish English voice (espeak-ng en-gb-scotland)",
            speaker=SpeakerConfig(voice="en-gb-scotland"),
        ),
    )
}
"""Built-in conditions by name."""
