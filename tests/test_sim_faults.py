"""Fault injection: refused handshakes, dropped and closed sockets, injected errors, delays,
stalls, malformed frames, quirks, session limits, and faults injected while running."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import numpy as np
import pytest
import ray
import yaml
from pydantic import ValidationError
from voxray.actors.realtime.client_events import ResponseCreate, SessionUpdate
from voxray.actors.realtime.server_events import (
    ConversationItemAdded,
    ErrorEvent,
    ResponseCreated,
    ResponseDone,
    SessionUpdated,
)
from voxray.actors.realtime.session_params import SessionParams
from voxray.actors.simulator import (
    BrainScript,
    DropFault,
    ErrorFault,
    FaultPlan,
    ResponseLatency,
    Simulator,
    SimulatorConfig,
)
from voxray.actors.simulator.actor import SimulatorActor
from voxray.actors.simulator.faults import QUIRKS

from tests.test_sim_server import (
    Client,
    connect,
    speech,
    stream_audio,
    user_text,
    vad_session,
)

SPEED = 20.0
TIMEOUT_S = 20.0

SCENARIO_YAML = """
rules: [{heard: hours, reply: We open at nine.}]
faults:
  refuse: {status: 429, times: 2, retry_after_s: 1}
  max_duration_s: 30
  quirks: all
  actions:
    - {do: drop, mid_response: 1, times: 1}
    - {do: close, code: 1011, reason: restarting, after_s: 5}
    - {do: error, type: internal_error, after_events: 20}
    - {do: delay, ms: 250, events: [response.created], count: 3}
    - {do: stall, seconds: 2, on_event: response.output_audio.delta}
    - {do: malformed, after_events: 8}
    - {do: unknown_event, type: response.mystery, after_events: 9}
