"""The one session.update a session sends, and the URL it connects to."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError
from voxray.actors.conversation.agent import AgentConfig, XSearchConfig
from voxray.actors.conversation.endpoint import ProviderEndpoint
from voxray.actors.conversation.session_update import build_session_update


def test_default_agent_sends_voice_instructions_vad_and_formats_but_no_null_tools() -> None:
    wire = build_session_update(AgentConfig(instructions="Be brief.")).to_wire()
    session = wire["session"]
    assert wire["type"] == "session.update"
    assert session["instructions"] == "Be brief."
    assert session["voice"] == "ara"
    assert session["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.85,
        "prefix_padding_ms": 333,
        "silence_duration_ms": 500,
    }
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert "tools" not in session, "never send tools: null (a defect of the starting point)"


def test_manual_turns_send_turn_detection_null() -> None:
    session = build_session_update(AgentConfig(turn_detection=None)).to_wire()["session"]
    assert "turn_detection" in session and session["turn_detection"] is None


def test_function_and_builtin_tools_are_flat() -> None:
    agent = AgentConfig(
        tools=["voxray.examples.tools:get_weather"],  # type: ignore[list-item]
        x_search=XSearchConfig(allowed_x_handles=("xai",)),
    )
    tools = build_session_update(agent).to_wire()["session"]["tools"]
    assert tools[0]["type"] == "function" and tools[0]["name"] == "get_weather"
    assert "city" in tools[0]["parameters"]["properties"]
    assert tools[1] == {"type": "x_search", "allowed_x_handles": ["xai"]}


def test_g711_formats_carry_no_rate() -> None:
    agent = AgentConfig.model_validate({"input_audio": {"encoding": "pcmu", "rate": 8000}})
    session = build_session_update(agent).to_wire()["session"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}


def test_voice_is_case_insensitive_and_validated() -> None:
    assert AgentConfig(voice="Eve").voice == "eve"
    assert AgentConfig(voice="xai_Rex").voice == "rex"
    with pytest.raises(ValidationError, match="unknown voice"):
        AgentConfig(voice="bob")


def test_x_search_filters_are_exclusive_and_bounded() -> None:
    with pytest.raises(ValidationError, match="not both"):
        XSearchConfig(allowed_x_handles=("a",), excluded_x_handles=("b",))
    with pytest.raises(ValidationError):
        XSearchConfig(allowed_x_handles=tuple(f"h{i}" for i in range(21)))


def test_model_goes_in_the_query_string() -> None:
    endpoint = ProviderEndpoint(url="wss://api.x.ai/v1/realtime", api_key=SecretStr("k"))
    assert endpoint.connect_url("grok-voice-latest").endswith(
        "/v1/realtime?model=grok-voice-latest"
    )
    replaced = ProviderEndpoint(url="ws://h/v1/realtime?model=old&x=1", api_key=SecretStr("k"))
    assert replaced.connect_url("new") == "ws://h/v1/realtime?x=1&model=new"


def test_fast_append_encoding_equals_the_wire_model() -> None:
    import base64
    import json

    from voxray.actors.realtime.client_events import InputAudioBufferAppend
    from voxray.actors.realtime.transport import encode_append

    payload = base64.b64encode(bytes(range(256)) * 4).decode("ascii")
    assert encode_append(payload) == InputAudioBufferAppend(audio=payload).to_json()
    assert json.loads(encode_append(payload)) == {
        "type": "input_audio_buffer.append",
        "audio": payload,
    }


def test_tool_entries_keep_their_options_and_reject_unknown_keys() -> None:
    agent = AgentConfig.model_validate(
        {
            "tools": [
                {
                    "ref": "voxray.examples.tools:get_weather",
                    "timeout_s": 2.5,
                    "runtime_env": {"env_vars": {"WEATHER_UNITS": "metric"}},
                }
            ]
        }
    )
    (spec,) = agent.tools
    assert spec.timeout_s == 2.5
    assert spec.runtime_env == {"env_vars": {"WEATHER_UNITS": "metric"}}
    with pytest.raises(ValidationError, match="timeout"):
        AgentConfig.model_validate(
            {"tools": [{"ref": "voxray.examples.tools:get_weather", "timeout": 2}]}
        )
