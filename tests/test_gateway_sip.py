"""The xAI direct SIP ingress end to end: the simulator's SIP caller, the gateway, the simulator.

No audio crosses the gateway: the simulator plays the phone network and the model, the gateway
only verifies the webhook and drives the call's session by events (``?call_id=``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr
from voxray.actors.realtime.webhooks import decode_secret, webhook_headers
from voxray.actors.simulator.server import Simulator
from voxray.actors.simulator.sip_caller import SipCaller, SipCallReport, SipCallScript, SipStep

from tests.conftest import TEST_SPEED
from tests.gateway_fixtures import (
    GREETING,
    running_gateway,
    support_agent,
    until,
    wait_for_call_records,
)

SECRET = SecretStr("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
OTHER_SECRET = "whsec_c2VjcmV0LW9mLXNvbWVvbmUtZWxzZQ=="


def _webhook_url(gateway_url: str) -> str:
    return f"{gateway_url}/sip/webhook"


async def _answered_call(
    simulator: Simulator, url: str, http: aiohttp.ClientSession, *, hold_ms: int
) -> tuple[SipCaller, asyncio.Task[SipCallReport]]:
    """A call that is up (the greeting heard) and then holds the line for ``hold_ms``."""
    holding = SipCallScript(steps=(SipStep(pause_ms=hold_ms),))
    caller = SipCaller(simulator.lines, url, SECRET, holding)
    caller.speed = TEST_SPEED
    task = asyncio.create_task(caller.run(http))
    assert await caller.line.wait_for_agent_audio(1.0, timeout_s=10)
    return caller, task


async def test_a_sip_call_is_verified_attached_greeted_answered_and_recorded(
    simulator: Simulator, tmp_path: Path
) -> None:
    script = SipCallScript(
        caller="+15550001111",
        called="+15559990000",
        steps=(SipStep(say="I would like to check my order please"), SipStep(dtmf="42#")),
    )
    recordings = tmp_path / "recordings"
    async with running_gateway(
        simulator, tmp_path, xai_webhook_secret=SECRET, recordings_dir=str(recordings)
    ) as gateway:
        report = await simulator.place_call(_webhook_url(gateway.url), SECRET, script)
        records = await wait_for_call_records(tmp_path, 1)
        metrics = gateway.context.metrics.render().decode()
        assert gateway.context.calls.live == 0
    assert report.webhook_status == 200, report.webhook_error
    assert report.outcome == "completed" and report.end_reason == "the caller hung up"
    assert report.attach_ms is not None and report.first_audio_ms is not None
    assert report.agent_turns == 2  # the greeting, then the answer to the caller's line
    assert report.agent_audio_ms > 1000
    assert simulator.statistics()["connections"] == 0
    record = records[0]
    assert record.call_id == report.call_id
    assert (record.ingress, record.agent) == ("sip", "support")
    assert (record.caller, record.called) == ("+15550001111", "+15559990000")
    assert record.status == "completed" and record.end_reason == "hangup"
    agent_lines = [line.text for line in record.transcript if line.role == "agent"]
    assert agent_lines[0] == GREETING and len(agent_lines) == 2
    assert "".join(d.digit for d in record.dtmf) == "42#"
    assert record.first_agent_audio_ms is not None
    answered = [turn for turn in record.turns if turn.caller_speech_end_ms is not None]
    assert answered and answered[0].latency_ms is not None
    # No audio went through voxray: the minutes come from the call's length (the caller's
    # line) and from what xAI reported playing to the phone (the agent).
    # Measured from when xAI's started/stopped events arrive: at 8x speed a 10 ms delay of
    # one is 80 ms of audio, so a loaded machine moves it; half to twice what was heard.
    played_ms = record.audio_out_min * 60_000
    assert report.agent_audio_ms / 2 < played_ms < report.agent_audio_ms * 2
    assert record.audio_in_min > record.audio_out_min and record.cost_usd > 0
    assert 'voxray_calls_total{agent="support",ingress="sip"} 1.0' in metrics
    # Recordings are kept, but this call's audio never passed through voxray: no file (an
    # empty WAV would pass for a silent call), and the record says there is none.
    assert record.recording is None
    assert not recordings.exists() or list(recordings.iterdir()) == []


async def _post(
    http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, object]]:
    async with http.post(url, data=body, headers=headers) as response:
        return response.status, json.loads(await response.text())


def _event(call_id: str, **data: object) -> bytes:
    event = {"type": "realtime.call.incoming", "data": {"call_id": call_id, **data}}
    return json.dumps(event).encode()


async def test_bad_webhooks_are_refused_with_their_cause_and_a_good_call_goes_on(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = decode_secret(SECRET)
    now = int(time.time())
    caplog.set_level(logging.WARNING, logger="voxray.gateway")
    async with (
        running_gateway(simulator, tmp_path, xai_webhook_secret=SECRET) as gateway,
        aiohttp.ClientSession() as http,
    ):
        url = _webhook_url(gateway.url)
        # The good call is up (greeting heard) before the bad input comes.
        caller, good_call = await _answered_call(simulator, url, http, hold_ms=4000)

        body = _event("rtc_bad_signature")
        forged = webhook_headers(decode_secret(OTHER_SECRET), "evt_1", body, timestamp=now)
        assert (await _post(http, url, body, forged))[0] == 401

        stale = webhook_headers(key, "evt_2", body, timestamp=now - 301)
        assert (await _post(http, url, body, stale))[0] == 401

        replay = caller.report.webhook
        assert replay is not None
        status, answer = await _post(http, url, replay.body, replay.headers)
        assert status == 401 and "seen before" in str(answer)

        malformed = b'{"type": "realtime.call.incoming", "data": {"sip_headers": []}}'
        status, answer = await _post(
            http, url, malformed, webhook_headers(key, "evt_3", malformed, timestamp=now)
        )
        assert status == 400 and "data.call_id" in str(answer)

        unknown = _event("rtc_unknown_agent")
        status, answer = await _post(
            http,
            f"{url}?agent=nobody",
            unknown,
            webhook_headers(key, "evt_4", unknown, timestamp=now),
        )
        assert status == 404 and "nobody" in str(answer)

        unsigned = _event("rtc_unsigned")
        assert (await _post(http, url, unsigned, {}))[0] == 401

        assert gateway.context.calls.live == 1  # the good call was not disturbed
        report = await asyncio.wait_for(good_call, 30)
        records = await wait_for_call_records(tmp_path, 1)
        metrics = gateway.context.metrics.render().decode()
    assert report.outcome == "completed" and len(records) == 1
    assert records[0].status == "completed"
    causes = " ".join(r.getMessage() for r in caplog.records)
    for cause in ("bad_signature", "stale", "replayed", "data.call_id", "nobody", "missing"):
        assert cause in causes
    assert SECRET.get_secret_value().removeprefix("whsec_") not in causes
    assert 'voxray_call_refusals_total{cause="unauthorized",ingress="sip"} 4.0' in metrics


async def test_over_the_cap_or_draining_the_webhook_gets_503_and_the_live_call_goes_on(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with (
        running_gateway(simulator, tmp_path, xai_webhook_secret=SECRET, max_calls=1) as gateway,
        aiohttp.ClientSession() as http,
    ):
        url = _webhook_url(gateway.url)
        first, held = await _answered_call(simulator, url, http, hold_ms=3000)
        over = await simulator.place_call(url, SECRET, SipCallScript(), http=http)
        assert over.outcome == "refused" and over.webhook_status == 503
        assert over.webhook_error is not None and "1 calls" in over.webhook_error
        draining = asyncio.create_task(gateway.drain(30))
        # The drain's first step refuses new calls.
        await until(lambda: not gateway.context.accepting, "admission closed by the drain")
        late = await simulator.place_call(url, SECRET, SipCallScript(), http=http)
        assert late.webhook_status == 503 and "draining" in str(late.webhook_error)
        report = await asyncio.wait_for(held, 30)
        outcome = await asyncio.wait_for(draining, 30)
        records = await wait_for_call_records(tmp_path, 1)
    assert report.outcome == "completed" and outcome.finished == 1
    assert [record.call_id for record in records] == [first.report.call_id]
    assert simulator.lines.get(over.call_id) is None  # the refused calls rang out


async def test_without_a_configured_secret_every_webhook_is_refused(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_gateway(simulator, tmp_path) as gateway:
        assert "set VOXRAY_XAI_WEBHOOK_SECRET" in " ".join(gateway.describe())
        report = await simulator.place_call(_webhook_url(gateway.url), SECRET, SipCallScript())
    assert report.webhook_status == 401
    assert "VOXRAY_XAI_WEBHOOK_SECRET" in str(report.webhook_error)


async def test_a_caller_barging_in_cuts_the_greeting_and_the_record_counts_it(
    simulator: Simulator, tmp_path: Path
) -> None:
    long_greeting = " ".join([GREETING] * 6)
    agent = support_agent().model_copy(update={"greeting": long_greeting})
    script = SipCallScript(greeting=False, steps=(SipStep(say="Stop", barge_in=True),))
    async with running_gateway(
        simulator, tmp_path, agents=[agent], xai_webhook_secret=SECRET
    ) as gateway:
        report = await simulator.place_call(_webhook_url(gateway.url), SECRET, script)
        records = await wait_for_call_records(tmp_path, 1)
    assert report.outcome == "completed" and report.agent_turns == 1  # the answer to "Stop"
    record = records[0]
    assert record.barge_ins == 1 and record.turns[0].interrupted
    # The greeting alone is about 17 s of audio; cut after about a second, plus the answer.
    assert report.agent_audio_ms < 6_000 and record.audio_out_min * 60_000 < 6_000