"""


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        speed=SPEED,
        api_keys=frozenset({"test-key"}),
        response_latency=ResponseLatency(mean_ms=100),
        ping_interval_s=None,
    )
    async with Simulator(config) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def faulty(sim: Simulator, faults: dict[str, Any] | list[Any]) -> str:
    return sim.register(BrainScript(faults=FaultPlan.model_validate(faults)))


async def raw_frames(ws: aiohttp.ClientWebSocketResponse) -> list[aiohttp.WSMessage]:
    """Every frame until the socket ends (close, error or closed)."""
    frames = []
    while True:
        msg = await ws.receive(timeout=TIMEOUT_S)
        frames.append(msg)
        if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            return frames


async def ask(client: Client, text: str = "hello") -> None:
    await client.send(user_text(text))
    await client.expect(ConversationItemAdded)
    await client.send(ResponseCreate())


# ---------------------------------------------------------------- the schema


def test_the_documented_yaml_parses() -> None:
    script = BrainScript.model_validate(yaml.safe_load(SCENARIO_YAML))
    plan = script.faults
    assert plan is not None and plan.refuse is not None
    assert (plan.refuse.status, plan.refuse.times) == (429, 2)
    assert plan.quirks == list(QUIRKS)
    assert [a.do for a in plan.actions] == [
        "drop", "close", "error", "delay", "stall", "malformed", "unknown_event"
    ]  # fmt: skip
    assert [a.do for a in plan.actions_for(2)] == [a.do for a in plan.actions[1:]]
    assert FaultPlan.model_validate([{"do": "drop"}]).actions[0].do == "drop"


@pytest.mark.parametrize(
    "bad",
    [
        {"actions": [{"do": "drop", "after_s": 1, "after_events": 3}]},  # two triggers
        {"actions": [{"do": "explode"}]},  # unknown action
        {"actions": [{"do": "error", "type": "oops"}]},  # undocumented error type
        {"refuse": {"status": 418}},
        {"quirks": ["no_such_quirk"]},
        {"actions": [{"do": "drop", "when": 3}]},  # typo
    ],
)
def test_invalid_plans_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FaultPlan.model_validate(bad)


# ---------------------------------------------------------------- handshake


async def test_refuse_the_first_connects_with_429_then_accept(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = faulty(sim, {"refuse": {"status": 429, "times": 2, "retry_after_s": 1.5}})
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(2):
        async with http.get(sim.url.replace("ws://", "http://"), headers=headers) as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "1.5"
            assert (await response.json())["error"]["code"] == "rate_limit_exceeded"
    client = await connect(http, sim, token)  # the third connect is accepted
    await client.ws.close()


async def test_refuse_every_connect_with_401(sim: Simulator, http: aiohttp.ClientSession) -> None:
    token = faulty(sim, {"refuse": {"status": 401}})
    for _ in range(3):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(sim.url, headers={"Authorization": f"Bearer {token}"})
        assert refused.value.status == 401


# ---------------------------------------------------------------- the socket


async def test_drop_mid_response_resets_the_socket_on_the_first_connection_only(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = faulty(sim, [{"do": "drop", "mid_response": 1, "times": 1}])
    client = await connect(http, sim, token)
    await ask(client)
    frames = await raw_frames(client.ws)
    types = [json.loads(f.data)["type"] for f in frames if f.type == aiohttp.WSMsgType.TEXT]
    assert types[0] == "response.created" or "response.created" in types
    assert not any(t == "response.done" for t in types), "the socket dropped mid-response"
    assert frames[-1].type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    assert client.ws.close_code in (None, 1006), "no close frame was sent"

    again = await connect(http, sim, token)  # times: 1, so the reconnect is served normally
    await ask(again)
    _, done = await again.until(ResponseDone)
    assert done.response.status == "completed"


async def test_close_with_a_code_after_n_events(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = faulty(sim, [{"do": "close", "code": 4000, "reason": "bye", "after_events": 3}])
    client = await connect(http, sim, token)
    await client.send(SessionUpdate(session=SessionParams(voice="eve")))
    frames = await raw_frames(client.ws)
    assert [f.type for f in frames] == [aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.CLOSE]
    assert json.loads(frames[0].data)["type"] == "session.updated"
    assert (frames[-1].data, frames[-1].extra) == (4000, "bye")


@pytest.mark.parametrize("error_type", ["invalid_request_error", "invalid_event", "internal_error"])
async def test_recoverable_error_events_leave_the_session_open(
    sim: Simulator, http: aiohttp.ClientSession, error_type: str
) -> None:
    token = faulty(sim, [{"do": "error", "type": error_type, "on_event": "response.created"}])
    client = await connect(http, sim, token)
    await ask(client)
    await client.expect(ResponseCreated)
    error = await client.expect(ErrorEvent)
    assert (error.error.type, error.error.code) == (error_type, error_type)
    assert error.error.message
    _, done = await client.until(ResponseDone)
    assert done.response.status == "completed"


@pytest.mark.parametrize("error_type", ["timeout", "max_duration"])
async def test_fatal_error_events_are_followed_by_a_close(
    sim: Simulator, http: aiohttp.ClientSession, error_type: str
) -> None:
    token = faulty(sim, [{"do": "error", "type": error_type, "after_s": 0}])
    ws = (await connect(http, sim, token)).ws
    frames = await raw_frames(ws)
    assert json.loads(frames[0].data)["error"]["type"] == error_type
    assert frames[-1].type == aiohttp.WSMsgType.CLOSE and frames[-1].data == 1000


async def test_max_duration_and_inactivity_end_the_session(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    started = time.monotonic()
    ws = (await connect(http, sim, faulty(sim, {"max_duration_s": 0.3}))).ws
    frames = await raw_frames(ws)
    assert time.monotonic() - started >= 0.3
    assert json.loads(frames[-2].data)["error"]["type"] == "max_duration"
    assert frames[-1].type == aiohttp.WSMsgType.CLOSE

    client = await connect(http, sim, faulty(sim, {"inactivity_timeout_s": 0.4}))
    for _ in range(3):  # activity keeps it open...
        await client.send(SessionUpdate(session=SessionParams(voice="rex")))
        await client.expect(SessionUpdated)
    frames = await raw_frames(client.ws)  # ...silence ends it
    error = json.loads(frames[-2].data)["error"]
    assert (error["type"], error["code"]) == ("timeout", "inactivity_timeout")


# ---------------------------------------------------------------- the event stream


async def test_delay_and_stall_hold_events_back_in_order(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token = faulty(
        sim,
        [
            {"do": "delay", "ms": 400, "events": ["conversation.item.added"], "count": 1},
            {"do": "stall", "seconds": 0.5, "on_event": "response.created"},
        ],
    )
    client = await connect(http, sim, token)
    sent = time.monotonic()
    await client.send(user_text("hello"))
    await client.expect(ConversationItemAdded)
    assert time.monotonic() - sent >= 0.4
    await client.send(ResponseCreate())
    await client.expect(ResponseCreated)
    created_at = time.monotonic()
    events, done = await client.until(ResponseDone)
    # The stall began as response.created left the server, a moment before the client read it
    # (0.4994 s measured once): a few milliseconds of slack, far below the 0.5 s asserted.
    assert time.monotonic() - created_at >= 0.5 - 0.01
    assert done.response.status == "completed" and len(events) > 5


async def test_malformed_and_unknown_frames(sim: Simulator, http: aiohttp.ClientSession) -> None:
    token = faulty(
        sim,
        [
            {"do": "malformed", "after_events": 2},
            {"do": "unknown_event", "type": "response.mystery", "fields": {"x": 1}, "after_s": 0},
        ],
    )
    ws = await http.ws_connect(sim.url, headers={"Authorization": f"Bearer {token}"})
    texts = [(await ws.receive(timeout=TIMEOUT_S)).data for _ in range(4)]
    parsed = []
    for text in texts:
        try:
            parsed.append(json.loads(text)["type"])
        except json.JSONDecodeError:
            parsed.append("<malformed>")
    assert parsed[:2] == ["session.created", "conversation.created"]
    assert sorted(parsed[2:]) == ["<malformed>", "response.mystery"]
    mystery = next(json.loads(t) for t in texts if "mystery" in t)
    assert mystery["event_id"] and mystery["x"] == 1
    await ws.close()


async def test_quirks_reproduce_the_observed_wire_deviations(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    client = await connect(http, sim, faulty(sim, {"quirks": "all"}))
    await client.send(vad_session())
    updated = await client.ws.receive_json(timeout=TIMEOUT_S)
    assert updated["session"]["tool_choice"] == "not implemented"
    await stream_audio(client, np.concatenate((speech("Hello there."), np.zeros(24_000, np.int16))))
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["type"] != "response.done":
        frames.append(await client.ws.receive_json(timeout=TIMEOUT_S))
    by_type: dict[str, list[dict[str, Any]]] = {}
    for frame in frames:
        by_type.setdefault(frame["type"], []).append(frame)
    assert "audio_start_ms" not in by_type["input_audio_buffer.speech_started"][0]
    completed = by_type["conversation.item.input_audio_transcription.completed"]
    assert len(completed) == 2 and completed[0]["event_id"] != completed[1]["event_id"]
    assert by_type["response.created"][0]["response"]["status_details"] == "unimplemented"
    for kind in ("response.output_audio.done", "response.output_audio_transcript.delta"):
        assert "output_index" not in by_type[kind][0] and "content_index" not in by_type[kind][0]
    assert "part" not in by_type["response.content_part.done"][0]
    assert by_type["response.done"][0]["response"]["usage"] == {}


# ---------------------------------------------------------------- while running


async def test_inject_while_running_targets_one_token_or_everyone(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    token_a, token_b = sim.register(BrainScript()), sim.register(BrainScript())
    a, b = await connect(http, sim, token_a), await connect(http, sim, token_b)
    assert await sim.inject(ErrorFault(type="internal_error", message="boom"), token_a) == 1
    assert (await a.expect(ErrorEvent)).error.message == "boom"
    await b.send(SessionUpdate(session=SessionParams(voice="eve")))
    await b.expect(SessionUpdated)  # b got nothing injected

    assert await sim.inject(DropFault()) == 2
    for client in (a, b):
        frames = await raw_frames(client.ws)
        assert frames[-1].type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)

    await sim.inject(FaultPlan.model_validate({"refuse": {"status": 503, "times": 1}}), token_a)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(sim.url, headers={"Authorization": f"Bearer {token_a}"})
    assert refused.value.status == 503
    await (await connect(http, sim, token_a)).ws.close()  # only the next one was refused
    with pytest.raises(KeyError):
        await sim.inject(DropFault(), "no-such-token")


async def test_global_faults_apply_to_every_session(http: aiohttp.ClientSession) -> None:
    plan = FaultPlan.model_validate(
        {"actions": [{"do": "error", "type": "internal_error", "after_events": 3, "times": 2}]}
    )
    config = SimulatorConfig(
        speed=SPEED, api_keys=frozenset({"test-key"}), faults=plan, ping_interval_s=None
    )
    async with Simulator(config) as sim:
        for expected_error in (True, True, False):
            client = await connect(http, sim, sim.register(BrainScript()))
            await client.send(SessionUpdate(session=SessionParams(voice="eve")))
            await client.expect(SessionUpdated)
            if expected_error:
                assert (await client.expect(ErrorEvent)).error.type == "internal_error"
            await client.ws.close()


@pytest.mark.ray
async def test_simulator_actor_injects_faults(
    ray_cluster: None, http: aiohttp.ClientSession
) -> None:
    handle = SimulatorActor.remote()
    try:
        url = await handle.start.remote(SimulatorConfig(speed=SPEED, ping_interval_s=None))
        token = await handle.register.remote(BrainScript())
        ws = await http.ws_connect(url, headers={"Authorization": f"Bearer {token}"})
        await ws.receive_json(timeout=TIMEOUT_S)
        await ws.receive_json(timeout=TIMEOUT_S)
        assert await handle.inject.remote(ErrorFault(type="invalid_event"), token) == 1
        assert (await ws.receive_json(timeout=TIMEOUT_S))["error"]["type"] == "invalid_event"
        await ws.close()
        await handle.stop.remote()
    finally:
        ray.kill(handle)
