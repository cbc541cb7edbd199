"""A model as judge: rubric items judged K times over the chat completions API, end to end
against the simulator's scripted judge, with each failure mode a distinct outcome (never a pass).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from voxray.actors.conversation.endpoint import ProviderEndpoint
from voxray.actors.conversation.result import SessionResult, ToolCallRecord, TurnMetrics
from voxray.actors.errors import ConfigError
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.rules import BrainScript
from voxray.actors.simulator.server import Simulator
from voxray.evals.cost import estimate_cost, judge_cost_usd
from voxray.evals.judge import (
    JUDGE_SCHEMA,
    evidence,
    judge_base_url,
    judge_messages,
    with_judgement,
)
from voxray.evals.judge_verdicts import JudgeSample, decide
from voxray.evals.records import ScenarioRecord
from voxray.evals.scoring import score
from voxray.evals.suite import ScenarioSpec, load_suite
from voxray.evals.summary import summarize
from voxray.settings import JudgeSettings

from tests.local_websocket import serve_local

RUBRIC = "the agent confirmed the order number before cancelling"
FAST = JudgeSettings(timeout_s=2.0, retries=2, backoff_s=0.01)


def _spec(judge: list[str] | str = RUBRIC, samples: int = 3) -> ScenarioSpec:
    return ScenarioSpec.model_validate(
        {
            "name": "cancel",
            "agent": {"tools": ["voxray.examples.tools:lookup_order"]},
            "turns": [{"say": "Please cancel order 1234."}],
            "expect": {"judge": judge, "judge_samples": samples},
        }
    )


def _result(said: str = "Order 1234, confirmed. It is cancelled.") -> SessionResult:
    turn = TurnMetrics(
        index=0,
        kind="say",
        agent_audio_ms=1200.0,
        first_agent_audio_ms=900.0,
        agent_transcript=said,
    )
    call = ToolCallRecord(
        call_id="c1",
        name="lookup_order",
        arguments='{"order_id": "1234"}',
        output='{"status": "shipped"}',
        ok=True,
        latency_ms=2.0,
        t_ms=500.0,
    )
    return SessionResult(status="completed", turns=(turn,), tool_calls=(call,))


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorConfig(ping_interval_s=None)) as simulator:
        yield simulator


def _endpoint(sim: Simulator, judge: dict[str, Any] | None) -> ProviderEndpoint:
    token = sim.register(BrainScript.model_validate({"judge": judge} if judge else {}))
    return ProviderEndpoint(url=sim.url, api_key=SecretStr(token))


async def _judged(
    sim: Simulator,
    judge: dict[str, Any] | None,
    *,
    spec: ScenarioSpec | None = None,
    result: SessionResult | None = None,
    settings: JudgeSettings = FAST,
) -> Any:
    spec = spec or _spec()
    result = result or _result()
    verdict = await with_judgement(
        spec, result, score(spec, result), _endpoint(sim, judge), settings
    )
    return verdict, [check for check in verdict.checks if check.judge is not None]


# --------------------------------------------------------------------- majority (pure)


def _sample(verdict: str | None, error: Any = None) -> JudgeSample:
    return JudgeSample(verdict, f"said {verdict}", error)  # type: ignore[arg-type]


def test_the_majority_of_samples_decides_and_agreement_is_its_share() -> None:
    detail, got = decide([_sample("pass"), _sample("fail"), _sample("pass")], "m")
    assert (detail.outcome, detail.passes, detail.fails, detail.agreement) == ("pass", 2, 1, 0.6667)
    assert got == "pass (2 pass, 1 fail of 3): said pass"
    detail, _ = decide([_sample("fail")] * 3, "m")
    assert (detail.outcome, detail.agreement) == ("fail", 1.0)


def test_no_majority_is_uncertain_and_no_verdict_at_all_is_an_error() -> None:
    split, got = decide([_sample("pass"), _sample("fail")], "m")
    assert split.outcome == "uncertain" and got == "uncertain: no majority (1 pass, 1 fail of 2)"
    # One verdict among failed requests is no majority either: never a pass.
    few, _ = decide([_sample("pass"), _sample(None, "timeout"), _sample(None, "timeout")], "m")
    assert few.outcome == "uncertain" and few.errors == {"timeout": 2}
    none, got = decide([_sample(None, "refused")] * 3, "m")
    assert none.outcome == "error" and got.startswith("not judged (0 pass, 0 fail, 3 refused of 3)")


# --------------------------------------------------------------------- against the simulator


async def test_a_rubric_item_passes_on_the_scripted_verdict_with_its_reason(sim: Simulator) -> None:
    judge = {
        "rules": [
            {
                "rubric": "confirmed the order number",
                "transcript": r"order 1234, confirmed",
                "verdict": "pass",
                "reason": 'The agent said "Order 1234, confirmed."',
            }
        ]
    }
    verdict, (check,) = await _judged(sim, judge)
    assert verdict.passed and check.outcome == "pass"
    assert check.expected == RUBRIC
    assert check.got == 'pass (3 pass, 0 fail of 3): The agent said "Order 1234, confirmed."'
    assert check.judge.samples == 3 and check.judge.agreement == 1.0
    assert check.judge.model == "grok-4-fast" and check.judge.prompt_tokens > 100
    # The same rubric over a transcript that does not show it: the default verdict, a failure.
    verdict, (check,) = await _judged(sim, judge, result=_result("It is cancelled."))
    assert not verdict.passed and check.outcome == "fail"
    assert check.got == "fail (0 pass, 3 fail of 3): no judge rule matched"


async def test_a_judge_that_disagrees_with_itself(sim: Simulator) -> None:
    flipping = {"rules": [{"rubric": "order", "verdicts": ["pass", "fail", "pass"]}]}
    verdict, (check,) = await _judged(sim, flipping)
    assert verdict.passed and (check.judge.passes, check.judge.fails) == (2, 1)
    # Two samples that split have no majority: uncertain fails the run, apart from failures.
    verdict, (check,) = await _judged(sim, flipping, spec=_spec(samples=2))
    assert not verdict.passed
    assert check.outcome == "uncertain" and not check.passed
    assert check.got == "uncertain: no majority (1 pass, 1 fail of 2)"


async def test_each_rubric_item_is_its_own_check(sim: Simulator) -> None:
    judge = {
        "rules": [
            {"rubric": "polite", "verdict": "pass", "reason": "polite"},
            {"rubric": "refund", "verdict": "fail", "reason": "no refund offered"},
        ]
    }
    spec = _spec(["the agent stayed polite", "the agent offered a refund"], samples=1)
    verdict, checks = await _judged(sim, judge, spec=spec)
    assert [(c.name, c.outcome) for c in checks] == [
        ("judge #1: the agent stayed polite", "pass"),
        ("judge #2: the agent offered a refund", "fail"),
    ]
    assert not verdict.passed


@pytest.mark.parametrize(
    ("fault", "kind", "got"),
    [
        ({"kind": "malformed"}, "malformed", "the reply is not the verdict's JSON"),
        ({"kind": "refusal"}, "refused", "the model refused: I'm sorry"),
        ({"kind": "rate_limit"}, "rate_limited", "HTTP 429: Too many requests. (after 3 tries)"),
        ({"kind": "server_error"}, "server_error", "HTTP 500: Internal server error."),
        ({"kind": "timeout", "delay_s": 30}, "timeout", "no reply within 0.3 s"),
    ],
)
async def test_each_judge_failure_is_its_own_outcome_and_never_a_pass(
    sim: Simulator, fault: dict[str, Any], kind: str, got: str
) -> None:
    judge = {"rules": [{"rubric": ".", "verdict": "pass"}], "faults": [fault]}
    settings = FAST.model_copy(update={"timeout_s": 0.3})
    verdict, (check,) = await _judged(sim, judge, spec=_spec(samples=1), settings=settings)
    assert not verdict.passed and not check.passed
    assert check.outcome == "error" and check.judge.errors == {kind: 1}
    assert got in check.got


async def test_a_429_that_clears_is_retried_to_a_verdict(sim: Simulator) -> None:
    judge = {
        "rules": [{"rubric": ".", "verdict": "pass", "reason": "fine"}],
        "faults": [{"kind": "rate_limit", "times": 2}],
    }
    verdict, (check,) = await _judged(sim, judge, spec=_spec(samples=1))
    assert verdict.passed and check.got == "pass (1 pass, 0 fail of 1): fine"


async def test_a_refused_key_is_an_http_error_that_never_names_the_key(sim: Simulator) -> None:
    secret = "xai-SECRET-judge-key-0123456789"
    endpoint = ProviderEndpoint(url=sim.url, api_key=SecretStr(secret))
    spec, result = _spec(samples=1), _result()
    verdict = await with_judgement(spec, result, score(spec, result), endpoint, FAST)
    (check,) = [check for check in verdict.checks if check.judge is not None]
    assert check.outcome == "error" and check.judge.errors == {"http_error": 1}
    assert "HTTP 401" in check.got
    assert secret not in json.dumps(verdict.model_dump())


@pytest.mark.parametrize("status", [400, 200])
async def test_a_judge_endpoint_that_echoes_the_key_never_gets_it_into_the_check(
    status: int,
) -> None:
    """xAI answers a wrong key with 400 'Incorrect API key provided: xai-...'; a 200 may quote
    it too (a refusal, a reason). Neither reaches the check, summary.json or the report."""
    secret = "xai-SECRET-judge-key-0123456789"

    async def echo(request: web.Request) -> web.Response:
        quoted = f"Incorrect API key provided: {request.headers['Authorization'][7:]}"
        if status == 400:
            return web.json_response({"error": {"message": quoted}}, status=400)
        message = {"role": "assistant", "content": None, "refusal": quoted}
        return web.json_response({"choices": [{"message": message}]})

    async with serve_local("POST", "/v1/chat/completions", echo) as host:
        settings = FAST.model_copy(update={"base_url": f"http://{host}"})
        endpoint = ProviderEndpoint(url="ws://127.0.0.1:1/v1/realtime", api_key=SecretStr(secret))
        spec, result = _spec(samples=1), _result()
        verdict = await with_judgement(spec, result, score(spec, result), endpoint, settings)
    (check,) = [check for check in verdict.checks if check.judge is not None]
    assert check.outcome == "error"
    assert "Incorrect API key provided: [redacted]" in check.got
    assert secret not in json.dumps(verdict.model_dump())


async def test_an_unreachable_judge_is_reported(sim: Simulator) -> None:
    settings = FAST.model_copy(update={"base_url": "http://127.0.0.1:9", "retries": 1})
    verdict, (check,) = await _judged(sim, None, spec=_spec(samples=1), settings=settings)
    assert not verdict.passed
    assert check.outcome == "error" and check.judge.errors == {"unreachable": 1}


async def test_the_simulator_refuses_a_judge_request_without_a_valid_token(
    sim: Simulator,
) -> None:
    base = judge_base_url(ProviderEndpoint(url=sim.url, api_key=SecretStr("x")), FAST)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/v1/chat/completions", json=body) as reply:
            assert reply.status == 401
        headers = {"Authorization": "Bearer nope"}
        async with http.post(f"{base}/v1/chat/completions", json=body, headers=headers) as reply:
            assert reply.status == 401


def test_the_request_asks_for_structured_output_and_shows_the_tool_calls() -> None:
    assert JUDGE_SCHEMA["type"] == "json_schema"
    assert JUDGE_SCHEMA["json_schema"]["schema"]["required"] == ["verdict", "reason"]
    shown = evidence(_spec(), _result())
    assert "user: Please cancel order 1234. (scripted; not transcribed)" in shown
    assert "agent: Order 1234, confirmed. It is cancelled." in shown
    assert '- lookup_order({"order_id": "1234"}) ok -> {"status": "shipped"}' in shown
    xai = ProviderEndpoint(url="wss://api.x.ai/v1/realtime", api_key=SecretStr("k"))
    assert judge_base_url(xai, JudgeSettings()) == "https://api.x.ai"


async def test_a_failed_session_is_not_judged(sim: Simulator) -> None:
    spec, result = _spec(), SessionResult(status="failed", error="boom")
    before = score(spec, result)
    after = await with_judgement(spec, result, before, _endpoint(sim, None), FAST)
    assert after == before


# --------------------------------------------------------------------- YAML validation


def _load(tmp_path: Path, expect: str, sim: str = "") -> None:
    text = (
        "name: judged\nscenarios:\n  - name: one\n    turns: [{say: hello}]\n"
        f"    expect:\n{expect}{sim}"
    )
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    load_suite(path)


@pytest.mark.parametrize(
    ("expect", "sim", "message"),
    [
        ("      judge: ['']\n", "", "expect.judge[0]: a rubric item is an empty string"),
        ("      judge: [x]\n      judge_samples: 0\n", "", "expect.judge_samples"),
        ("      judge: [x]\n      judge_verdict: 3\n", "", "judge_verdict"),
        (
            "      judge: [x]\n",
            "    sim:\n      judge:\n        rules: [{rubric: '(', verdict: pass}]\n",
            "sim.judge.rules[0].rubric",
        ),
        (
            "      judge: [x]\n",
            "    sim:\n      judge:\n        rules: [{verdict: pass, verdicts: [fail]}]\n",
            "`verdict` or `verdicts`",
        ),
        (
            "      judge: [x]\n",
            "    sim:\n      judge:\n        faults: [{kind: explode}]\n",
            "sim.judge.faults[0].kind",
        ),
    ],
)
def test_bad_judge_yaml_is_one_clear_error(
    tmp_path: Path, expect: str, sim: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _load(tmp_path, expect, sim)


def test_a_single_rubric_item_may_be_a_string(tmp_path: Path) -> None:
    assert _spec("be polite").expect.judge == ["be polite"]
    assert _spec().expect.judge_samples == 3


# --------------------------------------------------------------------- summary and cost


async def test_the_summary_counts_uncertain_apart_and_shows_flips_across_repeats(
    sim: Simulator,
) -> None:
    # One judge, four repeats of one scenario with K=1: pass, fail, pass, pass.
    endpoint = _endpoint(sim, {"rules": [{"rubric": ".", "verdicts": ["pass", "fail", "pass"]}]})
    spec, result = _spec(samples=1), _result()
    records = []
    for index in range(4):
        verdict = await with_judgement(spec, result, score(spec, result), endpoint, FAST)
        records.append(
            ScenarioRecord.from_result(f"cancel#{index}", spec, index, result, verdict, None)
        )
    two = _spec(samples=2)  # a fifth run with K=2 splits: uncertain, apart from failures
    verdict = await with_judgement(two, result, score(two, result), endpoint, FAST)
    records.append(ScenarioRecord.from_result("cancel#5", two, 4, result, verdict, None))
    summary = summarize(records)
    (item,) = summary.per_scenario["cancel"].judge_items.values()
    assert (item.runs, item.passes, item.fails, item.uncertain, item.errors) == (5, 3, 1, 1, 0)
    assert item.flip_rate == 0.4  # two of five runs differ from the usual verdict (pass)
    assert summary.runs_passed == 3
    assert summary.judge is not None and summary.judge.requests == 6
    tokens = summary.judge.prompt_tokens + summary.judge.completion_tokens
    assert summary.judge.cost_usd > 0 and tokens > 0
    assert summary.cost_estimate_usd >= summary.judge.cost_usd


def test_the_cost_estimate_includes_the_judge_tokens() -> None:
    plain = estimate_cost([_spec([])], 1)
    judged = estimate_cost([_spec(["be polite", "confirm the number"], samples=3)], 2)
    assert plain.judge_requests == 0 and "judge" not in plain.describe()
    assert judged.judge_requests == 12
    assert judged.judge_prompt_tokens > 12 * 180 and judged.judge_completion_tokens == 12 * 70
    judge_usd = judge_cost_usd(judged.judge_prompt_tokens, judged.judge_completion_tokens)
    assert judged.usd == pytest.approx(plain.usd * 2 + judge_usd, abs=1e-4)
    assert "judge $0.001: 12 requests" in judged.describe()


async def test_any_client_can_script_the_judge_over_http_and_gets_a_chat_completion() -> None:
    # What `voxray sim --rules` users in other languages do: register a script, then ask.
    config = SimulatorConfig(ping_interval_s=None, api_keys=frozenset({"server-token"}))
    script = {"judge": {"rules": [{"rubric": "polite", "verdict": "pass", "reason": "kind"}]}}
    async with Simulator(config) as sim, aiohttp.ClientSession() as http:
        base = judge_base_url(ProviderEndpoint(url=sim.url, api_key=SecretStr("x")), FAST)
        server = {"Authorization": "Bearer server-token"}
        async with http.post(f"{base}/v1/sim/scripts", json=script, headers=server) as reply:
            assert reply.status == 201
            token = (await reply.json())["token"]
        auth = {"Authorization": f"Bearer {token}"}
        messages = judge_messages("The agent was polite.", "agent: Hello!", "Be kind.")
        body = {"model": "grok-4-fast", "messages": messages, "response_format": JUDGE_SCHEMA}
        async with http.post(f"{base}/v1/chat/completions", json=body, headers=auth) as reply:
            assert reply.status == 200
            completion = await reply.json()
        assert completion["object"] == "chat.completion"
        assert completion["usage"]["prompt_tokens"] > 0
        content = json.loads(completion["choices"][0]["message"]["content"])
        assert content == {"verdict": "pass", "reason": "kind"}
        for bad in ({"messages": messages}, {"model": "m", "messages": []}, ["not", "an object"]):
            async with http.post(f"{base}/v1/chat/completions", json=bad, headers=auth) as reply:
                assert reply.status == 400, bad
                assert (await reply.json())["error"]["type"] == "invalid_request_error"


def test_the_judge_is_shown_the_agents_instructions_apart_from_the_transcript() -> None:
    system, user = judge_messages("stayed on policy", "agent: hi", "Never discuss prices.")
    assert system["role"] == "system" and "rubric item" in system["content"]
    policy, _, rest = user["content"].partition("<transcript>")
    assert "Never discuss prices." in policy and "Never discuss prices." not in rest
    assert "<rubric>stayed on policy</rubric>" in rest
