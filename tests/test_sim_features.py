"""Simulator protocol features beyond the basic turns: transports, xAI extensions, resumption.

Each test drives the real server on loopback with a real websocket client and checks what a
client would observe. Waits are on received frames, never on sleeps.
"""

from __future__ import annotations

import base64
import logging
import random
import sys
from collections.abc import AsyncIterator

import aiohttp
import numpy as np
import pytest
from voxray.actors.realtime.client_events import (
    ConversationItemCreate,
    ResponseCreate,
    ResponseParams,
    SessionUpdate,
)
from voxray.actors.realtime.items import (
    ForceMessageItem,
    InputAudio,
    MessageItem,
    OutputText,
)
from voxray.actors.realtime.server_events import (
    ConversationCreated,
    ConversationItemAdded,
    ConversationItemCreated,
    ConversationItemInputAudioTranscriptionCompleted,
    ConversationItemInputAudioTranscriptionUpdated,
    ErrorEvent,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferTimeoutTriggered,
    McpListToolsCompleted,
    McpListToolsInProgress,
    ResponseCreated,
    ResponseDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputTextDelta,
    ResponseTextDelta,
    SessionCreated,
    SessionUpdated,
    encode_server_event,
)
from voxray.actors.realtime.session_params import (
    AudioInput,
    AudioOutput,
    AudioParams,
    McpTool,
    Resumption,
    SessionParams,
    Transcription,
    TurnDetection,
)
from voxray.actors.simulator import (
    BrainRule,
    BrainScript,
    ResponseLatency,
    Simulator,
    SimulatorConfig,
)
from voxray.actors.simulator.deltas import AudioDeltaFrames
from voxray.actors.simulator.replace import spoken_form
from voxray.actors.simulator.transcription import Transcriber

from tests.test_sim_server import (
    RATE,
    SPOKEN_ITEM,
    Client,
    compress,
    connect,
    speech,
    stream_audio,
    transcript,
    user_text,
    vad_session,
)

SPEED = 20.0


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        speed=SPEED, api_keys=frozenset({"test-key"}), response_latency=ResponseLatency(mean_ms=100)
    )
    async with Simulator(config) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_prerendered_audio_delta_is_byte_identical_to_the_wire_model() -> None:
    from voxray.actors.realtime.server_events import ResponseOutputAudioDelta as Delta

    audio = base64.b64encode(bytes(range(256)) * 8).decode()
    for index in (0, 3):
        frames = AudioDeltaFrames("resp_0123abcd", "item_89ef", index, 0)
        model = Delta(
            event_id="event_1",
            response_id="resp_0123abcd",
            item_id="item_89ef",
            output_index=index,
            content_index=0,
            delta=audio,
        )
        assert frames.render("event_1", audio) == encode_server_event(model)


