"""The stereo recording: what each side said, where it said it, as a listener heard it."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from voxray.actors.conversation.recorder import StereoRecorder

RATE = 1_000  # one sample per millisecond keeps the expected arrays readable


def _frames(recorder: StereoRecorder) -> NDArray[np.int16]:
    recording = recorder.to_recording()
    return np.frombuffer(recording.pcm, dtype=np.int16).reshape(-1, 2)


def _tone(value: int, ms: int) -> bytes:
    """``ms`` of a constant sample value, as the wire's PCM16 bytes (what the recorder keeps)."""
    return np.full(ms, value, dtype="<i2").tobytes()


def test_frames_land_on_the_timeline_of_their_side() -> None:
    recorder = StereoRecorder(RATE)
    for index in range(50):  # a microphone: 20 ms frames back to back
        recorder.add_user(_tone(index, 20), at_ms=index * 20)
    recorder.add_agent(_tone(-5, 100), at_ms=300)
    recorder.add_agent(_tone(-6, 100), at_ms=400)  # continues the first reply
    recorder.add_agent(_tone(-7, 50), at_ms=1_200)  # after a gap of silence

    frames = _frames(recorder)

    assert len(frames) == 1_250
    assert frames[:1_000, 0].tolist() == [ms // 20 for ms in range(1_000)]
    assert not frames[1_000:, 0].any()
    expected_agent = np.zeros(1_250, dtype=np.int16)
    expected_agent[300:400], expected_agent[400:500], expected_agent[1_200:] = -5, -6, -7
    assert np.array_equal(frames[:, 1], expected_agent)


def test_overlapping_audio_is_mixed_and_saturates() -> None:
    recorder = StereoRecorder(RATE)
    recorder.add_agent(_tone(30_000, 100), at_ms=0)
    recorder.add_agent(_tone(30_000, 100), at_ms=50)
    recorder.add_agent(_tone(-100, 10), at_ms=0)

    agent = _frames(recorder)[:, 1]

    assert agent[:10].tolist() == [29_900] * 10
    assert agent[10:50].tolist() == [30_000] * 40
    assert agent[50:100].tolist() == [32_767] * 50  # clipped, not wrapped around
    assert agent[100:150].tolist() == [30_000] * 50


def test_barge_in_cut_keeps_only_what_was_heard() -> None:
    recorder = StereoRecorder(RATE)
    for index in range(10):
        recorder.add_agent(_tone(index + 1, 20), at_ms=index * 20)
    recorder.add_agent(_tone(99, 20), at_ms=400)  # queued after a pause: never played
    recorder.add_user(_tone(1, 20), at_ms=0)

    recorder.cut_agent(from_ms=70)
    recorder.add_agent(_tone(42, 30), at_ms=70)  # the next reply starts where the cut was

    agent = _frames(recorder)[:, 1]

    assert len(agent) == 100
    assert agent[:70].tolist() == [ms // 20 + 1 for ms in range(70)]
    assert agent[70:].tolist() == [42] * 30


def test_an_empty_conversation_records_nothing() -> None:
    recorder = StereoRecorder(RATE)
    recorder.add_user(b"", at_ms=0)

    recording = recorder.to_recording()

    assert recording.pcm == b""
    assert recording.duration_s == 0.0
