"""The simulator as a real websocket server on loopback, driven by a real aiohttp client.

Every frame the simulator sends is parsed back with the client's own wire models and must be a
known event with a unique ``event_id``. Waits are on received events, never on sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeVar

import aiohttp
import numpy as np
import pytest
import ray
from numpy.typing import NDArray
from voxray.actors.audio.g711 import mulaw_encode
from voxray.actors.audio.resample import StreamResampler
from voxray.actors.audio.speech import SpeechSynthesizer
from voxray.actors.realtime.client_events import (
    ClientEvent,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemTruncate,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    ResponseCancel,
    ResponseCreate,
    ResponseParams,
    SessionUpdate,
    encode_client_event,
)
from voxray.actors.realtime.items import (
    ForceMessageItem,
    FunctionCallOutputItem,
    InputText,
    MessageItem,
    OutputText,
)
from voxray.actors.realtime.server_events import (
    ConversationCreated,
    ConversationItemAdded,
    ConversationItemDeleted,
    ConversationItemInputAudioTranscriptionCompleted,
    ConversationItemTruncated,
    ErrorEvent,
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    Ping,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ServerEvent,
    SessionCreated,
    SessionUpdated,
    UnknownServerEvent,
    parse_server_event,
)
from voxray.actors.realtime.session_params import (
    AudioFormat,
    AudioInput,
    AudioOutput,
    AudioParams,
    FunctionTool,
    SessionParams,
    TurnDetection,
)
from voxray.actors.simulator import (
    BrainRule,
    BrainScript,
    ResponseLatency,
    ScriptedCall,
    Simulator,
    SimulatorConfig,
)
from voxray.actors.simulator.actor import SimulatorActor
from voxray.actors.simulator.voice import voice_style

SPEED = 20.0
RATE = 24_000
TIMEOUT_S = 20.0
E = TypeVar("E", bound=ServerEvent)
# Echoed back, this takes ~15 s of audio: ~0.75 s at test speed, ample time to interrupt it.
LONG_TEXT = " ".join(
    ["a long story about the sea, the sky, the wind and the little boat that sailed away"] * 3
)


class Client:
    """A realtime client that validates and records every server frame."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[ServerEvent] = []
        self.event_ids: set[str] = set()

    async def send(self, event: ClientEvent) -> None:
        await self.ws.send_str(encode_client_event(event))

    async def next(self) -> ServerEvent:
        msg = await asyncio.wait_for(self.ws.receive(), TIMEOUT_S)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        event = parse_server_event(msg.data)
        assert not isinstance(event, UnknownServerEvent), msg.data
        assert event.event_id, msg.data
        assert event.event_id not in self.event_ids, f"duplicate event_id in {msg.data}"
        self.event_ids.add(event.event_id)
        self.events.append(event)
        return event

    async def expect(self, kind: type[E]) -> E:
        event = await self.next()
        assert isinstance(event, kind), f"expected {kind.__name__}, got {event}"
        return event

    async def until(self, kind: type[E]) -> tuple[list[ServerEvent], E]:
        """Every event up to and including the first ``kind``."""
        seen: list[ServerEvent] = []
        while True:
            event = await self.next()
            seen.append(event)
            if isinstance(event, kind):
                return seen, event


async def connect(http: aiohttp.ClientSession, sim: Simulator, token: str = "test-key") -> Client:
    ws = await http.ws_connect(
        sim.url + "?model=grok-voice-test", headers={"Authorization": f"Bearer {token}"}
    )
    client = Client(ws)
    await client.expect(SessionCreated)
    await client.expect(ConversationCreated)
    return client


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(
        SimulatorConfig(
            speed=SPEED,
            api_keys=frozenset({"test-key"}),
            response_latency=ResponseLatency(mean_ms=200),
        )
    )
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.aclose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def user_text(text: str) -> ConversationItemCreate:
    return ConversationItemCreate(item=MessageItem(role="user", content=[InputText(text=text)]))


