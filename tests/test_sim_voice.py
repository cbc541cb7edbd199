"""The simulator's voice: per-voice styles, output formats, and audio-aligned transcripts."""

from __future__ import annotations

import pytest
from voxray.actors.realtime.session_params import AudioFormat
from voxray.actors.simulator.codec import WireCodec
from voxray.actors.simulator.voice import VoiceBank, align_words, voice_style

TEXT = "Hello there! The weather in Paris is sunny today."
KNOWN_VOICES = (  # xai-sdk-ts KnownVoiceId
    "altair",
    "ara",
    "atlas",
    "aurora",
    "carina",
    "castor",
    "celeste",
    "cosmo",
    "eve",
    "helios",
    "helix",
    "iris",
    "kepler",
    "leo",
    "liora",
    "lumen",
    "luna",
    "lux",
    "naksh",
    "orion",
    "perseus",
    "rex",
    "rigel",
    "sal",
    "sirius",
    "ursa",
    "zagan",
    "zenith",
)


def test_classic_voices_differ_and_echo_prefix_and_case_are_ignored() -> None:
    styles = {voice_style(name) for name in ("ara", "rex", "sal", "eve", "leo")}
    assert len(styles) == 5
    assert voice_style("xai_ara") == voice_style("Ara") == voice_style("ara")
    assert voice_style("ara").pitch > voice_style("rex").pitch
    assert "+f" in voice_style("eve").espeak_voice


@pytest.mark.parametrize(
    ("fmt", "bytes_per_ms"),
    [
        (AudioFormat(type="audio/pcm", rate=24000), 48),
        (AudioFormat(type="audio/pcm", rate=16000), 32),
        (AudioFormat(type="audio/pcm", rate=48000), 96),
        (AudioFormat(type="audio/pcmu"), 8),
        (AudioFormat(type="audio/pcma"), 8),
    ],
)
async def test_render_chunks_audio_in_the_output_format(
    fmt: AudioFormat, bytes_per_ms: int
) -> None:
    utterance = await VoiceBank(chunk_ms=40).render(TEXT, "ara", WireCodec.of(fmt))
    assert utterance.duration_ms > 1500
    assert all(len(c.audio) == 40 * bytes_per_ms for c in utterance.chunks[:-1])
    total_bytes = sum(len(c.audio) for c in utterance.chunks)
    assert total_bytes / bytes_per_ms == pytest.approx(utterance.duration_ms, abs=1)


async def test_transcript_deltas_rebuild_the_text_and_ride_with_their_words() -> None:
    utterance = await VoiceBank(chunk_ms=40).render(TEXT, "eve", WireCodec.of(None))
    assert "".join(c.transcript_delta for c in utterance.chunks) == TEXT
    with_text = [c for c in utterance.chunks if c.transcript_delta]
    assert with_text[0].start_ms == 0
    # Words are spread across the audio, not dumped in the first chunk.
    assert with_text[-1].start_ms > utterance.duration_ms / 2
    assert utterance.transcript_until(0) == ""
    assert utterance.transcript_until(utterance.duration_ms + 1) == TEXT
    middle = utterance.transcript_until(utterance.duration_ms / 2)
    assert TEXT.startswith(middle) and 0 < len(middle) < len(TEXT)


async def test_every_known_voice_id_renders() -> None:
    bank = VoiceBank(chunk_ms=100)
    for name in KNOWN_VOICES:
        utterance = await bank.render("Hi.", name, WireCodec.of(None))
        assert utterance.duration_ms > 100, name


async def test_renders_are_cached() -> None:
    bank = VoiceBank(chunk_ms=40, cache_size=1)
    first = await bank.render(TEXT, "ara", WireCodec.of(None))
    assert await bank.render(TEXT, "xai_ara", WireCodec.of(None)) is first
    await bank.render("Something else.", "ara", WireCodec.of(None))
    assert await bank.render(TEXT, "ara", WireCodec.of(None)) is not first


def test_align_words_without_marks_spreads_words_over_the_duration() -> None:
    words = align_words("one two three", [], 1300.0)
    assert [offset for _, offset in words] == [0, 4, 8]
    assert [round(start) for start, _ in words] == [0, 400, 800]
