"""Cassettes: record a session, replay it from the simulator, catch a client that departs from
it, and never write a key. Engine-level (no Ray): the simulator and hostile servers on
127.0.0.1, the session played as the actor plays it."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from aiohttp import WSMsgType, web
from pydantic import SecretStr
from voxray.actors.cassette import (
    CassetteRecorder,
    CassetteRefusedError,
    load_cassette,
    save_cassette,
)
from voxray.actors.cassette.format import FRAMES_FILE, Cassette, CassetteFrame, CassetteMeta
from voxray.actors.cassette.voiced import VoicedMeter
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.events import ResponseFinished
from voxray.actors.conversation.live import LiveConversation, LiveSessionRequest
from voxray.actors.conversation.result import SessionResult
from voxray.actors.conversation.script import SayTurn, ScenarioScript, TextTurn
from voxray.actors.session import SessionRequest, play_scenario
from voxray.actors.simulator.faults import DropFault, FaultPlan
from voxray.actors.simulator.rules import BrainRule, BrainScript
from voxray.actors.simulator.server import Simulator
from voxray.actors.tools.inprocess import InProcessToolBackend
from voxray.evals.cassettes import CassettePlan, replay_divergences
from voxray.evals.suite import ScenarioSpec, load_suite
from voxray.examples import SUITES_DIR

from tests.conftest import TEST_SPEED
from tests.local_websocket import serve_websocket

KEY = "xai-cassette-0123456789abcdefghijklmnop"
ENV_TOKEN = "tok-from-the-environment-4242"


def _smoke(name: str) -> ScenarioSpec:
    (spec,) = [s for s in load_suite(SUITES_DIR / "smoke.yaml").scenarios if s.name == name]
    return spec


async def _run(
    simulator: Simulator,
    spec: ScenarioSpec,
    *,
    record: Path | None = None,
    replay: Path | None = None,
    agent: AgentConfig | None = None,
) -> SessionResult:
    script = spec.sim_script()
    if replay is not None:
        script = script.model_copy(update={"replay": str(replay)})
    request = SessionRequest(
        session_id=spec.name,
        agent=agent or spec.agent,
        script=spec.script(),
        endpoint=ProviderEndpoint(url=simulator.url, api_key=SecretStr(simulator.register(script))),
        tuning=EngineTuning(speed=TEST_SPEED, connect_timeout_s=5),
        record_dir=str(record) if record is not None else None,
    )
    return await play_scenario(request, InProcessToolBackend())


@pytest.mark.parametrize("name", ["spoken-question", "typed-question", "spoken-tool-call"])
async def test_a_recorded_smoke_scenario_replays_the_same_conversation(
    simulator: Simulator, tmp_path: Path, name: str
) -> None:
    spec = _smoke(name)
    recorded = await _run(simulator, spec, record=tmp_path / "rec")
    assert recorded.status == "completed", recorded.error
    # The replay is itself recorded: what the client got can be compared byte for byte.
    replayed = await _run(simulator, spec, replay=tmp_path / "rec", record=tmp_path / "again")
    assert replayed.status == "completed", replayed.error
    assert [t.agent_transcript for t in replayed.turns] == [
        t.agent_transcript for t in recorded.turns
    ]
    first, second = load_cassette(tmp_path / "rec"), load_cassette(tmp_path / "again")
    assert second.server_audio == first.server_audio  # output audio as recorded
    assert [f.type for f in second.frames if not f.outbound] == [
        f.type for f in first.frames if not f.outbound
    ]
    session_ids = [
        f.event["session"]["id"]
        for f in (first.frames + second.frames)
        if f.event is not None and f.type == "session.created"
    ]
    assert len(set(session_ids)) == 2  # ids rewritten per connection
    assert [c.output for c in second.meta.tool_outputs] == [
        c.output for c in first.meta.tool_outputs
    ]


async def test_cassette_keeps_audio_in_files_and_the_session_config(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = _smoke("spoken-tool-call")
    result = await _run(simulator, spec, record=tmp_path / "c")
    assert result.status == "completed", result.error
    cassette = load_cassette(tmp_path / "c")
    meta = cassette.meta
    assert meta.session is not None and meta.session["instructions"] == spec.agent.instructions
    assert meta.headers == {"Authorization": "Bearer [redacted]"}
    (call,) = meta.tool_outputs
    assert call.name == "get_weather" and json.loads(call.arguments or "") == {"city": "Paris"}
    assert "celsius" in (call.output or "")
    frames_text = (tmp_path / "c" / FRAMES_FILE).read_text()
    assert '"$audio"' in frames_text and len(cassette.client_audio) > 24_000
    assert len(cassette.server_audio) > 24_000
    times = [frame.t_s for frame in cassette.frames]
    assert times == sorted(times) and times[0] >= 0


async def test_a_changed_instruction_fails_replay_naming_it(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = _smoke("typed-question")
    assert (await _run(simulator, spec, record=tmp_path / "c")).status == "completed"
    changed = spec.agent.model_copy(update={"instructions": "You are a pirate."})
    result = await _run(simulator, spec, replay=tmp_path / "c", agent=changed)
    assert result.status != "completed"
    assert result.error is not None
    message = result.error
    assert "replay diverged" in message and "session.update" in message
    assert "session.instructions" in message and "You are a pirate." in message


async def test_another_tool_argument_fails_replay_naming_the_tool_output(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = _smoke("spoken-tool-call")
    assert (await _run(simulator, spec, record=tmp_path / "c")).status == "completed"
    frames = tmp_path / "c" / FRAMES_FILE
    lines = frames.read_text().splitlines()
    # The recorded model now asks for Oslo: the tool answers for Oslo, not what was recorded.
    planted = [
        line.replace('{\\"city\\":\\"Paris\\"}', '{\\"city\\":\\"Oslo\\"}')
        if '"dir":"server"' in line
        else line
        for line in lines
    ]
    assert planted != lines
    frames.write_text("\n".join(planted) + "\n")
    result = await _run(simulator, spec, replay=tmp_path / "c")
    assert result.status != "completed" and result.error is not None
    message = result.error
    assert "conversation.item.create" in message and "item.output" in message
    assert "Oslo" in message


async def test_a_missing_response_create_fails_replay_naming_it(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = _smoke("typed-question")
    assert (await _run(simulator, spec, record=tmp_path / "c")).status == "completed"
    frames = tmp_path / "c" / FRAMES_FILE
    lines = frames.read_text().splitlines()
    # The recording has a response.create the client will not send (as if a change dropped it).
    (index,) = [i for i, line in enumerate(lines) if '"type":"response.create"' in line]
    lines.insert(index + 1, lines[index])
    frames.write_text("\n".join(lines) + "\n")
    result = await _run(simulator, spec, replay=tmp_path / "c")
    assert result.status != "completed" and result.error is not None
    message = result.error
    assert "response.create" in message and "never sent it" in message
    assert f"recorded frame #{index + 1}" in message


async def test_a_shorter_utterance_fails_replay_naming_the_voiced_audio(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = _smoke("spoken-question")
    assert (await _run(simulator, spec, record=tmp_path / "c")).status == "completed"
    shorter = spec.model_copy(update={"turns": [SayTurn(say="Open?")]})
    result = await _run(simulator, shorter, replay=tmp_path / "c")
    assert result.status != "completed" and result.error is not None
    message = result.error
    assert "voiced input audio" in message and "input_audio_buffer" in message


def test_voiced_audio_does_not_depend_on_chunking_or_silence() -> None:
    meter = VoicedMeter({"type": "audio/pcm", "rate": 24_000})
    tone = (np.sin(np.arange(24_000) * 0.05) * 8_000).astype("<i2").tobytes()  # 1 s
    silence = bytes(2 * 24_000)
    one_piece = meter.voiced_bytes(silence + tone + silence)
    chunks = [tone[i : i + 2_880] for i in range(0, len(tone), 2_880)]  # 60 ms appends
    chunked = sum(meter.voiced_bytes(chunk) for chunk in [silence, *chunks, silence, silence])
    assert one_piece == len(tone)
    assert abs(chunked - one_piece) <= 2 * 960  # a 20 ms window at most per odd chunk edge


async def test_a_recorded_reconnect_is_replayed(simulator: Simulator, tmp_path: Path) -> None:
    spec = _smoke("typed-question")
    dropping = spec.sim_script().model_copy(
        update={"faults": FaultPlan(actions=[DropFault(mid_response=1, times=1)])}
    )
    spec = spec.model_copy(update={"sim": dropping})
    recorded = await _run(simulator, spec, record=tmp_path / "c")
    assert recorded.status == "completed", recorded.error
    assert load_cassette(tmp_path / "c").meta.connections == 2
    replayed = await _run(simulator, spec, replay=tmp_path / "c", record=tmp_path / "again")
    assert replayed.status == "completed", replayed.error
    again = load_cassette(tmp_path / "again")
    assert again.meta.connections == 2  # the client reconnected where it did when recorded
    assert [t.agent_transcript for t in replayed.turns] == [
        t.agent_transcript for t in recorded.turns
    ]


async def test_a_recorded_live_session_replays_as_a_regression_scenario(
    simulator: Simulator, tmp_path: Path
) -> None:
    rules = BrainScript(rules=[BrainRule(heard="hours", reply="Nine to six.")])
    request = LiveSessionRequest(
        session_id="live",
        agent=AgentConfig(),
        endpoint=ProviderEndpoint(url=simulator.url, api_key=SecretStr(simulator.register(rules))),
        tuning=EngineTuning(speed=TEST_SPEED, connect_timeout_s=5),
        cassette_dir=str(tmp_path / "call"),
    )
    live = LiveConversation(request, InProcessToolBackend())
    await live.start()
    try:
        live.send_text("What are your hours?")
        async for event in live.events():
            if isinstance(event, ResponseFinished):
                break
    finally:
        await live.aclose()
    assert load_cassette(tmp_path / "call").meta.session is not None
    # The call, as a scenario: the same typed turn, served from the cassette.
    replay = BrainScript(replay=str(tmp_path / "call"))
    scenario = SessionRequest(
        session_id="regression",
        agent=AgentConfig(),
        script=ScenarioScript(turns=(TextTurn(text="What are your hours?"),)),
        endpoint=ProviderEndpoint(url=simulator.url, api_key=SecretStr(simulator.register(replay))),
        tuning=EngineTuning(speed=TEST_SPEED, connect_timeout_s=5),
    )
    result = await play_scenario(scenario, InProcessToolBackend())
    assert result.status == "completed", result.error
    assert "nine to six" in result.turns[0].agent_transcript.lower()
    # ...and a changed question is caught.
    changed = scenario.model_copy(
        update={"script": ScenarioScript(turns=(TextTurn(text="Are you open on Sunday?"),))}
    )
    failed = await play_scenario(changed, InProcessToolBackend())
    assert failed.error is not None and "Are you open on Sunday?" in failed.error


async def test_a_client_that_hangs_up_early_fails_the_run_when_the_driver_asks(
    simulator: Simulator, tmp_path: Path
) -> None:
    spec = _smoke("typed-question")
    two_turns = spec.model_copy(
        update={"turns": [TextTurn(text="What are your opening hours?"), TextTurn(text="Thanks")]}
    )
    assert (await _run(simulator, two_turns, record=tmp_path / "c")).status == "completed"
    # The second turn removed: the client hangs up before sending it, and cannot be told.
    script = spec.sim_script().model_copy(update={"replay": str(tmp_path / "c")})
    endpoint = ProviderEndpoint(url=simulator.url, api_key=SecretStr(simulator.register(script)))
    request = SessionRequest(
        session_id="early",
        agent=spec.agent,
        script=spec.script(),
        endpoint=endpoint,
        tuning=EngineTuning(speed=TEST_SPEED, connect_timeout_s=5),
    )
    result = await play_scenario(request, InProcessToolBackend())
    assert result.status == "completed"  # as far as the client knows
    (divergence,) = await replay_divergences(endpoint)
    assert "conversation.item.create" in divergence and "never sent it" in divergence
    judged = await CassettePlan(replay_root=tmp_path).judged(result, endpoint)
    assert judged.status == "failed" and judged.error is not None
    assert "replay diverged" in judged.error and "never sent it" in judged.error
    assert judged.error_info is not None and judged.error_info.type == "ProviderError"


async def test_a_missing_cassette_fails_the_run_naming_the_file(
    simulator: Simulator, tmp_path: Path
) -> None:
    result = await _run(simulator, _smoke("typed-question"), replay=tmp_path / "nowhere")
    assert result.status != "completed" and result.error is not None
    assert str(tmp_path / "nowhere") in result.error


# --- redaction ----------------------------------------------------------------------------


async def _echo_everything(request: web.Request) -> web.StreamResponse:
    """A hostile endpoint: quotes the Authorization header and an env secret in every frame."""
    bearer = request.headers.get("Authorization", "")
    socket = web.WebSocketResponse()
    await socket.prepare(request)

    async def send(event: dict[str, object]) -> None:
        await socket.send_str(json.dumps(event))

    await send({"type": "session.created", "session": {"id": "sess_1", "instructions": bearer}})
    async for message in socket:
        if message.type is not WSMsgType.TEXT:
            continue
        kind = json.loads(message.data)["type"]
        if kind == "session.update":
            await send({"type": "session.updated", "session": {"id": "sess_1"}})
        elif kind == "response.create":
            await send(
                {
                    "type": "error",
                    "error": {
                        "type": "invalid_request_error",
                        "code": "echo",
                        "message": f"you sent {bearer}; env has {ENV_TOKEN}",
                    },
                }
            )
            response = {"id": "resp_1", "status": "in_progress", "output": []}
            await send({"type": "response.created", "response": response})
            await send(
                {
                    "type": "response.output_audio_transcript.done",
                    "response_id": "resp_1",
                    "item_id": "item_1",
                    "transcript": f"Your key is {KEY[4:]} and {ENV_TOKEN}.",
                }
            )
            await send({"type": "response.done", "response": response | {"status": "completed"}})
    return socket


async def test_no_key_or_secret_survives_recording_a_hostile_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", ENV_TOKEN)
    async with serve_websocket(_echo_everything) as url:
        request = SessionRequest(
            session_id="hostile",
            agent=AgentConfig(),
            script=ScenarioScript(turns=(TextTurn(text="hello"),), reply_timeout_s=2),
            endpoint=ProviderEndpoint(url=url, api_key=SecretStr(KEY)),
            tuning=EngineTuning(speed=TEST_SPEED, connect_timeout_s=5),
            record_dir=str(tmp_path / "c"),
        )
        await play_scenario(request, InProcessToolBackend())
    files = list((tmp_path / "c").iterdir())
    assert {path.name for path in files} >= {"cassette.json", "frames.jsonl"}
    written = b"".join(path.read_bytes() for path in files)
    for secret in (KEY, KEY[4:], ENV_TOKEN):
        assert secret.encode() not in written
    assert b"[redacted]" in written
    frames = (tmp_path / "c" / FRAMES_FILE).read_text()
    assert '"type":"error"' in frames  # the frame is kept, scrubbed


def _cassette(**meta: object) -> Cassette:
    fields: dict[str, object] = {
        "recorded_at": "2026-01-01T00:00:00Z",
        "scenario": "s",
        "url": "ws://127.0.0.1/v1/realtime",
    }
    return Cassette(CassetteMeta.model_validate(fields | meta), [])


def test_a_cassette_with_the_key_in_a_header_is_refused(tmp_path: Path) -> None:
    cassette = _cassette(headers={"Authorization": f"Bearer {KEY}"})
    with pytest.raises(CassetteRefusedError) as refused:
        save_cassette(cassette, tmp_path / "c", [KEY])
    assert "header 'Authorization'" in str(refused.value) and KEY not in str(refused.value)
    assert not (tmp_path / "c").exists()


def test_a_cassette_with_the_key_in_a_frame_or_audio_is_refused(tmp_path: Path) -> None:
    error = {"type": "error", "error": {"message": f"bad key {KEY}"}}
    cassette = _cassette()
    cassette.frames = [
        CassetteFrame(0.0, True, event={"type": "session.update", "session": {}}),
        CassetteFrame(0.1, False, event=error),
    ]
    with pytest.raises(CassetteRefusedError, match=r"frame #1 \(server error\)"):
        save_cassette(cassette, tmp_path / "c", [KEY])
    cassette.frames = []
    cassette.server_audio = b"\x00\x01" + KEY.encode() + b"\x00"
    with pytest.raises(CassetteRefusedError, match="the server audio"):
        save_cassette(cassette, tmp_path / "c", [KEY])
    assert not (tmp_path / "c").exists()
    # A credential-shaped string that is not the configured key is refused too.
    cassette.server_audio = b""
    cassette.frames = [CassetteFrame(0.0, False, text="sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX")]
    with pytest.raises(CassetteRefusedError, match=r"frame #0"):
        save_cassette(cassette, tmp_path / "c", [KEY])


def test_the_recorder_scrubs_what_the_tap_saw() -> None:
    recorder = CassetteRecorder(clock=iter([0.0, 0.5, 1.0]).__next__)
    recorder.opened("ws://h/v1/realtime?model=m", {"Authorization": f"Bearer {KEY}"})
    recorder.frame(False, json.dumps({"type": "error", "error": {"message": KEY}}))
    recorder.frame(True, b"\x01\x02")
    cassette = recorder.build(scenario="s", secrets=[KEY])
    assert cassette.meta.headers["Authorization"] == "Bearer [redacted]"
    assert cassette.frames[0].event == {"type": "error", "error": {"message": "[redacted]"}}
    assert cassette.frames[1].binary == (0, 2) and cassette.client_audio == b"\x01\x02"
    assert [f.t_s for f in cassette.frames] == [0.5, 1.0] and cassette.meta.model == "m"


def test_a_refusal_survives_pickling() -> None:
    error = CassetteRefusedError("not written", where="header 'Authorization'")
    copy = pickle.loads(pickle.dumps(error))
    assert copy.where == error.where and copy.message == error.message


def test_recording_again_replaces_the_cassette_in_place(tmp_path: Path) -> None:
    first = _cassette(scenario="s")
    first.frames = [CassetteFrame(0.0, True, event={"type": "session.update", "session": {}})]
    first.client_audio = b"\x01" * 10
    save_cassette(first, tmp_path / "s", [KEY])
    second = _cassette(scenario="s", recorded_at="2026-02-01T00:00:00Z")
    save_cassette(second, tmp_path / "s", [KEY])
    again = load_cassette(tmp_path / "s")
    assert again.frames == [] and again.client_audio == b""
    assert again.meta.recorded_at.month == 2
    assert [p.name for p in tmp_path.iterdir()] == ["s"]  # no staging folder left behind
