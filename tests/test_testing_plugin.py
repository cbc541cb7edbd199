"""The ``voxray.testing`` pytest plugin: the ``xai_simulator`` fixture, its factory and marker,
rules, faults and the per-connection frame log, seen through the ``openai`` SDK's realtime
clients (sync and async) as a user's test would see them."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI, OpenAI
from voxray.actors.errors import ConfigError
from voxray.testing import RunningSimulator, Truncation
from websockets.exceptions import ConnectionClosedError, InvalidStatus

ROOT = Path(__file__).resolve().parents[1]
MODEL = "grok-voice-latest"
LONG_REPLY = (
    "This answer is long enough to be cut off: it goes on about the weather, the trains "
    "and the price of bread for a good few seconds."
)


def sync_client(sim: RunningSimulator) -> OpenAI:
    return OpenAI(base_url=sim.base_url, api_key=sim.token, max_retries=0)


def async_client(sim: RunningSimulator) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=sim.base_url, api_key=sim.token, max_retries=0)


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def said(events: list[Any]) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_audio_transcript.delta")


def until(conn: Any, event_type: str) -> list[Any]:
    """Events of a sync connection up to and including the first ``event_type``."""
    seen: list[Any] = []
    for event in conn:
        seen.append(event)
        if event.type == event_type:
            return seen
    pytest.fail(f"the connection ended before {event_type}")


def ask(sim: RunningSimulator, text: str, **connect: Any) -> list[Any]:
    """One typed turn over the sync SDK client; the events up to ``response.done``."""
    with sync_client(sim).realtime.connect(model=MODEL, **connect) as conn:
        conn.conversation.item.create(item=user_text(text))
        conn.response.create()
        return until(conn, "response.done")


# ------------------------------------------------------------------ rules


@pytest.mark.xai_simulator(
    rules=[
        {"heard": "refund", "calls": [{"name": "start_refund", "arguments": {"days": 30}}]},
        {"turn": 2, "reply": "That was your second question."},
    ]
)
def test_marker_rules_script_the_fixtures_token(xai_simulator: RunningSimulator) -> None:
    with sync_client(xai_simulator).realtime.connect(model=MODEL) as conn:
        conn.conversation.item.create(item=user_text("I want a refund"))
        conn.response.create()
        first = until(conn, "response.done")
        conn.conversation.item.create(item=user_text("And another thing"))
        conn.response.create()
        second = until(conn, "response.done")
    calls = [e for e in first if e.type == "response.function_call_arguments.done"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("start_refund", {"days": 30})]
    assert said(second) == "That was your second question."


def test_without_rules_it_echoes(xai_simulator: RunningSimulator) -> None:
    assert said(ask(xai_simulator, "hello there")) == "You said: hello there."
    assert xai_simulator.url.startswith("ws://127.0.0.1:")
    assert xai_simulator.base_url == xai_simulator.url.replace("ws://", "http://").removesuffix(
        "/realtime"
    )


def test_factory_starts_independent_simulators(xai_simulator_factory: Any) -> None:
    polite = xai_simulator_factory(rules={"default_reply": "Certainly."})
    terse = xai_simulator_factory(rules={"default_reply": "No."})
    assert polite.url != terse.url and polite.token != terse.token
    assert said(ask(polite, "help")) == "Certainly."
    assert said(ask(terse, "help")) == "No."
    assert len(polite.connections) == len(terse.connections) == 1


def test_register_adds_a_token_and_a_named_script(xai_simulator: RunningSimulator) -> None:
    token = xai_simulator.register({"default_reply": "Second persona."}, name="second")
    client = OpenAI(base_url=xai_simulator.base_url, api_key=token, max_retries=0)
    with client.realtime.connect(model=MODEL) as conn:
        conn.conversation.item.create(item=user_text("hi"))
        conn.response.create()
        assert said(until(conn, "response.done")) == "Second persona."
    by_name = ask(xai_simulator, "hi", extra_query={"script": "second"})
    assert said(by_name) == "Second persona."


def test_bad_rules_fail_the_test_with_the_field_named(xai_simulator_factory: Any) -> None:
    with pytest.raises(ConfigError, match=r"^rules: rules\.0: a rule needs a `reply` or some"):
        xai_simulator_factory(rules=[{"heard": "x"}])
    with pytest.raises(ConfigError, match=r"^faults: actions\.0"):
        xai_simulator_factory(faults=[{"do": "explode"}])
    with pytest.raises(ConfigError, match="faults are given twice"):
        xai_simulator_factory(rules={"faults": []}, faults=[])
    with pytest.raises(ConfigError, match=r"^xai_simulator: sped: Extra inputs"):
        xai_simulator_factory(sped=2.0)  # a typo of speed
    with pytest.raises(ConfigError, match=r"^xai_simulator: speed: Input should be greater"):
        xai_simulator_factory(speed=0)


# ------------------------------------------------------------------ faults


@pytest.mark.xai_simulator(
    rules={"default_reply": LONG_REPLY},
    faults={"refuse": {"status": 429, "times": 1}, "actions": [{"do": "drop", "mid_response": 1}]},
)
def test_faults_refuse_then_drop_mid_response(xai_simulator: RunningSimulator) -> None:
    with pytest.raises(InvalidStatus) as refused:
        ask(xai_simulator, "hello")
    assert refused.value.response.status_code == 429
    seen: list[str] = []
    with (
        pytest.raises(ConnectionClosedError),
        sync_client(xai_simulator).realtime.connect(model=MODEL) as conn,
    ):
        conn.conversation.item.create(item=user_text("hello"))
        conn.response.create()
        seen.extend(event.type for event in conn)
    assert "response.output_audio.delta" in seen or "response.output_audio_transcript.delta" in seen
    assert "response.done" not in seen
    # The refused handshake never became a connection; the dropped one is logged and closed.
    log = xai_simulator.closed_connection(0)
    assert len(xai_simulator.connections) == 1
    assert log.types == ["conversation.item.create", "response.create"]


def test_faults_beside_the_rules_in_a_rules_file(
    xai_simulator_factory: Any, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {heard: hello, reply: Hi from the file.}\n"
        "faults: {refuse: {status: 503, times: 1, retry_after_s: 2}}\n"
    )
    sim = xai_simulator_factory(rules=rules)
    with pytest.raises(InvalidStatus) as refused:
        ask(sim, "hello")
    assert refused.value.response.status_code == 503
    assert refused.value.response.headers["Retry-After"] == "2"
    assert said(ask(sim, "hello")) == "Hi from the file."


async def test_inject_a_fault_into_an_open_session(xai_simulator: RunningSimulator) -> None:
    async with async_client(xai_simulator).realtime.connect(model=MODEL) as conn:
        async for event in conn:
            if event.type == "conversation.created":
                break
        # The simulator runs on its own thread: inject from here without blocking our loop.
        armed = await asyncio.to_thread(
            xai_simulator.inject, {"do": "error", "type": "invalid_request_error"}
        )
        assert armed == 1
        async for event in conn:
            assert event.type == "error"
            assert event.error.type == "invalid_request_error"
            break


# ------------------------------------------------------------------ the frame log


@pytest.mark.xai_simulator(rules={"default_reply": LONG_REPLY})
async def test_frame_log_one_session_update_and_a_truncation_at_900_ms(
    xai_simulator: RunningSimulator,
) -> None:
    async with async_client(xai_simulator).realtime.connect(model=MODEL) as conn:
        await conn.session.update(session={"type": "realtime", "instructions": "Talk a lot."})
        await conn.conversation.item.create(item=user_text("Tell me everything"))
        await conn.response.create()
        item_id = ""
        async for event in conn:
            if event.type == "response.output_item.added":
                item_id = event.item.id
            if event.type == "response.done":
                break
        # The caller heard 900 ms of the answer before talking over it.
        await conn.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=900)
        async for event in conn:
            if event.type in ("conversation.item.truncated", "error"):
                assert event.type == "conversation.item.truncated", event
                assert event.audio_end_ms == 900
                break

    log = await asyncio.to_thread(xai_simulator.closed_connection, 0)
    assert len(log.sent("session.update")) == 1
    assert log.session_updates[0]["instructions"] == "Talk a lot."
    assert log.truncations == [Truncation(item_id=item_id, content_index=0, audio_end_ms=900)]
    assert log.types == [
        "session.update",
        "conversation.item.create",
        "response.create",
        "conversation.item.truncate",
    ]
    assert log.model == MODEL
    assert [frame.at_s for frame in log.frames] == sorted(frame.at_s for frame in log.frames)


def test_frame_log_keeps_malformed_frames_and_audio_sizes(xai_simulator: RunningSimulator) -> None:
    import base64

    from websockets.sync.client import connect

    headers = {"Authorization": f"Bearer {xai_simulator.token}"}
    with connect(xai_simulator.url, additional_headers=headers) as ws:
        ws.send('{"type": "input_audio_buffer.append", "audio": "not json')
        audio = bytes(4800)  # 100 ms of 24 kHz PCM16 silence
        ws.send(
            json.dumps(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()}
            )
        )
        ws.send(audio)  # a binary frame is raw input audio
    log = xai_simulator.closed_connection(0)
    assert log.malformed == ['{"type": "input_audio_buffer.append", "audio": "not json']
    assert log.types == [None, "input_audio_buffer.append", "input_audio_buffer.append"]
    assert log.audio_bytes == 2 * len(audio)
    assert log.sent("input_audio_buffer.append")[0] == {"type": "input_audio_buffer.append"}


def test_wait_for_times_out_naming_what_was_awaited(xai_simulator: RunningSimulator) -> None:
    with pytest.raises(TimeoutError, match="connection #0 opened"):
        xai_simulator.connection(0, timeout_s=0.05)


def test_close_stops_the_server(xai_simulator_factory: Any) -> None:
    sim = xai_simulator_factory()
    sim.close()
    sim.close()  # idempotent
    with pytest.raises(OSError):
        ask(sim, "anyone there?")


# ------------------------------------------------------------------ the plugin as installed


def test_plugin_import_loads_nothing_heavy() -> None:
    """Loaded by every pytest session where voxray is installed: it must cost nothing."""
    probe = (
        "import sys, voxray.testing; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('ray', 'aiohttp', 'numpy', 'pydantic', 'soxr', 'openai') or m.startswith('voxray.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    # The package's lazy-export helper comes along (voxray/__init__ uses it); nothing else.
    loaded = set(ast.literal_eval(out.stdout.strip()))
    assert loaded <= {"voxray.testing", "voxray.actors", "voxray.actors.lazy_exports"}, loaded


def test_readme_example_passes_in_a_project_without_conftest(tmp_path: Path) -> None:
    """The README's five-minute test, run as a user would: its own folder, no conftest, the
    plugin found through its ``pytest11`` entry point."""
    readme = (ROOT / "README.md").read_text("utf-8")
    found = re.search(r"```python\n(# test_my_agent\.py\n.*?)```", readme, re.DOTALL)
    assert found is not None, "README: the simulator page's test_my_agent.py example is missing"
    (tmp_path / "test_my_agent.py").write_text(found.group(1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_my_agent.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b1 passed\b", done.stdout), done.stdout
