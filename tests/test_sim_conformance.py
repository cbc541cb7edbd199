"""Conformance: one scripted conversation through every sequence of protocol reference §6, with
every event the simulator sends validated against the GA realtime types of the ``openai``
package (``openai.types.realtime``, dispatched on ``type`` as in §10).

The OpenAI models are a compatibility lint ("would an OpenAI-GA-typed client accept this?").
xAI deviates from GA in documented ways; each deviation below is normalised away before
validation and named in :data:`DEVIATIONS` with the reference section that documents it.
Anything else that fails validation is a simulator bug. Every §6 event type must also have
been seen, so the conversation cannot silently stop covering a sequence.
"""

from __future__ import annotations

import base64
import copy
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any, Final, TypeVar, get_args

import aiohttp
import numpy as np
import pytest
from pydantic import BaseModel, ValidationError
from voxray.actors.realtime.client_events import (
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
    ConversationItemCreated,
    ConversationItemDeleted,
    ConversationItemTruncated,
    ErrorEvent,
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferTimeoutTriggered,
    McpListToolsCompleted,
    ResponseDone,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioDelta,
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
    McpTool,
    Resumption,
    SessionParams,
    Tool,
    Transcription,
    TurnDetection,
    WebSearchTool,
)
from voxray.actors.simulator import (
    BrainRule,
    BrainScript,
    ResponseLatency,
    ScriptedCall,
    Simulator,
    SimulatorConfig,
)

from tests.test_sim_server import RATE, Client, speech

SPEED = 30.0
TIMEOUT_S = 20.0
E = TypeVar("E", bound=ServerEvent)

DEVIATIONS: Final[dict[str, str]] = {
    "session_type": "session.created/updated carry no session.type: xAI neither needs nor "
    "echoes it (§3, §8, §10)",
    "pcm_rate": "audio/pcm at rates other than 24 kHz: GA allows only 24000 (§2.3, §10)",
    "xai_tools": "xAI server-side tools web_search/x_search/file_search in the session (§3.1)",
    "assistant_parts": "assistant content parts typed audio/text, not GA output_audio/output_text "
    "(§5 response.output_item.done, observed by AGSW)",
    "call_without_arguments": "function_call items carry no arguments until they are done (§5 "
    "response.output_item.added)",
    "xai_only_event": "event types with no GA model: ping, response.text.delta, "
    "conversation.item.input_audio_transcription.updated (§5, §10)",
}
"""The allowed differences from the OpenAI GA types, each with where the reference documents it."""

XAI_ONLY_TYPES: Final = frozenset(
    {"ping", "response.text.delta", "conversation.item.input_audio_transcription.updated"}
)
XAI_TOOL_TYPES: Final = frozenset({"web_search", "x_search", "file_search"})

EXPECTED_TYPES: Final = frozenset(
    {
        # §6.1 session start
        "session.created",
        "conversation.created",
        "session.updated",
        # §6.2 voice turn with server VAD (and §6.8 barge-in)
        "input_audio_buffer.speech_started",
        "conversation.item.input_audio_transcription.updated",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
        # §6.3 manual turn
        "input_audio_buffer.cleared",
        # §6.4 text output (text-only session)
        "response.text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        # §6.5 function calls
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        # §6.6 MCP listing
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        # §6.8 truncate, delete
        "conversation.item.truncated",
        "conversation.item.deleted",
        # §6.9 errors
        "error",
        # §6.10 resumption, §6.11 idle timeout, keepalive
        "conversation.item.created",
        "input_audio_buffer.timeout_triggered",
        "ping",
    }
)


def _ga_models() -> dict[str, type[BaseModel]]:
    from openai.types.realtime import RealtimeServerEvent

    out: dict[str, type[BaseModel]] = {}
    for cls in get_args(get_args(RealtimeServerEvent)[0]):
        for literal in get_args(cls.model_fields["type"].annotation):
            out[literal] = cls
    return out


def _assistant_parts(item: dict[str, Any], used: set[str]) -> None:
    if item.get("type") == "message" and item.get("role") == "assistant":
        for part in item.get("content") or []:
            if part.get("type") in ("audio", "text"):
                part["type"] = "output_" + part["type"]
                used.add("assistant_parts")
    if item.get("type") == "function_call" and "arguments" not in item:
        item["arguments"] = ""
        used.add("call_without_arguments")


