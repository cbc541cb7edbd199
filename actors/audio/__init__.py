"""Audio for voxray: int16 PCM helpers, G.711, streaming resampling, WAV files, framing and
text to speech.

Everything inside voxray is signed 16-bit PCM in numpy arrays: mono 1-D, or interleaved /
``(frames, channels)`` where channels are stated explicitly.
"""

from voxray.actors.audio.frames import frame_samples, iter_frames, silence
from voxray.actors.audio.g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode
from voxray.actors.audio.pcm import (
    PCM16_MAX,
    PCM16_MIN,
    downmix_to_mono,
    duration_ms,
    float_to_pcm16,
    pcm16_from_bytes,
    pcm16_to_bytes,
    pcm16_to_float,
)
from voxray.actors.audio.resample import ResampleQuality, StreamResampler
from voxray.actors.audio.speech import (
    SpeechAudio,
    SpeechEngine,
    SpeechSynthesizer,
    WordMark,
    available_voices,
)
from voxray.actors.audio.wav import WavAudio, read_wav, stereo_interleave, write_wav

__all__ = [
    "PCM16_MAX",
    "PCM16_MIN",
    "ResampleQuality",
    "SpeechAudio",
    "SpeechEngine",
    "SpeechSynthesizer",
    "StreamResampler",
    "WavAudio",
    "WordMark",
    "alaw_decode",
    "alaw_encode",
    "available_voices",
    "downmix_to_mono",
    "duration_ms",
    "float_to_pcm16",
    "frame_samples",
    "iter_frames",
    "mulaw_decode",
    "mulaw_encode",
    "pcm16_from_bytes",
    "pcm16_to_bytes",
    "pcm16_to_float",
    "read_wav",
    "silence",
    "stereo_interleave",
    "write_wav",
]