def compress(events: Sequence[ServerEvent]) -> list[str]:
    """Event types with runs of audio/transcript/argument deltas collapsed into one entry."""
    deltas = {
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
        "response.function_call_arguments.delta",
    }
    out: list[str] = []
    for event in events:
        name = "deltas" if event.type in deltas else event.type
        if not (name == "deltas" and out and out[-1] == "deltas"):
            out.append(name)
    return out


SPOKEN_ITEM = [
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "deltas",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
]


def audio_ms(events: Sequence[ServerEvent]) -> float:
    total = sum(
        len(base64.b64decode(e.delta)) for e in events if isinstance(e, ResponseOutputAudioDelta)
    )
    return total / 2 / RATE * 1000


def transcript(events: Sequence[ServerEvent]) -> str:
    return "".join(e.delta for e in events if isinstance(e, ResponseOutputAudioTranscriptDelta))


def speech(text: str, rate: int = RATE) -> NDArray[np.int16]:
    spoken = SpeechSynthesizer().synthesize(text)
    resampler = StreamResampler(spoken.rate, rate)
    return np.concatenate((resampler.process(spoken.samples), resampler.flush()))


async def stream_audio(client: Client, samples: NDArray[np.int16], chunk_ms: int = 100) -> None:
    step = RATE * chunk_ms // 1000
    for offset in range(0, samples.size, step):
        chunk = samples[offset : offset + step].tobytes()
        await client.send(InputAudioBufferAppend(audio=base64.b64encode(chunk).decode()))


def vad_session(**extra: Any) -> SessionUpdate:
    return SessionUpdate(
        session=SessionParams(
            turn_detection=TurnDetection(type="server_vad", silence_duration_ms=500), **extra
        )
    )


# ---------------------------------------------------------------- handshake


