"""The audio hot path: what crosses the wire, what listeners get, what the recording holds.

A scripted provider on 127.0.0.1 keeps every byte of input audio it receives and sends agent
audio deltas of known content, so each test compares exactly: the recording against the audio
as it crossed the wire (the user's side is what the server received, the agent's side what it
sent), every delta delivered once, and telephone μ-law passed through untouched both ways.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
import pytest
from aiohttp import WSMsgType, web
from numpy.typing import NDArray
from pydantic import SecretStr
from voxray.actors.audio.g711 import mulaw_decode, mulaw_encode
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.audio_paths import InputAudioPath
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.engine import Conversation
from voxray.actors.conversation.events import AgentAudio, ConversationEvent, ResponseFinished
from voxray.actors.errors import AudioError
from voxray.actors.simulator.server import Simulator
from voxray.actors.tools.executor import ToolExecutor
from voxray.actors.tools.inprocess import InProcessToolBackend

from tests.conftest import TEST_SPEED
from tests.local_websocket import serve_websocket

RECORDING_RATE = 24_000


@dataclass
class Provider:
    """A scripted realtime endpoint: answers session.update, keeps the input audio."""

    session: dict[str, object] | None = None
    received: bytearray = field(default_factory=bytearray)
    json_appends: int = 0
    binary_frames: int = 0
    ws: web.WebSocketResponse | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = self.ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type is WSMsgType.BINARY:
                self.received += message.data
                self.binary_frames += 1
            elif message.type is WSMsgType.TEXT:
                event = json.loads(message.data)
                if event["type"] == "session.update":
                    self.session = event["session"]
                    await ws.send_str('{"type":"session.updated","session":{}}')
                elif event["type"] == "input_audio_buffer.append":
                    self.received += base64.b64decode(event["audio"], validate=True)
                    self.json_appends += 1
            self.changed.set()
        return ws

    async def until_received(self, size: int) -> None:
        while len(self.received) < size:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), timeout=10)

    async def respond(self, deltas: list[bytes], *, binary: bool) -> None:
        """One response carrying ``deltas`` (raw codec bytes), as JSON deltas or binary frames."""
        assert self.ws is not None
        ws = self.ws
        await ws.send_str('{"type":"response.created","response":{"id":"resp_1"}}')
        await ws.send_str(
            '{"type":"response.output_item.added","response_id":"resp_1","output_index":0,'
            '"item":{"id":"item_1","type":"message","role":"assistant"}}'
        )
        for index, delta in enumerate(deltas):
            if binary:
                await ws.send_bytes(delta)
                continue
            # Key order and indexes vary as they do on the real service.
            frame = {"delta": base64.b64encode(delta).decode(), "item_id": "item_1"}
            frame |= {"type": "response.output_audio.delta", "response_id": "resp_1"}
            if index % 2:
                frame |= {"output_index": 0, "content_index": 0, "event_id": f"event_{index}"}
            await ws.send_str(json.dumps(frame))
        await ws.send_str(
            '{"type":"response.done","response":{"id":"resp_1","status":"completed"}}'
        )


@pytest.fixture
async def provider() -> AsyncIterator[tuple[Provider, str]]:
    fake = Provider()
    async with serve_websocket(fake.handle) as url:
        yield fake, url


class Heard:
    """Every event a listener got, and a wake-up when a response ended."""

    def __init__(self, conversation: Conversation) -> None:
        self.events: list[ConversationEvent] = []
        self.wire: list[tuple[str, str, str]] = []
        self.done = asyncio.Event()
        conversation.add_listener(self._on_event)
        conversation.add_wire_audio_listener(lambda *delta: self.wire.append(delta))

    def _on_event(self, event: ConversationEvent) -> None:
        self.events.append(event)
        if isinstance(event, ResponseFinished):
            self.done.set()

    @property
    def audio(self) -> list[AgentAudio]:
        return [e for e in self.events if isinstance(e, AgentAudio)]


def _conversation(url: str, agent: AgentConfig, append_ms: int) -> Conversation:
    return Conversation(
        agent,
        ProviderEndpoint(url=url, api_key=SecretStr("test-token")),
        EngineTuning(append_chunk_ms=append_ms, recording_rate=RECORDING_RATE),
        ToolExecutor((), InProcessToolBackend()),
        session_id="hot-path",
    )


def _channels(conversation: Conversation) -> tuple[NDArray[np.int16], NDArray[np.int16]]:
    recording = conversation.recorder.to_recording()
    assert recording.rate == RECORDING_RATE
    stereo = np.frombuffer(recording.pcm, dtype=np.int16).reshape(-1, 2)
    return stereo[:, 0], stereo[:, 1]


def _sweep(rate: int, seconds: float, seed: int) -> NDArray[np.int16]:
    """Speech-like test audio: a chirp under noise, never silent, never clipping."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    wave = 0.3 * np.sin(2 * np.pi * (200 + 900 * t) * t) + 0.05 * rng.standard_normal(t.size)
    return (wave * 32767).astype(np.int16)


