"""The Twilio ingress end to end: a simulated Twilio caller, the gateway, the simulator."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from voxray.actors.audio.wav import read_wav
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.gateway.agents import HostedAgent
from voxray.actors.gateway.server import GatewayServer
from voxray.actors.gateway.twilio_media import (
    ClearMessage,
    OutboundFrames,
    OutboundMark,
    OutboundMarkInfo,
    OutboundMedia,
    OutboundMediaPayload,
)
from voxray.actors.gateway.twilio_playback import MarkLedger
from voxray.actors.gateway.twilio_signature import twilio_signature
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.faults import ErrorFault
from voxray.actors.simulator.rules import BrainRule, BrainScript, ScriptedCall
from voxray.actors.simulator.server import Simulator
from voxray.actors.simulator.twilio_caller import TwilioCaller, TwilioCallReport, speech_mulaw

from tests.conftest import TEST_SPEED
from tests.gateway_fixtures import (
    GREETING,
    running_gateway,
    support_agent,
    until,
    wait_for_call_records,
)


async def test_voice_webhook_answers_twiml_that_connects_the_stream(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with (
        running_gateway(simulator, tmp_path) as gateway,
        aiohttp.ClientSession() as http,
    ):
        form = {"CallSid": "CA1", "From": "+15550001111", "To": "+15559990000"}
        async with http.post(f"{gateway.url}/twilio/voice", data=form) as response:
            assert response.status == 200
            assert response.content_type == "text/xml"
            twiml = await response.text()
    stream_url = gateway.url.replace("http://", "ws://") + "/twilio/stream"
    assert f'<Connect><Stream url="{stream_url}">' in twiml
    assert '<Parameter name="agent" value="support"/>' in twiml
    assert '<Parameter name="from" value="+15550001111"/>' in twiml
    assert "call back later" in twiml.split("</Connect>")[1]


def _call(
    gateway: GatewayServer, http: aiohttp.ClientSession, parameters: dict[str, str] | None = None
) -> tuple[TwilioCaller, asyncio.Task[TwilioCallReport]]:
    """A Twilio caller for the support agent (and ``parameters``), dialled in the background."""
    caller = TwilioCaller(
        gateway.url.replace("http://", "ws://") + "/twilio/stream",
        parameters={"agent": "support", **(parameters or {})},
        speed=TEST_SPEED,
    )
    return caller, asyncio.create_task(caller.run(http))


async def _hear_the_greeting_then_ask(caller: TwilioCaller) -> None:
    """The greeting plays to its end, the caller asks, and an answer of 0.5 s or more comes."""
    assert await caller.wait_for_agent_audio(1000, timeout_s=10)
    assert await caller.wait_for_quiet(1500, timeout_s=10)
    caller.say(speech_mulaw("I would like to check my order please"))
    await asyncio.wait_for(caller.wait_spoken(), 10)
    spoken_ms = caller.report_agent_audio_ms()
    assert await caller.wait_for_agent_audio(spoken_ms + 500, timeout_s=15)


async def test_a_phone_call_hears_the_greeting_is_answered_and_leaves_a_record(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with (
        running_gateway(simulator, tmp_path) as gateway,
        aiohttp.ClientSession() as http,
    ):
        caller, call = _call(gateway, http, {"from": "+15550001111", "to": "+15559990000"})
        await _hear_the_greeting_then_ask(caller)
        assert await caller.wait_for_quiet(1500, timeout_s=10)
        assert gateway.context.calls.live == 1
        caller.hang_up()
        report = await asyncio.wait_for(call, 10)
        records = await wait_for_call_records(tmp_path, 1)
        metrics = gateway.context.metrics.render().decode()
        agent = gateway.context.agents["support"]
        key = gateway.context.calls.endpoint_for(agent).api_key.get_secret_value()
    # The provider key stays in the gateway: not in the record, the metrics or the log.
    assert key not in (tmp_path / "calls.jsonl").read_text() and key not in metrics
    assert key not in caplog.text
    assert report.first_audio_s is not None and report.first_audio_s < 2.0
    assert report.marks_echoed > 0 and report.clears == 0
    record = records[0]
    assert (record.ingress, record.agent, record.caller) == ("twilio", "support", "+15550001111")
    assert record.status == "completed" and record.end_reason == "hangup"
    agent_lines = [line.text for line in record.transcript if line.role == "agent"]
    assert agent_lines[0] == GREETING
    assert len(agent_lines) == 2  # the greeting, then the answer to the caller's turn
    answered = [turn for turn in record.turns if turn.caller_speech_end_ms is not None]
    assert answered and answered[0].latency_ms is not None
    assert record.first_agent_audio_ms is not None
    assert record.audio_in_min > 0 and record.cost_usd > 0
    assert 'voxray_calls_total{agent="support",ingress="twilio"} 1.0' in metrics
    assert 'voxray_calls_live{agent="support",ingress="twilio"} 0.0' in metrics
    assert "voxray_first_agent_audio_seconds_count" in metrics


async def test_barge_in_clears_twilio_and_truncates_at_the_acknowledged_mark(
    tmp_path: Path,
) -> None:
    long_greeting = " ".join([GREETING] * 6)
    simulator = Simulator(SimulatorConfig(speed=TEST_SPEED, record_frames=True))
    await simulator.start()
    try:
        async with (
            running_gateway(
                simulator,
                tmp_path,
                agents=[support_agent().model_copy(update={"greeting": long_greeting})],
            ) as gateway,
            aiohttp.ClientSession() as http,
        ):
            caller, call = _call(gateway, http)
            assert await caller.wait_for_agent_audio(1500, timeout_s=10)
            caller.say(speech_mulaw("Stop, I have a question"))
            await until(lambda: caller.report.clears > 0, "the gateway's clear for the barge-in")
            assert caller.report.clears == 1
            caller.hang_up()
            await asyncio.wait_for(call, 10)
            records = await wait_for_call_records(tmp_path, 1)
        (truncation,) = simulator.connections[-1].truncations
    finally:
        await simulator.aclose()
    assert records[0].barge_ins == 1
    assert records[0].turns[0].interrupted
    # Truncated where the caller's acknowledged marks said it was, not at what was sent: the
    # caller had acknowledged `heard` ms of the greeting when the clear came (its echoes may be
    # a few chunks ahead of the gateway's view then), and had received more than that.
    heard_ms, received_ms = caller.report.cleared_at[0]
    assert 0 < truncation.audio_end_ms <= heard_ms
    assert heard_ms - truncation.audio_end_ms <= 2 * 120  # within two marks (every 120 ms)
    assert truncation.audio_end_ms < received_ms
    assert truncation.audio_end_ms % 40 == 0  # on a mark, i.e. a chunk boundary


def test_marks_echoed_after_a_clear_do_not_move_what_was_heard() -> None:
    ledger = MarkLedger(mark_every_ms=0)  # a mark after every chunk
    first = ledger.sent("item-1", 1600)  # 200 ms of μ-law
    second = ledger.sent("item-1", 1600)
    assert first is not None and second is not None
    assert ledger.playing() and ledger.heard() == ("item-1", 0)
    assert ledger.acknowledged_mark(first)
    assert ledger.heard() == ("item-1", 200)
    assert ledger.cleared() == 1
    assert not ledger.playing()
    assert not ledger.acknowledged_mark(second)  # Twilio echoes it after the clear
    assert ledger.ignored == 1
    # The cut item is done with: nothing is playing, and a new item starts from zero.
    assert ledger.heard() == (None, 0)
    third = ledger.sent("item-2", 800)
    assert third is not None
    assert ledger.heard() == ("item-2", 0)
    assert ledger.acknowledged_mark(third) and ledger.heard() == ("item-2", 100)


async def test_bad_input_is_refused_and_other_calls_go_on(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with (
        running_gateway(simulator, tmp_path, twilio_auth_token="tok3n") as gateway,
        aiohttp.ClientSession() as http,
    ):
        stream_url = gateway.url.replace("http://", "ws://") + "/twilio/stream"
        # No signature: 403 before the upgrade; a bad one on the webhook: 403 too.
        unsigned = await TwilioCaller(stream_url, parameters={"agent": "support"}).run(http)
        assert unsigned.refused_status == 403
        async with http.post(
            f"{gateway.url}/twilio/voice", data={"To": "+1"}, headers={"X-Twilio-Signature": "x"}
        ) as response:
            assert response.status == 403
        signed = {"X-Twilio-Signature": twilio_signature("tok3n", stream_url)}
        good = TwilioCaller(
            stream_url, parameters={"agent": "support"}, headers=signed, speed=TEST_SPEED
        )
        good_call = asyncio.create_task(good.run(http))
        assert await good.wait_for_agent_audio(500, timeout_s=10)
        # An unknown agent, and a malformed message: each closed with a policy violation.
        unknown = await TwilioCaller(
            stream_url, parameters={"agent": "nobody"}, headers=signed
        ).run(http)
        assert unknown.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
        async with http.ws_connect(stream_url, headers=signed) as ws:
            await ws.send_str(json.dumps({"event": "start", "start": {"streamSid": ""}}))
            closing = await ws.receive()
            assert closing.type is aiohttp.WSMsgType.CLOSE
            assert closing.data == aiohttp.WSCloseCode.POLICY_VIOLATION
            assert "streamSid" in closing.extra
        async with http.ws_connect(stream_url, headers=signed) as ws:
            await ws.send_str("x" * (70 * 1024))  # over max_message_bytes
            closing = await ws.receive()
            assert closing.type is aiohttp.WSMsgType.CLOSE
            assert closing.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        # The good call was not disturbed.
        before = good.report.agent_audio_ms
        assert gateway.context.calls.live == 1
        good.say(speech_mulaw("Hello"))
        assert await good.wait_for_agent_audio(before + 300, timeout_s=15)
        good.hang_up()
        await asyncio.wait_for(good_call, 10)
        metrics = gateway.context.metrics.render().decode()
    assert 'voxray_call_refusals_total{cause="unauthorized",ingress="twilio"} 1.0' in metrics
    assert 'voxray_call_refusals_total{cause="unknown_agent",ingress="twilio"} 1.0' in metrics
    assert 'voxray_call_refusals_total{cause="bad_request",ingress="twilio"}' in metrics


async def test_tool_calls_reach_the_record_and_the_metrics(
    simulator: Simulator, tmp_path: Path
) -> None:
    agent = HostedAgent(
        name="support",
        agent=AgentConfig(tools=["voxray.examples.tools:get_weather"]),  # type: ignore[list-item]
        greeting=None,
    )
    brain = BrainScript(
        rules=[
            BrainRule(
                turn=1,
                calls=[ScriptedCall(name="get_weather", arguments={"city": "Paris"})],
                after_tool="Here is the weather: {output}",
            )
        ]
    )
    async with (
        running_gateway(simulator, tmp_path, agents=[agent], brain=brain) as gateway,
        aiohttp.ClientSession() as http,
    ):
        caller, call = _call(gateway, http)
        caller.say(speech_mulaw("What is the weather in Paris?"))
        assert await caller.wait_for_agent_audio(500, timeout_s=15)
        caller.hang_up()
        await asyncio.wait_for(call, 10)
        records = await wait_for_call_records(tmp_path, 1)
        metrics = gateway.context.metrics.render().decode()
    (tool_call,) = records[0].tool_calls
    assert (tool_call.name, tool_call.ok) == ("get_weather", True)
    assert "Paris" in tool_call.output
    assert 'voxray_tool_call_seconds_count{agent="support",tool="get_weather"} 1.0' in metrics


async def test_a_session_the_provider_ends_hangs_up_the_caller_with_a_failed_record(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with (
        running_gateway(simulator, tmp_path) as gateway,
        aiohttp.ClientSession() as http,
    ):
        caller, call = _call(gateway, http)
        assert await caller.wait_for_agent_audio(300, timeout_s=10)
        # The provider ends the session for good (a `timeout` error, then its close).
        assert await simulator.inject(ErrorFault(type="timeout")) == 1
        report = await asyncio.wait_for(call, 10)  # the gateway hung up: the caller's run ends
        records = await wait_for_call_records(tmp_path, 1)
        assert gateway.context.calls.live == 0
    assert report.close_code == aiohttp.WSCloseCode.OK
    assert (records[0].status, records[0].end_reason) == ("failed", "error")
    assert records[0].error


def test_marks_go_every_100_ms_at_item_ends_and_when_flushed() -> None:
    ledger = MarkLedger()  # every 100 ms
    assert [ledger.sent("item-1", 320) for _ in range(2)] == [None, None]  # 40 ms chunks
    third = ledger.sent("item-1", 320)
    assert third is not None  # 120 ms unmarked: due
    assert ledger.sent("item-1", 320) is None
    tail = ledger.before("item-2")  # a new item: the old one's 40 ms tail is marked first
    assert tail is not None and ledger.before("item-2") is None
    assert ledger.acknowledged_mark(third) and ledger.heard() == ("item-1", 120)
    assert ledger.acknowledged_mark(tail) and ledger.heard() == ("item-1", 160)
    ledger.sent("item-2", 160)
    assert ledger.playing()  # unmarked audio is still playing
    last = ledger.flush()  # the response finished
    assert last is not None and ledger.flush() is None
    assert ledger.acknowledged_mark(last) and ledger.heard() == ("item-2", 20)
    assert not ledger.playing()


def test_outbound_frames_are_the_json_the_models_dump() -> None:
    frames = OutboundFrames('MZ"odd\\sid')
    sid = 'MZ"odd\\sid'
    media = OutboundMedia(stream_sid=sid, media=OutboundMediaPayload(payload="AAEC/w=="))
    mark = OutboundMark(stream_sid=sid, mark=OutboundMarkInfo(name="voxray-7"))
    assert json.loads(frames.media("AAEC/w==")) == json.loads(media.model_dump_json(by_alias=True))
    assert json.loads(frames.mark("voxray-7")) == json.loads(mark.model_dump_json(by_alias=True))
    assert json.loads(frames.clear()) == json.loads(
        ClearMessage(stream_sid=sid).model_dump_json(by_alias=True)
    )


async def test_a_kept_recording_holds_both_sides_of_the_call(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with (
        running_gateway(simulator, tmp_path, recordings_dir=str(tmp_path / "rec")) as gateway,
        aiohttp.ClientSession() as http,
    ):
        caller, call = _call(gateway, http)
        assert await caller.wait_for_agent_audio(1000, timeout_s=10)
        caller.say(speech_mulaw("Hello there, I have a question"))
        await asyncio.wait_for(caller.wait_spoken(), 10)
        caller.hang_up()
        await asyncio.wait_for(call, 10)
        (record,) = await wait_for_call_records(tmp_path, 1)
    assert record.recording == str(tmp_path / "rec" / f"{record.call_id}.wav")
    audio = read_wav(record.recording)
    assert audio.channels == 2
    stereo = audio.interleaved.reshape(-1, 2).astype(np.float64)
    caller_rms, agent_rms = np.sqrt((stereo**2).mean(axis=0))
    assert caller_rms > 100 and agent_rms > 100  # both sides spoke


async def test_a_binary_transport_agent_keeps_binary_frames_on_a_phone_call(
    tmp_path: Path,
) -> None:
    """The phone line's μ-law passes through in binary websocket frames both ways when the
    agent asks for them: the gateway swaps the codec for the call, never the transport."""
    simulator = Simulator(SimulatorConfig(speed=TEST_SPEED, record_frames=True))
    await simulator.start()
    binary = {"transport": "binary"}
    agent = HostedAgent.model_validate(
        {
            "name": "support",
            "agent": AgentConfig.model_validate({"input_audio": binary, "output_audio": binary}),
            "greeting": GREETING,
        }
    )
    try:
        async with (
            running_gateway(simulator, tmp_path, agents=[agent]) as gateway,
            aiohttp.ClientSession() as http,
        ):
            caller, call = _call(gateway, http)
            await _hear_the_greeting_then_ask(caller)
            caller.hang_up()
            await asyncio.wait_for(call, 10)
        (connection,) = simulator.connections
    finally:
        await simulator.aclose()
    (session,) = connection.session_updates
    audio = session["audio"]
    assert audio["input"]["transport"] == audio["output"]["transport"] == "binary"
    assert audio["input"]["format"] == {"type": "audio/pcmu"}
    appends = [frame for frame in connection.frames if frame.audio_bytes]
    assert appends and all(frame.binary for frame in appends)