async def test_binary_output_transport_sends_audio_as_binary_frames(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    audio = AudioParams(output=AudioOutput(transport="binary"))
    await client.send(SessionUpdate(session=SessionParams(audio=audio)))
    updated = await client.expect(SessionUpdated)
    assert updated.session.audio is not None and updated.session.audio.output is not None
    assert updated.session.audio.output.transport == "binary"
    await client.send(user_text("Hello"))
    await client.expect(ConversationItemAdded)
    await client.send(ResponseCreate())
    sizes: list[int] = []
    while True:
        msg = await client.ws.receive(timeout=20)
        if msg.type == aiohttp.WSMsgType.BINARY:
            sizes.append(len(msg.data))
            continue
        assert msg.type == aiohttp.WSMsgType.TEXT
        assert "response.output_audio.delta" not in msg.data
        if '"type":"response.done"' in msg.data:
            break
    assert len(sizes) > 10
    assert set(sizes[:-1]) == {RATE * 2 * 40 // 1000}, "40 ms of raw PCM16 per frame, no header"
    # Binary input is accepted whatever the transport, at the input format.
    await client.ws.send_bytes(np.zeros(RATE // 10, np.int16).tobytes())


async def test_replace_changes_the_speech_but_not_the_transcript(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    text = "Welcome to Acme Mobile, the Acme Mobile app."
    spoken, offsets = spoken_form(text, {"acme mobile": "Ack Me Mobull Phones Incorporated"})
    assert spoken == (
        "Welcome to Ack Me Mobull Phones Incorporated, the Ack Me Mobull Phones Incorporated app."
    )
    assert offsets.to_text(spoken.index("Mobull")) == text.index("Acme")
    assert offsets.to_text(spoken.index(", the")) == text.index(", the")

    async def say(replace: dict[str, str] | None) -> tuple[str, int]:
        client = await connect(http, sim, sim.register(BrainScript(default_reply=text)))
        await client.send(SessionUpdate(session=SessionParams(replace=replace)))
        echoed = (await client.expect(SessionUpdated)).session.replace
        assert echoed == replace
        await client.send(user_text("hi"))
        await client.expect(ConversationItemAdded)
        await client.send(ResponseCreate())
        events, _ = await client.until(ResponseDone)
        deltas = [e for e in events if isinstance(e, ResponseOutputAudioDelta)]
        await client.ws.close()
        return transcript(events), sum(len(base64.b64decode(d.delta)) for d in deltas)

    plain_text, plain_bytes = await say(None)
    replaced_text, replaced_bytes = await say({"acme mobile": "Ack Me Mobull Phones Incorporated"})
    assert plain_text == replaced_text == text
    assert replaced_bytes > plain_bytes * 1.2, "the substitute is much longer to say"


async def test_output_speed_scales_the_speaking_rate(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    line = "The quick brown fox jumps over the lazy dog near the river bank."

    async def audio_bytes(speed: float | None) -> int:
        client = await connect(http, sim, sim.register(BrainScript(default_reply=line)))
        output = AudioParams(output=AudioOutput(speed=speed)) if speed else None
        await client.send(SessionUpdate(session=SessionParams(audio=output)))
        echoed = (await client.expect(SessionUpdated)).session.audio
        assert echoed is not None and echoed.output is not None and echoed.output.speed == speed
        await client.send(user_text("hi"))
        await client.expect(ConversationItemAdded)
        await client.send(ResponseCreate())
        events, _ = await client.until(ResponseDone)
        await client.ws.close()
        assert transcript(events) == line
        deltas = [e for e in events if isinstance(e, ResponseOutputAudioDelta)]
        return sum(len(base64.b64decode(d.delta)) for d in deltas)

    normal, fast = await audio_bytes(None), await audio_bytes(1.5)
    assert fast < normal * 0.8


async def test_reasoning_effort_query_is_echoed_and_invalid_values_refused(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": "Bearer test-key"}
    ws = await http.ws_connect(sim.url + "?reasoning.effort=none", headers=headers)
    created = await Client(ws).expect(SessionCreated)
    assert created.session.reasoning is not None and created.session.reasoning.effort == "none"
    await ws.close()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(sim.url + "?reasoning.effort=max", headers=headers)
    assert refused.value.status == 400


async def test_response_instructions_drive_instruction_rules_and_metadata_echo(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    rules = [
        BrainRule(instructions=r"say goodbye to (?P<name>\w+)", reply="Goodbye, {name}!"),
        BrainRule(heard="hours", reply="We open at nine."),
    ]
    client = await connect(http, sim, sim.register(BrainScript(rules=rules)))
    params = ResponseParams(instructions="Say goodbye to Ada.", metadata={"k": "v"})
    await client.send(ResponseCreate(response=params))
    events, done = await client.until(ResponseDone)
    assert transcript(events) == "Goodbye, Ada!"
    assert done.response.metadata == {"k": "v"}
    # Per-response instructions apply to that response only.
    await client.send(user_text("your hours?"))
    await client.expect(ConversationItemAdded)
    await client.send(ResponseCreate())
    events, _ = await client.until(ResponseDone)
    assert transcript(events) == "We open at nine."


async def test_uninterruptible_force_message_ignores_caller_audio(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    await client.send(vad_session())
    await client.expect(SessionUpdated)
    long_line = "This call is recorded for quality and training purposes, please hold on. " * 2
    force = ForceMessageItem(interruptible=False, content=[OutputText(text=long_line)])
    await client.send(ConversationItemCreate(item=force))
    await client.until(ResponseOutputAudioDelta)
    await stream_audio(client, speech("Stop talking, please."))
    events, done = await client.until(ResponseDone)
    assert done.response.status == "completed"
    assert not any(isinstance(e, InputAudioBufferSpeechStarted) for e in events)

    # An interruptible one is cut off by the same speech.
    force = ForceMessageItem(interruptible=True, content=[OutputText(text=long_line)])
    await client.send(ConversationItemCreate(item=force))
    await client.until(ResponseOutputAudioDelta)
    await stream_audio(client, speech("Stop talking, please."))
    events, done = await client.until(ResponseDone)
    assert any(isinstance(e, InputAudioBufferSpeechStarted) for e in events)
    assert done.response.status == "cancelled"


async def test_idle_timeout_triggers_a_silent_turn_and_a_check_in(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim, sim.register(BrainScript(idle_reply="Still with me?")))
    detection = TurnDetection(type="server_vad", idle_timeout_ms=2000)
    await client.send(SessionUpdate(session=SessionParams(turn_detection=detection)))
    await client.expect(SessionUpdated)
    events, timeout = await client.until(InputAudioBufferTimeoutTriggered)
    assert timeout.audio_end_ms is not None and timeout.audio_start_ms is not None
    assert timeout.audio_end_ms - timeout.audio_start_ms >= 2000
    assert isinstance(await client.next(), InputAudioBufferCommitted)
    added = await client.expect(ConversationItemAdded)
    assert added.item.id == timeout.item_id and added.item.role == "user"
    events, _ = await client.until(ResponseDone)
    assert transcript(events) == "Still with me?"
    # The timer re-arms after the response: another check-in follows.
    await client.until(InputAudioBufferTimeoutTriggered)


async def test_resumption_replays_the_conversation_on_a_new_connection(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = sim.register(BrainScript(rules=[BrainRule(heard="hours", reply="Nine to five.")]))
    first = await connect(http, sim, token)
    await first.send(SessionUpdate(session=SessionParams(resumption=Resumption(enabled=True))))
    await first.expect(SessionUpdated)
    conversation_id = next(e for e in first.events if isinstance(e, ConversationCreated))
    await first.send(user_text("What are your hours?"))
    await first.expect(ConversationItemAdded)
    await first.send(ResponseCreate())
    await first.until(ResponseDone)
    await first.ws.close()

    headers = {"Authorization": f"Bearer {token}"}
    url = f"{sim.url}?conversation_id={conversation_id.conversation.id}"
    second = Client(await http.ws_connect(url, headers=headers))
    await second.expect(SessionCreated)
    resumed = await second.expect(ConversationCreated)
    assert resumed.conversation.id == conversation_id.conversation.id
    await second.send(SessionUpdate(session=SessionParams(resumption=Resumption(enabled=True))))
    await second.expect(SessionUpdated)
    user = await second.expect(ConversationItemCreated)
    assistant = await second.expect(ConversationItemCreated)
    assert user.item.content is not None and user.item.content[0].text == "What are your hours?"
    assert assistant.previous_item_id == user.item.id
    assert assistant.item.content is not None
    assert assistant.item.content[0].transcript == "Nine to five."

    third = Client(await http.ws_connect(f"{sim.url}?conversation_id=conv_nope", headers=headers))
    await third.expect(SessionCreated)
    fresh = await third.expect(ConversationCreated)
    assert fresh.conversation.id != "conv_nope"
    assert (await third.expect(ErrorEvent)).error.code == "conversation_not_found"


async def test_streaming_transcription_updates_only_with_grok_transcribe(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    audio = np.concatenate((speech("One two three four five six seven."), np.zeros(RATE, np.int16)))

    async def turn(model: str | None) -> list[object]:
        client = await connect(http, sim)
        transcription = AudioInput(transcription=Transcription(model=model)) if model else None
        await client.send(vad_session(audio=AudioParams(input=transcription)))
        await client.expect(SessionUpdated)
        await stream_audio(client, audio)
        events, _ = await client.until(ResponseCreated)
        await client.ws.close()
        return list(events)

    with_updates = await turn("grok-transcribe")
    updates = [
        e for e in with_updates if isinstance(e, ConversationItemInputAudioTranscriptionUpdated)
    ]
    assert len(updates) >= 2
    lengths = [float(u.transcript.split()[1]) for u in updates]  # "[speech 1.5 s]": cumulative
    assert lengths == sorted(lengths)
    names = compress(with_updates)  # type: ignore[arg-type]
    assert names.index("conversation.item.input_audio_transcription.updated") < names.index(
        "input_audio_buffer.speech_stopped"
    )
    without = await turn(None)
    assert not any(isinstance(e, ConversationItemInputAudioTranscriptionUpdated) for e in without)
    assert any(isinstance(e, ConversationItemInputAudioTranscriptionCompleted) for e in without)


async def test_pocketsphinx_transcription_is_what_the_brain_hears(
    http: aiohttp.ClientSession,
) -> None:
    transcriber = Transcriber(enabled=True)
    if not transcriber.active:
        pytest.skip("pocketsphinx is not installed (the `transcribe` extra)")
    config = SimulatorConfig(speed=SPEED, transcribe=True, api_keys=frozenset({"test-key"}))
    async with Simulator(config) as sim:
        client = await connect(http, sim)
        clip = speech("What is the weather like in Paris today?")
        item = MessageItem(
            role="user", content=[InputAudio(audio=base64.b64encode(clip.tobytes()).decode())]
        )
        await client.send(ConversationItemCreate(item=item))
        added = await client.expect(ConversationItemAdded)
        assert added.item.content is not None
        heard = added.item.content[0].transcript or ""
        assert "weather" in heard, heard  # a real transcription, not "[speech 2.7 s]"


def test_transcription_without_pocketsphinx_warns_once_and_uses_the_placeholder(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # as if not installed
    transcriber = Transcriber(enabled=True)
    with caplog.at_level(logging.WARNING, logger="voxray.simulator"):
        assert not transcriber.active
        assert not transcriber.active
    warnings = [r for r in caplog.records if "pocketsphinx is not installed" in r.getMessage()]
    assert len(warnings) == 1
    assert not Transcriber(enabled=False).active


async def test_text_only_session_streams_both_text_delta_names(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    await client.send(SessionUpdate(session=SessionParams(modalities=["text"])))
    await client.expect(SessionUpdated)
    await client.send(user_text("Hello there"))
    await client.expect(ConversationItemAdded)
    await client.send(ResponseCreate())
    events, done = await client.until(ResponseDone)
    legacy = "".join(e.delta for e in events if isinstance(e, ResponseTextDelta))
    ga = "".join(e.delta for e in events if isinstance(e, ResponseOutputTextDelta))
    assert legacy == ga == "You said: Hello there."
    assert not any(isinstance(e, ResponseOutputAudioDelta) for e in events)
    assert done.response.output[0].content is not None
    assert done.response.output[0].content[0].text == "You said: Hello there."
    # Back to audio; one response asks for text only.
    await client.send(SessionUpdate(session=SessionParams(modalities=["audio"])))
    await client.expect(SessionUpdated)
    await client.send(user_text("Once more"))
    await client.expect(ConversationItemAdded)
    await client.send(ResponseCreate(response=ResponseParams(output_modalities=["text"])))
    events, _ = await client.until(ResponseDone)
    assert "".join(e.delta for e in events if isinstance(e, ResponseOutputTextDelta)) == (
        "You said: Once more."
    )
    assert not any(isinstance(e, ResponseOutputAudioDelta) for e in events)


async def test_mcp_tools_are_listed_after_configuring_an_mcp_server(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    tool = McpTool(server_url="https://mcp.example.com/mcp", server_label="shop")
    await client.send(SessionUpdate(session=SessionParams(tools=[tool])))
    await client.expect(SessionUpdated)
    listing = await client.expect(McpListToolsInProgress)
    assert (await client.expect(McpListToolsCompleted)).item_id == listing.item_id


def test_latency_distributions_are_seeded_and_clamped() -> None:
    rng = random.Random(7)
    uniform = ResponseLatency(mean_ms=300, spread_ms=100)
    draws = [uniform.sample_ms(rng) for _ in range(2000)]
    assert min(draws) >= 200 and max(draws) <= 400
    assert np.mean(draws) == pytest.approx(300, abs=10)
    tail = ResponseLatency(mean_ms=300, spread_ms=150, distribution="lognormal", max_ms=2000)
    draws = [tail.sample_ms(rng) for _ in range(4000)]
    assert np.median(draws) == pytest.approx(300, rel=0.08)
    assert np.std(draws) == pytest.approx(150, rel=0.25) and max(draws) <= 2000
    normal = ResponseLatency(mean_ms=50, spread_ms=100, distribution="normal")
    assert min(normal.sample_ms(rng) for _ in range(500)) == 0.0  # clamped at min_ms
    assert [uniform.sample_ms(random.Random(1)) for _ in range(3)] == [
        uniform.sample_ms(random.Random(1)) for _ in range(3)
    ]


async def test_spoken_transcript_done_matches_the_deltas_and_item(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim)
    await client.send(user_text("testing one two"))
    await client.expect(ConversationItemAdded)
    await client.send(ResponseCreate())
    events, _ = await client.until(ResponseDone)
    assert compress(events) == ["response.created", *SPOKEN_ITEM, "response.done"]
    done = next(e for e in events if isinstance(e, ResponseOutputAudioTranscriptDone))
    assert done.transcript == transcript(events) == "You said: testing one two."