def _resampled(samples: NDArray[np.int16], in_rate: int) -> NDArray[np.int16]:
    resampler = StreamResampler(in_rate, RECORDING_RATE)
    return np.concatenate((resampler.process(samples), resampler.flush()))


@pytest.mark.parametrize("transport", ["json", "binary"])
@pytest.mark.parametrize("append_ms", [20, 100])
async def test_pcm_recording_is_the_audio_that_crossed_the_wire(
    provider: tuple[Provider, str], transport: str, append_ms: int
) -> None:
    """Default formats (PCM16 24 kHz both ways, a 48 kHz microphone): the recording, rendered
    once at the end, is sample for sample what the old per-frame recording held — the user's
    audio as the server received it, the agent's deltas where they were scheduled to play."""
    fake, url = provider
    audio = {"transport": transport}
    conversation = _conversation(
        url, AgentConfig.model_validate({"input_audio": audio, "output_audio": audio}), append_ms
    )
    heard = Heard(conversation)
    await conversation.start()
    try:
        microphone = _sweep(48_000, 1.0, seed=1)
        for start in range(0, microphone.size, 960):  # 20 ms frames
            conversation.send_audio(microphone[start : start + 960], rate=48_000, channels=1)
        chunk_bytes = 24 * append_ms * 2
        produced = round(conversation.user_audio_ms * 24) * 2
        await fake.until_received(produced // chunk_bytes * chunk_bytes)
        deltas = [d.tobytes() for d in np.split(_sweep(24_000, 0.4, seed=2), 20)]
        await fake.respond(deltas, binary=transport == "binary")
        await asyncio.wait_for(heard.done.wait(), timeout=10)
    finally:
        await conversation.aclose()

    assert fake.session is not None
    if transport == "binary":
        assert fake.binary_frames > 0 and fake.json_appends == 0
        assert fake.session["audio"] == {
            "input": {"format": {"type": "audio/pcm", "rate": 24000}, "transport": "binary"},
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "transport": "binary"},
        }
    else:
        assert fake.json_appends > 0 and fake.binary_frames == 0
        assert "transport" not in json.dumps(fake.session), "json is the protocol's default"
    # Every delta delivered once, in order, as sent; the samples are the delta's bytes.
    assert [a.encoded for a in heard.audio] == deltas
    assert all(a.rate == 24_000 and a.response_id == "resp_1" for a in heard.audio)
    assert all(np.array_equal(a.samples, np.frombuffer(a.encoded, "<i2")) for a in heard.audio)
    assert [w[2] for w in heard.wire] == [base64.b64encode(d).decode() for d in deltas]
    assert {(w[0], w[1]) for w in heard.wire} == {("resp_1", "item_1")}

    user, agent = _channels(conversation)
    sent = np.frombuffer(bytes(fake.received), "<i2")
    assert np.array_equal(user[: sent.size], sent), "the user's side is what the server got"
    assert user.size - sent.size < 24 * append_ms, "and what waited for a full chunk"
    start = round(heard.audio[0].t_ms * 24)
    spoken = np.frombuffer(b"".join(deltas), "<i2")
    assert np.array_equal(agent[start : start + spoken.size], spoken)
    assert not agent[:start].any() and not agent[start + spoken.size :].any()


