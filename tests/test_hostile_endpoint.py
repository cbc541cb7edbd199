"""A hostile or broken endpoint: a key echoed back, a refused key after the upgrade, a transient
5xx at the handshake. Real local servers (127.0.0.1); the engine as a session runs it."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import ray
from aiohttp import WSMsgType, web
from pydantic import SecretStr
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.script import ScenarioScript, TextTurn
from voxray.actors.errors import AuthenticationError
from voxray.actors.realtime import transport
from voxray.actors.realtime.redaction import InboundRedactor
from voxray.actors.session import SessionRequest, play_scenario
from voxray.actors.tools.inprocess import InProcessToolBackend
from voxray.cli import main

from tests.conftest import TEST_SPEED
from tests.local_websocket import serve_websocket, websocket_in_thread

KEY = "xai-hostile-0123456789abcdefghijklmnopqrstuv"
OTHER_KEY = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"  # shaped like a key, not ours


@dataclass
class Hostile:
    """A server that echoes the key it was given in error events and refuses it."""

    url: str = ""
    connections: int = 0
    close_code: int = 4001
    handshakes_to_fail: int = 0
    handshake_status: int = 503
    seen: list[str] = field(default_factory=list)


async def _refuse(socket: web.WebSocketResponse, state: Hostile, bearer: str) -> None:
    message = f"Incorrect API key provided: {bearer}. Also tried {OTHER_KEY}."
    await socket.send_str(
        json.dumps(
            {
                "type": "error",
                "event_id": "event_1",
                "error": {
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                    "message": message,
                },
            }
        )
    )
    await socket.close(code=state.close_code, message=b"invalid api key")


def _hostile_handler(
    state: Hostile,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The endpoint: fails ``state.handshakes_to_fail`` handshakes, then refuses the key given
    (quoting it) in answer to the client's first event."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if state.handshakes_to_fail > 0:
            state.handshakes_to_fail -= 1
            return web.Response(status=state.handshake_status, text="upstream restarting")
        state.connections += 1
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            if message.type is WSMsgType.TEXT:
                state.seen.append(json.loads(message.data)["type"])
                await _refuse(socket, state, bearer)
                break
        return socket

    return handle


@pytest.fixture
async def hostile(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Hostile]:
    monkeypatch.setattr(transport, "HANDSHAKE_RETRY_DELAYS_S", (0.01, 0.02, 0.04))
    state = Hostile()
    async with serve_websocket(_hostile_handler(state)) as url:
        state.url = url
        yield state


def request_for(url: str) -> SessionRequest:
    return SessionRequest(
        session_id="hostile",
        agent=AgentConfig(),
        script=ScenarioScript(turns=(TextTurn(text="Hello?"),), reply_timeout_s=5),
        endpoint=ProviderEndpoint(url=url, api_key=SecretStr(KEY)),
        tuning=EngineTuning(speed=TEST_SPEED, connect_timeout_s=5),
    )


@pytest.mark.parametrize("close_code", [4001, 1000])
async def test_an_echoed_key_is_stored_nowhere_and_the_refusal_is_not_retried(
    hostile: Hostile,
    close_code: int,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hostile.close_code = close_code
    caplog.set_level(logging.DEBUG)
    result = await play_scenario(request_for(hostile.url), InProcessToolBackend())

    # An authentication failure: said so, not retried like a dropped socket.
    assert result.status == "failed"
    assert result.error_info is not None and result.error_info.is_a(AuthenticationError)
    assert not result.error_info.retryable
    assert result.error is not None and "invalid_api_key" in result.error
    assert "refused the credentials" in result.error
    assert hostile.connections == 1
    # Neither our key nor anything shaped like a key survives into what is kept.
    kept = result.model_dump_json() + caplog.text + "".join(capsys.readouterr())
    assert "Incorrect API key provided: [redacted]" in result.model_dump_json()
    assert KEY not in kept
    assert OTHER_KEY not in kept


async def test_a_close_4001_alone_is_an_authentication_failure(hostile: Hostile) -> None:
    async def refuse_silently(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.receive()
        await socket.close(code=4001)
        hostile.connections += 1
        return socket

    async with serve_websocket(refuse_silently) as url:
        result = await play_scenario(request_for(url), InProcessToolBackend())
    assert result.error_info is not None and result.error_info.is_a(AuthenticationError)
    assert result.error is not None and "code 4001" in result.error
    assert hostile.connections == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_transient_5xx_at_the_handshake_is_retried(hostile: Hostile, status: int) -> None:
    hostile.handshakes_to_fail = 2
    hostile.handshake_status = status
    result = await play_scenario(request_for(hostile.url), InProcessToolBackend())
    # Past the two refusals, the third handshake got through (and met the refused key).
    assert hostile.handshakes_to_fail == 0
    assert hostile.connections == 1
    assert result.error is not None and "invalid_api_key" in result.error


async def test_a_persistent_5xx_gives_up_after_the_bounded_retries(hostile: Hostile) -> None:
    hostile.handshakes_to_fail = 100
    result = await play_scenario(request_for(hostile.url), InProcessToolBackend())
    assert result.status == "failed"
    assert result.error is not None and "HTTP 503" in result.error
    assert hostile.handshakes_to_fail == 100 - 4  # the first try and three retries
    assert hostile.connections == 0


def test_redactor_keeps_json_valid_and_audio_fast_path_untouched() -> None:
    redactor = InboundRedactor([KEY])
    frame = json.dumps({"type": "error", "error": {"message": f"key {KEY} and Bearer abc.def-ghi"}})
    scrubbed = redactor.all(frame)
    assert json.loads(scrubbed)["error"]["message"] == "key [redacted] and [redacted]"
    assert redactor.known("no secret here") == "no secret here"
    assert InboundRedactor(["short"]).known("short") == "short"  # too short to be a secret


@pytest.mark.ray
@pytest.mark.e2e
def test_voxray_eval_against_a_key_echoing_endpoint_stores_the_key_nowhere(
    ray_cluster: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The whole path, as a user runs it: ``voxray eval --backend xai`` with the key exported,
    an endpoint that quotes it back; then every output file and every Ray log is searched."""
    state = Hostile()
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: hostile\nbackend: xai\nscenarios:\n  - name: hello\n    turns: [{text: Hi}]\n"
    )
    monkeypatch.setenv("XAI_API_KEY", KEY)
    with websocket_in_thread(_hostile_handler(state)) as url:
        monkeypatch.setenv("VOXRAY_XAI_URL", url)
        code = main(["eval", str(suite), "--out", str(tmp_path / "run")])
    printed = capsys.readouterr()
    assert code == 1, printed.out
    assert state.connections == 1  # refused credentials are not retried
    assert (
        "refused the credentials" in printed.out + (tmp_path / "run" / "results.jsonl").read_text()
    )
    outputs = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert {p.name for p in outputs} >= {
        "results.jsonl",
        "report.html",
        "summary.json",
        "junit.xml",
    }
    session_dir = Path(ray._private.worker._global_node.get_session_dir_path())
    logs = [p for p in (session_dir / "logs").rglob("*") if p.is_file()]
    for path in [*outputs, *logs]:
        assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in printed.out + printed.err
