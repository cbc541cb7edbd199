"""Drain: new callers are refused at once (TwiML that says to call back, 503 to a stream), live
calls go on until the deadline and are then ended cleanly with a record; /readyz turns 503."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from voxray.actors.gateway.calls import CallsState
from voxray.actors.gateway.records import CallRecord
from voxray.actors.simulator.server import Simulator
from voxray.actors.simulator.twilio_caller import TwilioCaller, speech_mulaw

from tests.conftest import TEST_SPEED
from tests.gateway_fixtures import running_gateway, until


async def test_drain_refuses_new_calls_and_ends_live_ones_at_the_deadline(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with (
        running_gateway(simulator, tmp_path) as gateway,
        aiohttp.ClientSession() as http,
    ):
        stream_url = gateway.url.replace("http://", "ws://") + "/twilio/stream"
        live = TwilioCaller(stream_url, parameters={"agent": "support"}, speed=TEST_SPEED)
        live_call = asyncio.create_task(live.run(http))
        assert await live.wait_for_agent_audio(500, timeout_s=10)
        drain = asyncio.create_task(gateway.drain(deadline_s=1.0))
        # The drain's first step: admission closes (at once; the live call is not waited for).
        await until(lambda: not gateway.context.accepting, "admission closed by the drain", 1.0)
        async with http.get(f"{gateway.url}/readyz") as ready:
            assert ready.status == 503
        async with http.post(f"{gateway.url}/twilio/voice", data={"To": "+1"}) as voice:
            twiml = await voice.text()
            assert "<Connect>" not in twiml  # no stream: Twilio speaks and hangs up
            assert "call back later" in twiml and twiml.endswith("<Hangup/></Response>")
        refused = await TwilioCaller(stream_url, parameters={"agent": "support"}).run(http)
        assert refused.refused_status == 503
        # The live call is still served while the drain waits.
        before = live.report_agent_audio_ms()
        live.say(speech_mulaw("Are you still there?"))
        assert await live.wait_for_agent_audio(before + 300, timeout_s=10)
        outcome = await asyncio.wait_for(drain, 15)
        report = await asyncio.wait_for(live_call, 10)
    assert (outcome.finished, outcome.stopped) == (0, 1)
    assert report.close_code == aiohttp.WSCloseCode.OK  # hung up cleanly, not cut
    records = [
        CallRecord.model_validate_json(line)
        for line in (tmp_path / "calls.jsonl").read_text().splitlines()
    ]
    assert [(r.status, r.end_reason) for r in records] == [("completed", "drain deadline")]


async def test_a_second_drain_without_deadline_ends_live_calls_now(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with (
        running_gateway(simulator, tmp_path) as gateway,
        aiohttp.ClientSession() as http,
    ):
        stream_url = gateway.url.replace("http://", "ws://") + "/twilio/stream"
        live = TwilioCaller(stream_url, parameters={"agent": "support"}, speed=TEST_SPEED)
        live_call = asyncio.create_task(live.run(http))
        assert await live.wait_for_agent_audio(300, timeout_s=10)
        patient = asyncio.create_task(gateway.drain(deadline_s=3600))  # Ctrl-C
        # The first drain is under way (admission closed, its hour begun) before the second.
        await until(lambda: gateway.context.calls.state is CallsState.DRAINING, "draining", 1.0)
        now = await asyncio.wait_for(gateway.drain(deadline_s=0), 15)  # Ctrl-C again
        first = await asyncio.wait_for(patient, 5)  # it does not wait out its hour
        report = await asyncio.wait_for(live_call, 10)
    assert (first.finished, first.stopped) == (0, 1) and now.stopped == 1
    assert report.close_code == aiohttp.WSCloseCode.OK