@pytest.mark.parametrize("transport", ["json", "binary"])
async def test_telephone_mulaw_passes_through_both_ways(
    provider: tuple[Provider, str], transport: str
) -> None:
    """A caller on a phone line: μ-law 8 kHz in and out, no resampling on the way; the
    recording decodes and resamples it once, at the end."""
    fake, url = provider
    phone = {"encoding": "pcmu", "rate": 8000, "transport": transport}
    conversation = _conversation(
        url, AgentConfig.model_validate({"input_audio": phone, "output_audio": phone}), 20
    )
    heard = Heard(conversation)
    await conversation.start()
    try:
        caller = mulaw_encode(_sweep(8_000, 1.0, seed=3))
        for start in range(0, len(caller), 160):  # Twilio's 20 ms media frames
            conversation.send_wire_audio(caller[start : start + 160])
        await fake.until_received(len(caller))
        deltas = [caller[i : i + 160] for i in range(0, 3_200, 160)][::-1]
        await fake.respond(deltas, binary=transport == "binary")
        await asyncio.wait_for(heard.done.wait(), timeout=10)
    finally:
        await conversation.aclose()

    assert bytes(fake.received) == caller, "the caller's μ-law reached the wire untouched"
    assert [a.encoded for a in heard.audio] == deltas, "the agent's μ-law comes out untouched"
    assert all(a.rate == 8_000 for a in heard.audio), "never resampled"
    assert all(np.array_equal(a.samples, mulaw_decode(a.encoded)) for a in heard.audio)
    assert conversation.user_audio_ms == pytest.approx(1_000.0)
    assert conversation.agent_audio_ms == pytest.approx(400.0)

    user, agent = _channels(conversation)
    expected_user = _resampled(mulaw_decode(caller), 8_000)
    assert np.abs(user[: expected_user.size].astype(int) - expected_user).max() <= 1
    start = round(heard.audio[0].t_ms * 8) * 3  # placed on the 8 kHz grid of its wire rate
    expected_agent = _resampled(mulaw_decode(b"".join(deltas)), 8_000)
    got = agent[start : start + expected_agent.size].astype(int)
    assert np.abs(got - expected_agent).max() <= 1


def test_wire_audio_must_be_whole_samples() -> None:
    from voxray.actors.conversation.agent import AudioFormatConfig

    path = InputAudioPath(AudioFormatConfig(), chunk_ms=20)
    with pytest.raises(AudioError, match="3 bytes"):
        path.push_encoded(b"abc")
    path.push_encoded(bytes(1_000))
    assert [len(c) for c in path.take_chunks()] == [960]
    assert [len(c) for c in path.take_chunks(final=True)] == [40]


# --- the fast path's conformance with the models -----------------------------------------------

_AUDIO = base64.b64encode(bytes(range(256)) * 3).decode()
_DELTAS = [
    {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "delta": _AUDIO},
    {  # every documented field, an unknown one, and the output_item_index quirk
        "event_id": "event_9",
        "type": "response.output_audio.delta",
        "response_id": "resp_7",
        "item_id": "item_3",
        "output_item_index": 2,
        "content_index": 0,
        "delta": _AUDIO,
        "new_field": {"nested": [1, 2]},
    },
    {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "delta": ""},
]


@pytest.mark.parametrize("frame", _DELTAS)
@pytest.mark.parametrize("spaced", [False, True])
def test_fast_path_reads_what_the_model_reads(frame: dict[str, object], spaced: bool) -> None:
    from voxray.actors.realtime.server_events import (
        OutputAudio,
        ResponseOutputAudioDelta,
        parse_server_event,
        parse_server_frame,
    )

    text = json.dumps(frame, indent=2 if spaced else None)
    fast = parse_server_frame(text)
    model = parse_server_event(text)
    assert isinstance(fast, OutputAudio) and isinstance(model, ResponseOutputAudioDelta)
    assert (fast.response_id, fast.item_id) == (model.response_id, model.item_id)
    assert fast.audio == base64.b64decode(model.delta)
    assert fast.base64 == model.delta


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "response.output_audio.delta", "item_id": "i", "delta": _AUDIO},  # no response
        {"type": "response.output_audio.delta", "response_id": "r", "item_id": 5, "delta": "AA"},
        {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i"},  # no delta
    ],
)
def test_a_delta_the_fast_path_cannot_read_gets_the_models_error(frame: dict[str, object]) -> None:
    from voxray.actors.errors import ProtocolError
    from voxray.actors.realtime.server_events import parse_server_event, parse_server_frame

    text = json.dumps(frame)
    with pytest.raises(ProtocolError) as expected:
        parse_server_event(text)
    with pytest.raises(ProtocolError) as got:
        parse_server_frame(text)
    assert got.value.message == expected.value.message


