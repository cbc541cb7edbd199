"""Building, encoding and (simulator-side) parsing of client → server events."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from pydantic import ValidationError
from voxray.actors.errors import ProtocolError
from voxray.actors.realtime import (
    AudioFormat,
    AudioInput,
    AudioOutput,
    AudioParams,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    EventParseError,
    FileSearchTool,
    ForceMessageItem,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    InputText,
    McpTool,
    MessageItem,
    OutputText,
    Pong,
    ResponseCancel,
    ResponseCreate,
    ResponseParams,
    SessionParams,
    SessionUpdate,
    Transcription,
    TurnDetection,
    WebSearchTool,
    XSearchTool,
    encode_client_event,
    parse_client_event,
)


def wire(event: Any) -> dict[str, Any]:
    return json.loads(encode_client_event(event))  # type: ignore[no-any-return]


# ---------------------------------------------------------------- building and encoding


def test_manual_turns_send_turn_detection_null() -> None:
    event = SessionUpdate(session=SessionParams(turn_detection=None))
    assert wire(event) == {"type": "session.update", "session": {"turn_detection": None}}


def test_unset_fields_are_omitted() -> None:
    event = SessionUpdate(
        event_id="evt_1",
        session=SessionParams(
            voice="eve",
            turn_detection=TurnDetection(type="server_vad", silence_duration_ms=500),
            audio=AudioParams(output=AudioOutput(format=AudioFormat(type="audio/pcm", rate=16000))),
        ),
    )
    assert wire(event) == {
        "type": "session.update",
        "event_id": "evt_1",
        "session": {
            "voice": "eve",
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
            "audio": {"output": {"format": {"type": "audio/pcm", "rate": 16000}}},
        },
    }
    assert event.to_wire() == wire(event)


def test_tools_are_never_sent_as_null() -> None:
    assert "tools" not in wire(SessionUpdate(session=SessionParams(tools=None, voice="ara")))
    # A client that sends "tools": null (VideoSDK does) is read as "no change".
    parsed = parse_client_event('{"type":"session.update","session":{"tools":null}}')
    assert isinstance(parsed, SessionUpdate)
    assert "tools" not in parsed.session.model_fields_set
    assert wire(parsed) == {"type": "session.update", "session": {}}


def test_full_session_with_every_tool_shape() -> None:
    session = SessionParams(
        instructions="Be brief.",
        voice="ara",
        audio=AudioParams(
            input=AudioInput(
                format=AudioFormat(type="audio/pcmu"),
                transcription=Transcription(model="grok-transcribe", language_hint="es-MX"),
            ),
            output=AudioOutput(format=AudioFormat(type="audio/opus"), speed=1.2),
        ),
        tools=[
            FunctionTool(
                name="get_weather",
                description="Weather for a city.",
                parameters={"type": "object", "properties": {"location": {"type": "string"}}},
            ),
            WebSearchTool(allowed_domains=["x.ai"]),
            XSearchTool(allowed_x_handles=["xai"]),
            FileSearchTool(vector_store_ids=["col_1"], max_num_results=10),
            McpTool(server_url="https://mcp.example.com/mcp", server_label="my-tools"),
        ],
        replace={"Acme Mobile": "Acme Mobull"},
    )
    sent = wire(SessionUpdate(session=session))["session"]
    assert [tool["type"] for tool in sent["tools"]] == [
        "function",
        "web_search",
        "x_search",
        "file_search",
        "mcp",
    ]
    assert sent["tools"][0]["name"] == "get_weather"
    assert sent["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session.audio is not None and session.audio.input is not None
    assert session.audio.input.format is not None
    assert session.audio.input.format.sample_rate_hz == 8000
    assert parse_client_event(json.dumps({"type": "session.update", "session": sent})) == (
        SessionUpdate(session=session)
    )


def test_strict_construction_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="max_output_tokens"):
        SessionParams.model_validate({"voice": "ara", "max_output_tokens": "inf"})
    with pytest.raises(ValidationError, match="eagerness"):
        TurnDetection.model_validate({"type": "server_vad", "eagerness": "auto"})
    with pytest.raises(ValidationError):
        InputAudioBufferAppend(audio="AAAA", sample_rate=24000)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("factory", "fragment"),
    [
        (lambda: AudioFormat(type="audio/pcm", rate=12345), "rate 12345"),
        (lambda: AudioFormat(type="audio/pcmu", rate=16000), "fixed at 8000"),
        (lambda: TurnDetection(type="server_vad", threshold=0.95), "threshold"),
        (lambda: AudioOutput(speed=2.0), "speed"),
        (lambda: WebSearchTool(allowed_domains=["a"], excluded_domains=["b"]), "exclusive"),
        (
            lambda: XSearchTool.model_validate(
                {"from_date": "2025-06-01", "to_date": "2025-01-01"}
            ),
            "after to_date",
        ),
        (lambda: McpTool(server_url="https://m", server_label="my.tools"), "server_label"),
        (lambda: ResponseParams(metadata={f"k{i}": "v" for i in range(17)}), "at most 16"),
        (lambda: ConversationItemTruncate(item_id="m", audio_end_ms=-5), "audio_end_ms"),
        (lambda: ForceMessageItem(content=[]), "content"),
    ],
)
def test_documented_limits_are_enforced(factory: Any, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        factory()


def test_constant_fields_are_sent_even_at_their_defaults() -> None:
    assert wire(InputAudioBufferCommit()) == {"type": "input_audio_buffer.commit"}
    assert wire(InputAudioBufferClear(event_id="c1")) == {
        "type": "input_audio_buffer.clear",
        "event_id": "c1",
    }
    assert wire(ResponseCreate()) == {"type": "response.create"}
    assert wire(ResponseCancel()) == {"type": "response.cancel"}
    assert wire(Pong()) == {"type": "pong"}
    assert wire(ConversationItemTruncate(item_id="msg_4", audio_end_ms=1500)) == {
        "type": "conversation.item.truncate",
        "item_id": "msg_4",
        "content_index": 0,
        "audio_end_ms": 1500,
    }


def test_response_create_with_options() -> None:
    event = ResponseCreate(
        response=ResponseParams(
            instructions="Respond in Spanish for this turn only.",
            metadata={"my_trigger_id": "btn-checkout-42"},
            modalities=["text", "audio"],
        )
    )
    assert wire(event) == {
        "type": "response.create",
        "response": {
            "instructions": "Respond in Spanish for this turn only.",
            "metadata": {"my_trigger_id": "btn-checkout-42"},
            "modalities": ["text", "audio"],
        },
    }


# ---------------------------------------------------------------- round trips


def test_force_message_round_trip() -> None:
    event = ConversationItemCreate(
        event_id="evt_f",
        item=ForceMessageItem(
            interruptible=False, content=[OutputText(text="This call is being recorded.")]
        ),
    )
    sent = wire(event)
    assert sent == {
        "type": "conversation.item.create",
        "event_id": "evt_f",
        "item": {
            "type": "force_message",
            "role": "assistant",
            "interruptible": False,
            "content": [{"type": "output_text", "text": "This call is being recorded."}],
        },
    }
    parsed = parse_client_event(json.dumps(sent), lenient=False)
    assert parsed == event
    assert wire(parsed) == sent


def test_force_message_defaults_and_pipecat_text_spelling() -> None:
    parsed = parse_client_event(
        '{"type":"conversation.item.create","item":{"type":"force_message","role":"assistant",'
        '"content":[{"type":"text","text":"One moment."}]}}'
    )
    assert isinstance(parsed, ConversationItemCreate)
    assert isinstance(parsed.item, ForceMessageItem)
    assert parsed.item.interruptible is True
    assert parsed.item.content == [OutputText(type="text", text="One moment.")]


def test_function_call_output_round_trip() -> None:
    event = ConversationItemCreate(
        item=FunctionCallOutputItem(call_id="call_001", output='{"temp": 22}')
    )
    sent = wire(event)
    assert sent == {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "call_001", "output": '{"temp": 22}'},
    }
    assert parse_client_event(json.dumps(sent), lenient=False) == event


@pytest.mark.parametrize(
    "event",
    [
        InputAudioBufferAppend(event_id="a1", audio="AAAAAA=="),
        ConversationItemCreate(
            previous_item_id="seed_1",
            item=MessageItem(role="user", content=[InputText(text="Hello!")]),
        ),
        ConversationItemCreate(
            item=MessageItem(
                id="seed_1", role="assistant", content=[OutputText(type="text", text="Earlier")]
            )
        ),
        ConversationItemCreate(
            item=FunctionCallItem(call_id="call_1", name="get_weather", arguments='{"l":"SF"}')
        ),
        ConversationItemDelete(item_id="msg_4"),
        ConversationItemRetrieve(item_id="msg_4"),
        ResponseCancel(response_id="resp_1"),
    ],
    ids=lambda event: event.type,
)
def test_client_events_round_trip(event: Any) -> None:
    assert parse_client_event(encode_client_event(event), lenient=False) == event


# ---------------------------------------------------------------- lenient parsing (simulator)

LIVEKIT_GA_SESSION_UPDATE: dict[str, Any] = {
    "type": "session.update",
    "event_id": "lk_evt_1",
    "session": {
        "type": "realtime",
        "model": "grok-voice-latest",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "grok-transcribe"},
                "noise_reduction": None,
                "turn_detection": {"type": "server_vad", "eagerness": "auto"},
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "speed": 1.0,
                "voice": "xai_ara",
            },
        },
        "max_output_tokens": "inf",
        "tool_choice": "auto",
        "tracing": None,
        "voice": "Ara",
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 200,
            "create_response": True,
            "interrupt_response": True,
        },
        "tools": [
            {"type": "function", "name": "lookup", "parameters": {"type": "object"}},
            {"type": "function", "function": {"name": "nested", "parameters": {}}},
            {"type": "web_search", "user_location": {"type": "approximate", "country": "US"}},
        ],
    },
}


def test_lenient_parse_of_livekit_ga_session_update_drops_extras() -> None:
    parsed = parse_client_event(json.dumps(LIVEKIT_GA_SESSION_UPDATE))
    assert isinstance(parsed, SessionUpdate)
    session = parsed.session
    assert (session.type, session.voice, session.resolved_voice()) == ("realtime", "Ara", "Ara")
    assert session.turn_detection is not None and session.turn_detection.threshold == 0.5
    assert session.audio is not None and session.audio.input is not None
    assert session.audio.input.turn_detection == TurnDetection(type="server_vad")
    assert session.tools is not None
    assert [tool.type for tool in session.tools] == ["function", "function", "web_search"]
    nested = session.tools[1]
    assert isinstance(nested, FunctionTool) and nested.name == "nested"
    web = session.tools[2]
    assert isinstance(web, WebSearchTool)
    assert web.location is not None and web.location.country == "US"
    sent = json.dumps(wire(parsed))
    for dropped in ("max_output_tokens", "tool_choice", "tracing", "noise_reduction", "eagerness"):
        assert dropped not in sent


def test_strict_parse_of_livekit_session_update_names_the_extras() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_event(LIVEKIT_GA_SESSION_UPDATE, lenient=False)
    error = caught.value
    assert isinstance(error, EventParseError)
    assert (error.reason, error.event_type, error.event_id) == (
        "invalid_payload",
        "session.update",
        "lk_evt_1",
    )
    assert "eagerness" in str(error)


def test_ga_voice_is_resolved_when_top_level_voice_is_absent() -> None:
    session = SessionParams(audio=AudioParams(output=AudioOutput(voice="xai_rex")))
    assert session.resolved_voice() == "xai_rex"
    assert SessionParams().resolved_voice() is None


@pytest.mark.parametrize(
    ("raw", "reason", "event_type"),
    [
        ('{"type":"session.update",', "json", None),
        ('"input_audio_buffer.commit"', "not_object", None),
        ('{"event_id":"c1","audio":"AAAA"}', "missing_type", None),
        (
            '{"type":"output_audio_buffer.clear","event_id":"c2"}',
            "unknown_type",
            "output_audio_buffer.clear",
        ),
        (
            '{"type":"input_audio_buffer.append","event_id":"c3"}',
            "invalid_payload",
            "input_audio_buffer.append",
        ),
        (
            '{"type":"session.update","session":{"audio":{"input":{"format":{"type":"audio/pcm",'
            '"rate":96000}}}}}',
            "invalid_payload",
            "session.update",
        ),
        (
            '{"type":"session.update","session":{"tools":[{"type":"code_interpreter"}]}}',
            "invalid_payload",
            "session.update",
        ),
    ],
)
def test_bad_client_frames_raise_protocol_error(
    raw: str, reason: str, event_type: str | None
) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_event(raw)
    error = caught.value
    assert isinstance(error, EventParseError)
    assert (error.reason, error.event_type) == (reason, event_type)
    if event_type:
        assert event_type in str(error)


def test_unknown_client_type_keeps_event_id_for_the_error_echo() -> None:
    with pytest.raises(EventParseError) as caught:
        parse_client_event({"type": "conversation.item.retrieved", "event_id": "c9"})
    assert (caught.value.event_type, caught.value.event_id) == ("conversation.item.retrieved", "c9")
    clone = pickle.loads(pickle.dumps(caught.value))
    assert (clone.reason, clone.event_type, clone.event_id) == (
        "unknown_type",
        "conversation.item.retrieved",
        "c9",
    )
