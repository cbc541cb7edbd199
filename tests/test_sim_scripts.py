"""Scripting the simulator without voxray's runner: ``voxray sim --rules FILE``, named scripts
chosen with ``?script=``, and ``POST /v1/sim/scripts`` guarded by the server's own token."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.rules import BrainScript
from voxray.actors.simulator.server import CONNECTIONS_PATH, SCRIPTS_PATH, Simulator
from voxray.cli import main

ROOT = Path(__file__).resolve().parents[1]
WEATHER = ROOT / "configs" / "sim" / "weather.yaml"
SERVER_TOKEN = "server-token"


# ------------------------------------------------------------------ a bad rules file


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (
            "rules:\n  - heard: weather\n    calls: [{arguments: {city: Paris}}]\n",
            "rules.0.calls.0.name",
        ),
        ("rules:\n  - heard: weather\n", "rules.0"),  # no reply nor calls
        ("rules:\n  - heard: '(unclosed'\n    reply: hi\n", "rules.0.heard"),
        ("rules:\n  - turn: zero\n    reply: hi\n", "rules.0.turn"),
        ("rule:\n  - turn: 1\n    reply: hi\n", "rule"),  # a typo: an unknown key
        ("rules: []\nfaults: {actions: [{do: explode}]}\n", "faults.actions.0"),
        ("scripts:\n  'no spaces': {default_reply: x}\n", "scripts"),
        ("rules: [\n", "line 2"),  # YAML syntax
        ("- turn: 1\n", "expected a mapping"),
    ],
)
def test_bad_rules_file_is_one_line_naming_the_field_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, named: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(content)
    code = main(["sim", "--port", "0", "--rules", str(rules)])
    out = capsys.readouterr().out
    assert code == 2
    assert out.startswith(f"error: {rules}: ")
    assert named in out
    assert out.strip().count("\n") == 0, out


def test_missing_rules_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sim", "--rules", str(tmp_path / "nowhere.yaml")])
    out = capsys.readouterr().out
    assert code == 2
    assert "cannot read the rules file" in out and "nowhere.yaml" in out


def test_bad_fault_plan_is_one_line_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "faults.yaml"
    plan.write_text("actions:\n  - {do: drop, after_s: -1}\n")
    code = main(["sim", "--faults", str(plan)])
    out = capsys.readouterr().out
    assert code == 2
    assert "actions.0.drop.after_s" in out and out.strip().count("\n") == 0, out


def test_a_taken_port_is_one_line_naming_it_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["sim", "--port", str(port)])
    out = " ".join(capsys.readouterr().out.split())  # rich folds long lines
    assert code == 2
    assert out.startswith(f"error: cannot listen on 127.0.0.1:{port}: "), out
    assert "address already in use" in out and "--port 0" in out


def test_a_negative_option_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sim", "--port", "0", "--max-duration", "-1"])
    assert code == 2
    assert capsys.readouterr().out.strip() == "error: --max-duration must be >= 0, got -1.0"


# ------------------------------------------------------------------ `voxray sim --rules` serving


def test_voxray_sim_serves_the_rules_file(tmp_path: Path) -> None:
    """The command as a user runs it: the printed token gets the file's tool call."""
    command = ["sim", "--port", "0", "--speed", "20", "--rules", str(WEATHER)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "voxray.cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert proc.stdout is not None
        banner = ""
        for line in proc.stdout:  # the banner ends with the named scripts' lines
            banner += line
            if line.startswith("script 'grumpy'"):
                break
        url = _printed(r"listening on (ws://\S+)", banner)
        token = _printed(r"bearer token: (\S+)", banner)
        assert _printed(r"base URL for SDKs: (\S+)", banner) == url.replace(
            "ws://", "http://"
        ).removesuffix("/realtime")
        events = _run(_ask(url, token, "what is the weather in Rome"))
        calls = [e for e in events if e["type"] == "response.function_call_arguments.done"]
        assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [
            ("get_weather", {"city": "Rome"})
        ]
        grumpy = _run(_ask(f"{url}?script=grumpy", token, "hello"))
        assert _said(grumpy) == "Not now, please."
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def _printed(pattern: str, banner: str) -> str:
    found = re.search(pattern, banner)
    assert found is not None, banner
    return found.group(1)


# ------------------------------------------------------------------ HTTP registration, ?script=


@pytest.fixture
async def server() -> AsyncIterator[Simulator]:
    sim = Simulator(
        SimulatorConfig(speed=20.0, api_keys=frozenset({SERVER_TOKEN}), ping_interval_s=None),
        script=BrainScript(default_reply="I follow the server's own rules."),
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.aclose()


def _http(sim: Simulator) -> str:
    return sim.url.replace("ws://", "http://").removesuffix("/v1/realtime")


async def test_register_over_http_then_connect_with_the_token(server: Simulator) -> None:
    body = {
        "rules": [{"heard": "order", "calls": [{"name": "lookup_order", "arguments": {}}]}],
        "default_reply": "Registered over HTTP.",
    }
    async with aiohttp.ClientSession() as http:
        reply = await http.post(
            _http(server) + SCRIPTS_PATH,
            json=body,
            headers={"Authorization": f"Bearer {SERVER_TOKEN}"},
        )
        assert reply.status == 201
        registered = await reply.json()
    assert registered["name"] is None and registered["url"] == server.url
    assert _said(await _ask(server.url, registered["token"], "hello")) == "Registered over HTTP."
    calls = await _ask(server.url, registered["token"], "where is my order")
    assert [e["name"] for e in calls if e["type"] == "response.function_call_arguments.done"] == [
        "lookup_order"
    ]
    # The server's own token keeps its own rules.
    assert _said(await _ask(server.url, SERVER_TOKEN, "hi")) == "I follow the server's own rules."


async def test_a_named_registration_is_chosen_with_the_script_query(server: Simulator) -> None:
    async with aiohttp.ClientSession() as http:
        reply = await http.post(
            _http(server) + SCRIPTS_PATH,
            json={"name": "support", "default_reply": "Support here."},
            headers={"Authorization": f"Bearer {SERVER_TOKEN}"},
        )
        registered = await reply.json()
    assert registered["url"] == f"{server.url}?script=support"
    assert _said(await _ask(registered["url"], SERVER_TOKEN, "hello")) == "Support here."
    async with aiohttp.ClientSession() as http:
        refused = await http.get(f"{server.url}?script=nobody", headers=_bearer(SERVER_TOKEN))
        assert refused.status == 400
        error = (await refused.json())["error"]
    assert error["param"] == "script" and "nobody" in error["message"]


async def test_registration_needs_the_servers_own_token(server: Simulator) -> None:
    session_token = server.register(BrainScript())
    url = _http(server) + SCRIPTS_PATH
    async with aiohttp.ClientSession() as http:
        for headers in ({}, _bearer("wrong"), _bearer(session_token)):
            reply = await http.post(url, json={"default_reply": "x"}, headers=headers)
            assert reply.status == 401, headers
            assert (await reply.json())["error"]["type"] == "invalid_request_error"
    assert server.statistics()["tokens"] == 1  # only the one registered in-process


async def test_an_invalid_registration_names_the_field(server: Simulator) -> None:
    url = _http(server) + SCRIPTS_PATH
    async with aiohttp.ClientSession() as http:
        bad_rule = {"rules": [{"heard": "x", "calls": [{"arguments": {}}]}]}
        reply = await http.post(url, json=bad_rule, headers=_bearer(SERVER_TOKEN))
        assert reply.status == 400
        error = (await reply.json())["error"]
        assert error["param"] == "rules.0.calls.0.name"
        assert error["message"].startswith("rules.0.calls.0.name: Field required")
        reply = await http.post(url, data=b"not json", headers=_bearer(SERVER_TOKEN))
        assert reply.status == 400
        reply = await http.post(url, json={"name": "a b"}, headers=_bearer(SERVER_TOKEN))
        assert reply.status == 400 and (await reply.json())["error"]["param"] == "name"
    assert server.statistics()["tokens"] == 0


async def test_frame_logs_over_http_for_clients_in_any_language() -> None:
    config = SimulatorConfig(
        speed=20.0, api_keys=frozenset({SERVER_TOKEN}), ping_interval_s=None, record_frames=True
    )
    async with Simulator(config) as sim, aiohttp.ClientSession() as http:
        await _ask(f"{sim.url}?model=grok-test", SERVER_TOKEN, "hello")
        session_token = sim.register(BrainScript())
        refused = await http.get(_http(sim) + CONNECTIONS_PATH, headers=_bearer(session_token))
        assert refused.status == 401
        reply = await http.get(_http(sim) + CONNECTIONS_PATH, headers=_bearer(SERVER_TOKEN))
        assert reply.status == 200
        (log,) = (await reply.json())["connections"]
    assert log["model"] == "grok-test" and log["query"] == {"model": "grok-test"}
    assert [frame["type"] for frame in log["frames"]] == [
        "conversation.item.create",
        "response.create",
    ]
    assert log["frames"][0]["event"]["item"]["content"][0]["text"] == "hello"


async def test_frame_logs_need_recording(server: Simulator) -> None:
    async with aiohttp.ClientSession() as http:
        reply = await http.get(_http(server) + CONNECTIONS_PATH, headers=_bearer(SERVER_TOKEN))
        assert reply.status == 400
        assert "--record-frames" in (await reply.json())["error"]["message"]


# ------------------------------------------------------------------ helpers


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _said(events: list[dict[str, Any]]) -> str:
    deltas = [e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta"]
    return "".join(deltas)


async def _ask(url: str, token: str, text: str) -> list[dict[str, Any]]:
    """One typed user turn and a response; every event up to ``response.done``."""
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    events: list[dict[str, Any]] = []
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, headers=_bearer(token)) as ws,
    ):
        await ws.send_json({"type": "conversation.item.create", "item": item})
        await ws.send_json({"type": "response.create"})
        async for message in ws:
            event = json.loads(message.data)
            events.append(event)
            assert event["type"] != "error", event
            if event["type"] == "response.done":
                return events
    raise AssertionError(f"the socket closed before response.done: {events}")