def test_other_frames_and_bad_base64_on_the_fast_path() -> None:
    from voxray.actors.realtime.base import EventParseError
    from voxray.actors.realtime.server_events import parse_server_event, parse_server_frame

    # A transcript that merely mentions the audio type is parsed as what it is.
    text = json.dumps(
        {
            "type": "response.output_audio_transcript.delta",
            "response_id": "r",
            "item_id": "i",
            "delta": 'say "response.output_audio.delta"',
        }
    )
    assert parse_server_frame(text) == parse_server_event(text)
    bad = json.dumps(
        {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "delta": "A"}
    )
    with pytest.raises(EventParseError, match="not valid base64") as error:
        parse_server_frame(bad)
    assert error.value.reason == "invalid_payload"


@pytest.mark.parametrize("encoding", ["pcm", "pcmu"])
async def test_binary_transport_against_the_simulator(simulator: Simulator, encoding: str) -> None:
    """Both directions in binary frames with the real simulator: the turn is answered, the
    agent's audio is heard and recorded, and no frame is reported malformed."""
    from voxray.actors.conversation.script import ScenarioScript, TextTurn
    from voxray.actors.session import SessionRequest, play_scenario
    from voxray.actors.simulator.rules import BrainRule, BrainScript

    audio = {"encoding": encoding, "rate": 24_000 if encoding == "pcm" else 8_000}
    audio["transport"] = "binary"
    rules = BrainScript(rules=[BrainRule(heard="hours", reply="We open at nine.")])
    request = SessionRequest(
        session_id="binary",
        agent=AgentConfig.model_validate({"input_audio": audio, "output_audio": audio}),
        script=ScenarioScript(turns=(TextTurn(text="What are your hours?"),)),
        endpoint=ProviderEndpoint(url=simulator.url, api_key=SecretStr(simulator.register(rules))),
        tuning=EngineTuning(speed=TEST_SPEED, connect_timeout_s=5),
    )
    result = await play_scenario(request, InProcessToolBackend())

    assert result.status == "completed", result.error
    assert "nine" in result.turns[0].agent_transcript.lower()
    assert result.turns[0].agent_audio_ms > 300
    assert result.metrics.malformed_frames == 0
    assert result.recording is not None
    agent = np.frombuffer(result.recording.pcm, dtype=np.int16).reshape(-1, 2)[:, 1]
    assert np.sqrt(np.mean(agent.astype(np.float64) ** 2)) > 300, "the agent was heard"


def test_agent_audio_crosses_a_process_with_its_pcm_once() -> None:
    # A live session's events travel through Ray: a delta's PCM must not be pickled twice.
    import pickle

    from voxray.actors.conversation.events import AgentAudio

    pcm = (np.arange(4800) * 7).astype(np.int16).tobytes()
    event = AgentAudio(12.5, "resp_1", np.frombuffer(pcm, dtype=np.int16), 24_000, pcm)
    wire = pickle.dumps(event)
    assert len(wire) < 1.2 * len(pcm)
    back = pickle.loads(wire)
    assert (back.t_ms, back.response_id, back.rate, back.encoded) == (12.5, "resp_1", 24_000, pcm)
    assert np.array_equal(back.samples, event.samples)
    # μ-law: samples decoded at 8 kHz beside the wire bytes, both kept.
    law = AgentAudio(0.0, "r", np.full(160, 5, np.int16), 8000, bytes(160))
    assert np.array_equal(pickle.loads(pickle.dumps(law)).samples, law.samples)