def _session(session: dict[str, Any], used: set[str]) -> None:
    if "type" not in session:
        session["type"] = "realtime"
        used.add("session_type")
    for direction in ("input", "output"):
        fmt = (session.get("audio") or {}).get(direction, {}).get("format") or {}
        if fmt.get("type") == "audio/pcm" and fmt.get("rate") != 24000:
            fmt["rate"] = 24000
            used.add("pcm_rate")
    tools = session.get("tools") or []
    kept = [tool for tool in tools if tool.get("type") not in XAI_TOOL_TYPES]
    if len(kept) != len(tools):
        session["tools"] = kept
        used.add("xai_tools")


def normalise(frame: dict[str, Any], used: set[str]) -> dict[str, Any]:
    """``frame`` with the documented xAI deviations turned into their GA form."""
    event = copy.deepcopy(frame)
    if event["type"] in ("session.created", "session.updated"):
        _session(event["session"], used)
    if isinstance(event.get("item"), dict):
        _assistant_parts(event["item"], used)
    response = event.get("response")
    if isinstance(response, dict):
        for item in response.get("output") or []:
            _assistant_parts(item, used)
    return event


class Recorder(Client):
    """A client that also keeps every raw frame; keepalive pings are recorded, not returned."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        super().__init__(ws)
        self.frames: list[dict[str, Any]] = []

    async def next(self) -> ServerEvent:
        while True:
            msg = await self.ws.receive(timeout=TIMEOUT_S)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            frame = json.loads(msg.data)
            self.frames.append(frame)
            event = parse_server_event(frame)
            assert not isinstance(event, UnknownServerEvent), frame
            if event.type != "ping":  # keepalives interleave anywhere
                return event

    async def stream(self, samples: np.ndarray[Any, Any], chunk_ms: int = 100) -> None:
        step = RATE * chunk_ms // 1000
        for offset in range(0, samples.size, step):
            chunk = samples[offset : offset + step].tobytes()
            await self.send(InputAudioBufferAppend(audio=base64.b64encode(chunk).decode()))

    async def respond(self, **params: Any) -> tuple[list[ServerEvent], ResponseDone]:
        await self.send(ResponseCreate(response=ResponseParams(**params) if params else None))
        return await self.until(ResponseDone)

    async def say(self, text: str) -> None:
        item = MessageItem(role="user", content=[InputText(text=text)])
        await self.send(ConversationItemCreate(item=item))
        await self.expect(ConversationItemAdded)


SCRIPT = BrainScript(
    rules=[
        BrainRule(
            heard="weather",
            preamble="Let me check.",
            calls=[ScriptedCall(name="get_weather", arguments={"city": "Paris"})],
            after_tool="It is {output}.",
        ),
        BrainRule(
            heard=r"book (?P<a>\w+) and (?P<b>\w+)",
            calls=[
                ScriptedCall(name="book", arguments={"item": "{a}"}),
                ScriptedCall(name="book", arguments={"item": "{b}"}),
            ],
            after_tool="Booked: {outputs}.",
        ),
        BrainRule(heard="story", reply=" ".join(["Once upon a time, far away."] * 12)),
    ],
    idle_reply="Are you still there?",
)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        speed=SPEED, ping_interval_s=0.25, response_latency=ResponseLatency(mean_ms=150)
    )
    async with Simulator(config) as simulator:
        yield simulator


async def _connect(http: aiohttp.ClientSession, url: str, token: str) -> Recorder:
    ws = await http.ws_connect(url, headers={"Authorization": f"Bearer {token}"})
    return Recorder(ws)


async def _first_connection(client: Recorder) -> str:
    """Every §6 sequence but resumption; returns the conversation id."""
    await client.expect(SessionCreated)  # §6.1
    conversation = (await client.expect(ConversationCreated)).conversation.id
    tools: list[Tool] = [
        FunctionTool(name="get_weather", parameters={"type": "object"}),
        FunctionTool(name="book", parameters={"type": "object"}),
        WebSearchTool(),
    ]
    audio = AudioParams(
        input=AudioInput(
            format=AudioFormat(type="audio/pcm", rate=RATE),
            transcription=Transcription(model="grok-transcribe"),
        ),
        output=AudioOutput(format=AudioFormat(type="audio/pcm", rate=16000)),
    )
    vad = TurnDetection(type="server_vad", silence_duration_ms=300)
    session = SessionParams(
        instructions="Be brief.",
        voice="eve",
        turn_detection=vad,
        audio=audio,
        tools=tools,
        resumption=Resumption(enabled=True),
        replace={"Paris": "Pah-ree"},
    )
    await client.send(SessionUpdate(session=session))
    await client.expect(SessionUpdated)

    # §6.2 voice turn with server VAD.
    silence = np.zeros(RATE, np.int16)
    await client.stream(
        np.concatenate((silence[: RATE // 2], speech("Hello, how are you?"), silence))
    )
    _, done = await client.until(ResponseDone)
    assert done.response.status == "completed"

    # §6.4 text turn with instructions and metadata.
    await client.say("Good morning")
    _, done = await client.respond(instructions="Answer kindly.", metadata={"turn": "text"})
    assert done.response.metadata == {"turn": "text"}

    # §6.5 function call, then parallel calls.
    await client.say("What is the weather?")
    events, _ = await client.respond()
    (call,) = [e for e in events if isinstance(e, ResponseFunctionCallArgumentsDone)]
    await client.send(
        ConversationItemCreate(item=FunctionCallOutputItem(call_id=call.call_id, output="sunny"))
    )
    await client.expect(ConversationItemAdded)
    await client.respond()
    await client.say("Please book flights and hotels")
    events, _ = await client.respond()
    calls = [e for e in events if isinstance(e, ResponseFunctionCallArgumentsDone)]
    assert len(calls) == 2
    for parallel in calls:
        output = FunctionCallOutputItem(call_id=parallel.call_id, output='{"ok": true}')
        await client.send(ConversationItemCreate(item=output))
        await client.expect(ConversationItemAdded)
    await client.respond()

    # §6.7 force message.
    force = ForceMessageItem(content=[OutputText(text="This call is recorded.")])
    await client.send(ConversationItemCreate(item=force))
    await client.until(ResponseDone)

    # §6.8 barge-in: auto-cancel, the client's cancel (a benign error), truncate, new turn.
    await client.say("Tell me a story")
    await client.send(ResponseCreate())
    events, delta = await client.until(ResponseOutputAudioDelta)
    await client.stream(speech("Stop, please."))
    await client.until(InputAudioBufferSpeechStarted)
    _, cancelled = await client.until(ResponseDone)
    assert cancelled.response.status == "cancelled"
    await client.send(ResponseCancel())
    _, benign = await client.until(ErrorEvent)
    assert "no active response" in benign.error.message
    await client.send(ConversationItemTruncate(item_id=delta.item_id, audio_end_ms=20))
    await client.until(ConversationItemTruncated)
    await client.stream(silence)
    _, done = await client.until(ResponseDone)
    assert done.response.status == "completed"
    await client.send(ConversationItemDelete(item_id=delta.item_id))
    await client.expect(ConversationItemDeleted)

    # §6.9 errors: each refused, the session goes on.
    await client.say("Tell me a story")
    await client.send(ResponseCreate())
    await client.send(ResponseCreate())
    await client.until(ErrorEvent)
    await client.send(ResponseCancel())
    await client.until(ResponseDone)
    await client.send(InputAudioBufferCommit())  # not with server VAD
    await client.expect(ErrorEvent)
    await client.ws.send_str('{"type": "no.such.event"}')
    await client.expect(ErrorEvent)
    await client.ws.send_str("{not json")
    await client.expect(ErrorEvent)
    # Audio that is not strict base64, in the compact shape the fast path takes and in one
    # it does not (a space after the colon): both refused as invalid_audio.
    await client.ws.send_str('{"type":"input_audio_buffer.append","audio":"AAA=AAAA"}')
    assert (await client.expect(ErrorEvent)).error.code == "invalid_audio"
    await client.ws.send_str('{"type": "input_audio_buffer.append", "audio": "AA AA"}')
    assert (await client.expect(ErrorEvent)).error.code == "invalid_audio"
    opus = AudioParams(output=AudioOutput(format=AudioFormat(type="audio/opus")))
    await client.send(SessionUpdate(session=SessionParams(audio=opus)))
    assert (await client.expect(ErrorEvent)).error.code == "invalid_audio_format"

    # §6.3 manual turn; clear; empty commit.
    await client.send(SessionUpdate(session=SessionParams(turn_detection=None)))
    await client.expect(SessionUpdated)
    await client.stream(speech("Manual turn."))
    await client.send(InputAudioBufferCommit())
    await client.expect(InputAudioBufferCommitted)
    await client.respond()
    await client.stream(silence)
    await client.send(InputAudioBufferClear())
    await client.until(InputAudioBufferCleared)
    await client.send(InputAudioBufferCommit())
    assert (await client.expect(ErrorEvent)).error.code == "input_audio_buffer_commit_empty"

    # Text output, both delta names (§5); MCP tool listing (§6.6).
    await client.send(SessionUpdate(session=SessionParams(modalities=["text"])))
    await client.expect(SessionUpdated)
    await client.say("Write it down")
    await client.respond()
    mcp = McpTool(server_url="https://mcp.example.com/mcp", server_label="shop")
    update = SessionParams(modalities=["audio"], tools=[*tools, mcp])
    await client.send(SessionUpdate(session=update))
    await client.until(McpListToolsCompleted)

    # §6.11 idle timeout: a silent turn, then a check-in.
    idle = TurnDetection(type="server_vad", silence_duration_ms=300, idle_timeout_ms=1000)
    await client.send(SessionUpdate(session=SessionParams(turn_detection=idle)))
    await client.until(InputAudioBufferTimeoutTriggered)
    _, done = await client.until(ResponseDone)
    assert done.response.status == "completed"
    await client.send(SessionUpdate(session=SessionParams(turn_detection=vad)))
    await client.until(SessionUpdated)
    await client.ws.close()
    return conversation


def _history(frames: list[dict[str, Any]]) -> list[str]:
    """Ids of the items a conversation holds after ``frames``: added, minus deleted."""
    items: dict[str, None] = {}
    for frame in frames:
        if frame["type"] == "conversation.item.added":
            items[frame["item"]["id"]] = None
        elif frame["type"] == "conversation.item.deleted":
            items.pop(frame["item_id"], None)
    return list(items)


async def test_a_full_conversation_conforms_to_the_ga_types(sim: Simulator) -> None:
    token = sim.register(SCRIPT)
    async with aiohttp.ClientSession() as http:
        first = await _connect(http, sim.url, token)
        conversation_id = await _first_connection(first)

        # §6.10 resumption: the history is replayed on a new connection.
        second = await _connect(http, f"{sim.url}?conversation_id={conversation_id}", token)
        await second.expect(SessionCreated)
        assert (await second.expect(ConversationCreated)).conversation.id == conversation_id
        resume = SessionParams(resumption=Resumption(enabled=True))
        await second.send(SessionUpdate(session=resume))
        await second.expect(SessionUpdated)
        history = _history(first.frames)
        replayed = [await second.expect(ConversationItemCreated) for _ in history]
        assert [event.item.id for event in replayed] == history
        await second.ws.close()

    frames = first.frames + second.frames
    seen = Counter(frame["type"] for frame in frames)
    assert set(seen) >= EXPECTED_TYPES, f"sequences not covered: {EXPECTED_TYPES - set(seen)}"

    models = _ga_models()
    used: set[str] = set()
    failures: list[str] = []
    event_ids = [frame.get("event_id") for frame in frames]
    assert all(event_ids) and len(set(event_ids)) == len(event_ids), "unique event_id each"
    for frame in frames:
        kind = frame["type"]
        model = models.get(kind)
        if model is None:
            assert kind in XAI_ONLY_TYPES, f"{kind} has no GA model and is not an xAI extension"
            used.add("xai_only_event")
            continue
        try:
            model.model_validate(normalise(frame, used))
        except ValidationError as error:
            failures.append(f"{kind}: {error.errors(include_url=False)[:2]}\n  {frame}")
    assert not failures, f"{len(failures)} events fail the GA types:\n" + "\n".join(failures[:5])
    assert used <= set(DEVIATIONS)