async def test_unknown_token_is_refused_with_401_and_a_json_body(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(sim.url, headers={"Authorization": "Bearer wrong"})
    assert refused.value.status == 401
    async with http.get(sim.url.replace("ws://", "http://")) as response:
        assert response.status == 401
        body = await response.json()
        assert body["error"]["code"] == "invalid_api_key"


async def test_registered_token_and_subprotocol_are_accepted(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = sim.register(BrainScript())
    ws = await http.ws_connect(sim.url, protocols=(f"xai-client-secret.{token}",))
    assert ws.protocol == f"xai-client-secret.{token}"
    created = Client(ws)
    session = (await created.expect(SessionCreated)).session
    assert session.model == "grok-voice-latest"
    await ws.close()


async def test_session_created_then_conversation_created_with_xai_defaults(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    ws = await http.ws_connect(
        sim.url + "?model=grok-voice-test", headers={"Authorization": "Bearer test-key"}
    )
    client = Client(ws)
    created = await client.expect(SessionCreated)
    conversation = await client.expect(ConversationCreated)
    assert created.session.voice == "xai_ara"
    assert created.session.modalities == ["audio"]
    assert created.session.turn_detection is not None
    assert created.session.turn_detection.type is None
    assert created.session.tools == []
    assert created.session.model == "grok-voice-test"
    assert conversation.conversation.id.startswith("conv_")


async def test_session_update_flat_and_nested_forms_are_normalised(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    await client.send(
        SessionUpdate(
            session=SessionParams(
                voice="Eve",
                instructions="Be brief.",
                turn_detection=TurnDetection(type="server_vad", threshold=0.5),
                tools=[FunctionTool(name="get_weather", parameters={"type": "object"})],
            )
        )
    )
    flat = (await client.expect(SessionUpdated)).session
    assert flat.voice == "xai_eve"
    assert flat.instructions == "Be brief."
    assert flat.turn_detection is not None
    assert (flat.turn_detection.type, flat.turn_detection.threshold) == ("server_vad", 0.5)
    assert flat.turn_detection.prefix_padding_ms == 333
    assert flat.tools is not None and flat.tools[0]["name"] == "get_weather"

    await client.send(
        SessionUpdate(
            session=SessionParams(
                type="realtime",
                output_modalities=["audio"],
                audio=AudioParams(
                    input=AudioInput(turn_detection=TurnDetection(type=None)),
                    output=AudioOutput(voice="rex", format=AudioFormat(type="audio/pcmu")),
                ),
            )
        )
    )
    nested = (await client.expect(SessionUpdated)).session
    assert nested.voice == "xai_rex"
    assert nested.turn_detection is not None and nested.turn_detection.type is None
    assert nested.audio is not None and nested.audio.output is not None
    assert nested.audio.output.format == AudioFormat(type="audio/pcmu", rate=8000)
    assert nested.instructions == "Be brief."  # untouched fields persist


async def test_unsupported_format_is_rejected_and_previous_config_kept(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    opus = AudioParams(output=AudioOutput(format=AudioFormat(type="audio/opus")))
    await client.send(SessionUpdate(event_id="evt_1", session=SessionParams(audio=opus)))
    error = await client.expect(ErrorEvent)
    assert error.error.type == "invalid_request_error"
    assert error.error.event_id == "evt_1"
    await client.send(SessionUpdate(session=SessionParams(voice="leo")))
    session = (await client.expect(SessionUpdated)).session
    assert session.audio is not None and session.audio.output is not None
    assert session.audio.output.format == AudioFormat(type="audio/pcm", rate=24000)


# ---------------------------------------------------------------- turns


async def test_text_turn_yields_the_full_response_sequence(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    await client.send(user_text("Hello there"))
    added = await client.expect(ConversationItemAdded)
    assert added.item.role == "user" and added.item.content is not None
    assert added.item.content[0].text == "Hello there"

    await client.send(ResponseCreate(response=ResponseParams(metadata={"turn": "1"})))
    events, done = await client.until(ResponseDone)

    assert compress(events) == ["response.created", *SPOKEN_ITEM, "response.done"]
    created = events[0]
    assert isinstance(created, ResponseCreated)
    assert created.response.metadata == {"turn": "1"}
    assert done.response.status == "completed"
    assert done.response.metadata == {"turn": "1"}
    assert done.response.id == created.response.id
    assert done.response.usage is not None and (done.response.usage.total_tokens or 0) > 0

    spoken = "You said: Hello there."
    final = next(e for e in events if isinstance(e, ResponseOutputAudioTranscriptDone))
    assert final.transcript == spoken
    assert transcript(events) == spoken
    item_done = next(e for e in events if isinstance(e, ResponseOutputItemDone))
    assert item_done.item.status == "completed"
    assert item_done.item.content is not None
    assert item_done.item.content[0].transcript == spoken
    assert item_done.item.id is not None and item_done.item.id.startswith("item_")
    assert created.response.id.startswith("resp_")
    # Audio is the spoken transcript in the session voice: same duration as synthesising it.
    style = voice_style("ara")
    reference = SpeechSynthesizer(
        voice=style.espeak_voice, words_per_minute=style.words_per_minute, pitch=style.pitch
    ).synthesize(spoken)
    assert audio_ms(events) == pytest.approx(reference.duration_s * 1000, abs=45)
    # Every delta names the response, the item and its indexes.
    item_id = item_done.item.id
    for event in events:
        if isinstance(event, ResponseOutputAudioDelta | ResponseOutputAudioTranscriptDelta):
            assert (event.response_id, event.item_id) == (done.response.id, item_id)
            assert (event.output_index, event.content_index) == (0, 0)


async def test_voice_turn_with_server_vad_yields_the_user_turn_sequence(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    await client.send(vad_session())
    await client.expect(SessionUpdated)
    voice = speech("What is the weather like in Paris today?")
    lead_ms, tail_ms = 600, 1500
    audio = np.concatenate(
        (
            np.zeros(RATE * lead_ms // 1000, np.int16),
            voice,
            np.zeros(RATE * tail_ms // 1000, np.int16),
        )
    )
    await stream_audio(client, audio)

    events, done = await client.until(ResponseDone)

    assert compress(events) == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
        *SPOKEN_ITEM,
        "response.done",
    ]
    started, stopped, committed, added, transcribed, created = events[:6]
    assert isinstance(started, InputAudioBufferSpeechStarted)
    assert isinstance(stopped, InputAudioBufferSpeechStopped)
    assert isinstance(committed, InputAudioBufferCommitted)
    assert isinstance(added, ConversationItemAdded)
    assert isinstance(transcribed, ConversationItemInputAudioTranscriptionCompleted)
    assert isinstance(created, ResponseCreated)
    assert started.item_id == stopped.item_id == committed.item_id == added.item.id
    assert transcribed.item_id == started.item_id
    assert started.audio_start_ms is not None and stopped.audio_end_ms is not None
    # Prefix padding (333 ms) before the onset; the hangover (500 ms) after the last word.
    assert lead_ms - 333 - 30 <= started.audio_start_ms <= lead_ms
    voice_end_ms = lead_ms + voice.size * 1000 / RATE
    assert voice_end_ms <= stopped.audio_end_ms <= voice_end_ms + 500 + 30
    heard = added.item.content[0].transcript if added.item.content else None
    assert heard is not None and re.fullmatch(r"\[speech \d+\.\d s\]", heard)
    assert transcribed.transcript == heard
    assert created.response.metadata is None
    assert done.response.status == "completed"
    assert transcript(events) == f"You said: {heard}."


async def test_a_caller_who_speaks_from_the_first_frame_starts_a_turn(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    # A WAV that begins with the voice: no silence before it for a noise floor to learn from.
    client = await connect(http, sim)
    await client.send(vad_session())
    await client.expect(SessionUpdated)
    voice = speech("Okay.")
    await stream_audio(client, np.concatenate((voice, np.zeros(RATE * 3 // 2, np.int16))))

    events, _ = await client.until(ResponseDone)

    assert compress(events)[:2] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    ]


async def test_g711_input_and_output_formats(sim: Simulator, http: aiohttp.ClientSession) -> None:
    client = await connect(http, sim)
    mulaw = AudioFormat(type="audio/pcmu")
    audio = AudioParams(input=AudioInput(format=mulaw), output=AudioOutput(format=mulaw))
    await client.send(vad_session(audio=audio))
    await client.expect(SessionUpdated)
    voice = speech("Good morning, how are you?", rate=8000)
    encoded = mulaw_encode(np.concatenate((voice, np.zeros(8000, np.int16))))
    for offset in range(0, len(encoded), 800):  # 100 ms of 8 kHz G.711
        chunk = base64.b64encode(encoded[offset : offset + 800]).decode()
        await client.send(InputAudioBufferAppend(audio=chunk))
    events, done = await client.until(ResponseDone)
    assert isinstance(events[0], InputAudioBufferSpeechStarted)
    assert done.response.status == "completed"
    # One byte per sample at 8 kHz: 40 ms chunks are 320 bytes.
    deltas = [base64.b64decode(e.delta) for e in events if isinstance(e, ResponseOutputAudioDelta)]
    assert {len(d) for d in deltas[:-1]} == {320}


async def test_ping_events_when_configured(http: aiohttp.ClientSession) -> None:
    config = SimulatorConfig(speed=SPEED, api_keys=frozenset({"test-key"}), ping_interval_s=0.05)
    async with Simulator(config) as sim:
        client = await connect(http, sim)
        ping = await client.expect(Ping)
        assert ping.timestamp is not None and ping.timestamp > 0
        await client.send(SessionUpdate(session=SessionParams(voice="eve")))
        _, updated = await client.until(SessionUpdated)
        assert updated.session.voice == "xai_eve"


async def test_function_call_round_trip_with_spoken_after_tool_reply(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = sim.register(
        BrainScript(
            rules=[
                BrainRule(
                    turn=1,
                    preamble="Let me check.",
                    calls=[ScriptedCall(name="get_weather", arguments={"location": "Paris"})],
                    after_tool="It is {output} in Paris.",
                )
            ]
        )
    )
    client = await connect(http, sim, token)
    await client.send(user_text("What's the weather?"))
    await client.expect(ConversationItemAdded)
    await client.send(ResponseCreate())
    events, done = await client.until(ResponseDone)

    assert compress(events) == [
        "response.created",
        *SPOKEN_ITEM,
        "response.output_item.added",
        "conversation.item.added",
        "deltas",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.done",
    ]
    assert transcript(events) == "Let me check."
    call = next(e for e in events if isinstance(e, ResponseFunctionCallArgumentsDone))
    assert call.name == "get_weather"
    assert call.arguments == '{"location":"Paris"}'
    assert call.call_id.startswith("call_")
    pieces = [e.delta for e in events if isinstance(e, ResponseFunctionCallArgumentsDelta)]
    assert "".join(pieces) == call.arguments
    call_added = [e for e in events if isinstance(e, ResponseOutputItemAdded)][1]
    assert call_added.item.type == "function_call" and call_added.item.name == "get_weather"
    assert call_added.item.arguments is None
    assert done.response.status == "completed"
    assert [item.type for item in done.response.output] == ["message", "function_call"]
    assert done.response.output[1].arguments == call.arguments

    await client.send(
        ConversationItemCreate(item=FunctionCallOutputItem(call_id=call.call_id, output="sunny"))
    )
    output_added = await client.expect(ConversationItemAdded)
    assert output_added.item.type == "function_call_output"
    assert output_added.previous_item_id == call.item_id
    await client.send(ResponseCreate())
    events, done = await client.until(ResponseDone)
    assert compress(events) == ["response.created", *SPOKEN_ITEM, "response.done"]
    assert transcript(events) == "It is sunny in Paris."


async def test_force_message_is_spoken_without_response_create(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    force = ForceMessageItem(
        interruptible=False, content=[OutputText(text="This call is recorded.")]
    )
    await client.send(ConversationItemCreate(item=force))
    events, done = await client.until(ResponseDone)
    assert compress(events) == ["response.created", *SPOKEN_ITEM, "response.done"]
    assert transcript(events) == "This call is recorded."
    assert done.response.metadata is None and done.response.status == "completed"


async def test_response_create_while_active_is_an_error_and_the_session_goes_on(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    await client.send(user_text(LONG_TEXT))
    await client.expect(ConversationItemAdded)
    await client.send(ResponseCreate())
    await client.expect(ResponseCreated)
    await client.send(ResponseCreate(event_id="evt_second"))
    events, error = await client.until(ErrorEvent)
    assert "already has an active response" in error.error.message
    assert error.error.event_id == "evt_second"
    events, done = await client.until(ResponseDone)
    assert done.response.status == "completed"
    assert not any(isinstance(e, ResponseCreated) for e in events)


async def test_cancel_stops_the_response_and_a_second_cancel_is_an_error(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    await client.send(user_text(LONG_TEXT))
    await client.expect(ConversationItemAdded)
    await client.send(ResponseCreate())
    await client.until(ResponseOutputAudioDelta)
    await client.send(ResponseCancel())
    events, done = await client.until(ResponseDone)
    assert done.response.status == "cancelled"
    # The open item is closed with what was sent of it, then the response ends.
    assert compress(events)[-5:] == [
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    said = next(e for e in events if isinstance(e, ResponseOutputAudioTranscriptDone))
    assert said.transcript and LONG_TEXT.startswith(said.transcript.removeprefix("You said: "))
    assert done.response.output[0].status == "incomplete"
    await client.send(ResponseCancel())
    error = await client.expect(ErrorEvent)
    assert "no active response" in error.error.message


async def test_speech_during_a_response_cancels_it(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    await client.send(vad_session())
    await client.expect(SessionUpdated)
    await client.send(user_text(LONG_TEXT))
    await client.expect(ConversationItemAdded)
    await client.send(ResponseCreate())
    await client.until(ResponseOutputAudioDelta)
    await stream_audio(client, speech("Stop, please."))
    events, done = await client.until(ResponseDone)
    started = [e for e in events if isinstance(e, InputAudioBufferSpeechStarted)]
    assert len(started) == 1
    assert events.index(started[0]) < events.index(done)
    assert done.response.status == "cancelled"


async def test_truncate_reports_the_transcript_up_to_the_cut_and_delete_removes(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    await client.send(user_text("one two three four five six seven eight"))
    await client.expect(ConversationItemAdded)
    await client.send(ResponseCreate())
    events, done = await client.until(ResponseDone)
    item_id = done.response.output[0].id
    assert item_id is not None
    await client.send(ConversationItemTruncate(item_id=item_id, audio_end_ms=900))
    truncated = await client.expect(ConversationItemTruncated)
    assert truncated.audio_end_ms == 900
    assert truncated.transcript is not None
    full = transcript(events)
    assert full.startswith(truncated.transcript) and 0 < len(truncated.transcript) < len(full)

    await client.send(ConversationItemTruncate(item_id=item_id, audio_end_ms=10**6))
    assert (await client.expect(ErrorEvent)).error.param == "audio_end_ms"
    await client.send(ConversationItemDelete(item_id=item_id))
    assert (await client.expect(ConversationItemDeleted)).item_id == item_id
    await client.send(ConversationItemDelete(item_id=item_id))
    assert (await client.expect(ErrorEvent)).error.code == "item_not_found"


async def test_manual_commit_and_clear(sim: Simulator, http: aiohttp.ClientSession) -> None:
    client = await connect(http, sim)
    await client.send(InputAudioBufferCommit())
    assert (await client.expect(ErrorEvent)).error.code == "input_audio_buffer_commit_empty"
    await stream_audio(client, speech("Hello."))
    await client.send(InputAudioBufferCommit())
    committed = await client.expect(InputAudioBufferCommitted)
    added = await client.expect(ConversationItemAdded)
    assert added.item.id == committed.item_id
    await client.expect(ConversationItemInputAudioTranscriptionCompleted)
    await client.send(InputAudioBufferClear())
    await client.expect(InputAudioBufferCleared)

    await client.send(vad_session())
    await client.expect(SessionUpdated)
    await client.send(InputAudioBufferCommit())
    assert (await client.expect(ErrorEvent)).error.type == "invalid_request_error"


async def test_malformed_and_unknown_events_get_errors_and_the_session_stays_open(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    await client.ws.send_str("{not json")
    assert (await client.expect(ErrorEvent)).error.type == "invalid_request_error"
    await client.ws.send_str('{"type": "no.such.event", "event_id": "evt_x"}')
    error = await client.expect(ErrorEvent)
    assert (error.error.type, error.error.event_id) == ("invalid_event", "evt_x")
    await client.ws.send_str('{"type": "conversation.item.retrieve", "item_id": "x"}')
    assert (await client.expect(ErrorEvent)).error.type == "invalid_event"
    await client.send(SessionUpdate(session=SessionParams(voice="sal")))
    assert (await client.expect(SessionUpdated)).session.voice == "xai_sal"


async def test_client_secret_minting(sim: Simulator, http: aiohttp.ClientSession) -> None:
    base = sim.url.replace("ws://", "http://")
    async with http.post(
        base + "/client_secrets",
        json={"expires_after": {"seconds": 60}},
        headers={"Authorization": "Bearer test-key"},
    ) as response:
        assert response.status == 200
        secret = await response.json()
    assert secret["value"] and secret["expires_at"] > 0
    ws = await http.ws_connect(sim.url, protocols=(f"xai-client-secret.{secret['value']}",))
    await Client(ws).expect(SessionCreated)
    await ws.close()
    async with http.post(base + "/client_secrets", json={}) as response:
        assert response.status == 401


@pytest.mark.ray
async def test_simulator_actor_serves_registered_scripts(
    ray_cluster: None, http: aiohttp.ClientSession
) -> None:
    handle = SimulatorActor.remote()
    try:
        url = await handle.start.remote(SimulatorConfig(speed=SPEED))
        assert url == await handle.url.remote()
        token = await handle.register.remote(BrainScript(default_reply="Hello from Ray."))
        ws = await http.ws_connect(url, headers={"Authorization": f"Bearer {token}"})
        client = Client(ws)
        await client.expect(SessionCreated)
        await client.expect(ConversationCreated)
        await client.send(user_text("hi"))
        await client.expect(ConversationItemAdded)
        await client.send(ResponseCreate())
        events, _ = await client.until(ResponseDone)
        assert transcript(events) == "Hello from Ray."
        await ws.close()
        await handle.stop.remote()
    finally:
        ray.kill(handle)
