"""A client nobody here wrote: the ``openai`` SDK's realtime connection against the simulator.

Each test is what a team testing its own xAI voice agent would write: no voxray code but the
``xai_simulator`` fixture (the ``voxray.testing`` pytest plugin, loaded by its entry point),
the agent's turns scripted by a rules file (``configs/sim/weather.yaml``), and assertions on
what the SDK received and on what the simulator's frame log says the SDK sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from openai import AsyncOpenAI
from voxray.testing import RunningSimulator

RULES = Path(__file__).resolve().parents[1] / "configs" / "sim" / "weather.yaml"
RATE = 24_000  # audio/pcm's default rate

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}

pytestmark = pytest.mark.xai_simulator(rules=RULES)


def client_for(sim: RunningSimulator) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=sim.base_url, api_key=sim.token, max_retries=0)


async def events_until(conn: Any, event_type: str, timeout_s: float = 30.0) -> list[Any]:
    """Every event up to and including the first ``event_type`` (an error event fails)."""
    seen: list[Any] = []
    try:
        async with asyncio.timeout(timeout_s):
            async for event in conn:
                seen.append(event)
                if event.type == "error":
                    pytest.fail(f"the simulator answered with an error: {event.error}")
                if event.type == event_type:
                    return seen
    except TimeoutError:
        pytest.fail(f"no {event_type} within {timeout_s:g} s; got {[e.type for e in seen]}")
    pytest.fail(f"the connection ended before {event_type}")


def transcript(events: list[Any]) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")


def audio_bytes(events: list[Any]) -> int:
    return sum(len(base64.b64decode(e.delta)) for e in events if e.type.endswith("audio.delta"))


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def test_text_turn(xai_simulator: RunningSimulator) -> None:
    async with client_for(xai_simulator).realtime.connect(model="grok-voice-latest") as conn:
        await conn.session.update(session={"type": "realtime", "instructions": "Be brief."})
        await events_until(conn, "session.updated")
        await conn.conversation.item.create(item=user_text("Good morning"))
        await conn.response.create()
        events = await events_until(conn, "response.done")

    assert transcript(events) == "You said: Good morning."  # the file's default_reply: echo
    assert audio_bytes(events) > 0
    done = events[-1]
    assert done.response.status == "completed"
    log = xai_simulator.closed_connection(0)
    assert log.types == ["session.update", "conversation.item.create", "response.create"]
    assert log.session_updates == [{"type": "realtime", "instructions": "Be brief."}]


async def test_voice_turn(xai_simulator: RunningSimulator) -> None:
    # The microphone opens, 0.8 s later the user speaks for 0.8 s (a loud tone stands in for
    # speech), then 0.8 s of silence: server VAD hears one turn and answers it.
    t = np.arange(int(0.8 * RATE)) / RATE
    tone = (0.3 * 32767 * np.sin(2 * np.pi * 220 * t)).astype("<i2")
    silence = np.zeros(int(0.8 * RATE), "<i2")
    audio = np.concatenate([silence, tone, silence]).tobytes()
    vad = {"type": "server_vad", "silence_duration_ms": 500}
    async with client_for(xai_simulator).realtime.connect(model="grok-voice-latest") as conn:
        await conn.session.update(
            session={"type": "realtime", "audio": {"input": {"turn_detection": vad}}}
        )
        await events_until(conn, "session.updated")
        chunk = RATE * 2 // 10  # 100 ms of PCM16 per append
        starts = range(0, len(audio), chunk)
        for start in starts:
            piece = base64.b64encode(audio[start : start + chunk]).decode()
            await conn.input_audio_buffer.append(audio=piece)
        events = await events_until(conn, "response.done")

    kinds = [e.type for e in events]
    started = kinds.index("input_audio_buffer.speech_started")
    assert started < kinds.index("input_audio_buffer.speech_stopped")
    assert kinds.index("input_audio_buffer.committed") < kinds.index("response.created")
    started_at = events[started].audio_start_ms
    assert 400 <= started_at <= 800  # speech at 800 ms, less the VAD's prefix padding
    stopped = events[kinds.index("input_audio_buffer.speech_stopped")]
    assert 2000 <= stopped.audio_end_ms <= 2200  # speech ends at 1600 ms, + ~500 ms silence
    assert transcript(events) == "I heard you speak."
    assert audio_bytes(events) > 0
    log = xai_simulator.closed_connection(0)
    assert log.audio_bytes == len(audio)
    assert len(log.sent("input_audio_buffer.append")) == len(starts)
    assert log.sent("input_audio_buffer.commit") == []  # server VAD commits; the client need not


async def test_tool_turn_scripted_from_a_rules_file(xai_simulator: RunningSimulator) -> None:
    async with client_for(xai_simulator).realtime.connect(model="grok-voice-latest") as conn:
        await conn.session.update(session={"type": "realtime", "tools": [WEATHER_TOOL]})
        await events_until(conn, "session.updated")
        await conn.conversation.item.create(item=user_text("What's the weather in Paris?"))
        await conn.response.create()
        first = await events_until(conn, "response.done")

        calls = [e for e in first if e.type == "response.function_call_arguments.done"]
        assert [(c.name, json.loads(c.arguments)) for c in calls] == [
            ("get_weather", {"city": "Paris"})
        ]
        assert transcript(first) == "Let me check."  # the rule's preamble
        output = {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"}
        await conn.conversation.item.create(item=output)
        await conn.response.create()
        second = await events_until(conn, "response.done")

    assert transcript(second) == "In Paris it is sunny."  # the rule's after_tool
    log = xai_simulator.closed_connection(0)
    sent_outputs = [
        e["item"] for e in log.sent("conversation.item.create") if e["item"]["type"] != "message"
    ]
    assert sent_outputs == [output]
    assert len(log.sent("response.create")) == 2


async def test_named_script_from_the_same_file(xai_simulator: RunningSimulator) -> None:
    # One server, several behaviours: ?script=<name> picks a script of the file's `scripts:`.
    client = client_for(xai_simulator)
    connect = client.realtime.connect(model="grok-voice-latest", extra_query={"script": "grumpy"})
    async with connect as conn:
        await conn.conversation.item.create(item=user_text("What's the weather in Paris?"))
        await conn.response.create()
        events = await events_until(conn, "response.done")
    assert transcript(events) == "Not now, please."
    assert xai_simulator.closed_connection(0).query["script"] == "grumpy"
