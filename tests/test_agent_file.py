"""Agent files: the example loads; bad ones are one line naming the file, the agent, the field;
routing picks the agent a caller asked for, the number it called, else the default."""

from __future__ import annotations

from pathlib import Path

import pytest
from voxray.actors.errors import ConfigError
from voxray.actors.gateway.agents import AgentBook
from voxray.serve.agents import load_agent_file

EXAMPLE = Path(__file__).parent.parent / "configs" / "agents" / "support.yaml"


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    return load_agent_file(path)


def test_the_example_loads_with_defaults_merged_and_tools_resolved() -> None:
    agents = load_agent_file(EXAMPLE)
    support, concierge = agents.agents
    assert support.greeting and support.agent.voice == "ara"
    assert [tool.name for tool in support.agent.tools] == ["get_weather"]
    assert support.agent.turn_detection is not None
    assert support.agent.turn_detection.silence_duration_ms == 500
    assert concierge.agent.voice == "eve" and concierge.routes.ingresses == ("browser",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "agents:\n  - name: support\n    greting: hi\n",
            "agent 'support' (agents[0]) → greting: unknown key 'greting' (did you mean "
            "'greeting'?)",
        ),
        (
            "agents:\n  - name: a\n    agent: {tools: [voxray.examples.tools:get_wether]}\n",
            "agent 'a' (agents[0]) → agent.tools: voxray.examples.tools:get_wether: 'get_wether' "
            "not found",
        ),
        (
            "agents:\n  - name: a\n    agent: {voice: nobody}\n",
            "agent 'a' (agents[0]) → agent.voice: unknown voice 'nobody'",
        ),
        (
            "agents:\n  - {name: a, routes: {default: true}}\n"
            "  - {name: b, routes: {default: true}}\n",
            "agent 'b' (agents[1]) → routes.default: only one agent may be the default",
        ),
        (
            "agents:\n  - {name: a}\n  - {name: a}\n",
            "agent 'a' (agents[1]) → name: duplicate agent name 'a'",
        ),
        ("agents: []\n", "agents: list should have at least 1 item"),
        ("agents:\n  - {name: a, routes: {ingresses: [fax]}}\n", "routes.ingresses[0]"),
    ],
)
def test_a_bad_agent_file_is_one_line_naming_file_agent_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "agents.yaml"))
    assert expected in message, message
    assert "\n" not in message


def test_routing_by_name_number_and_default() -> None:
    book = AgentBook(load_agent_file(EXAMPLE).hosted())
    assert book.route("twilio", number="+1 555 123 4567") is book["support"]
    assert book.route("twilio") is book["support"]  # the default
    assert book.route("browser", name="concierge") is book["concierge"]
    assert book.route("twilio", name="concierge") is None  # browser only
    assert book.route("twilio", name="nobody") is None


def test_serve_refuses_a_bad_file_and_a_detach_without_a_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from voxray.cli import main

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("VOXRAY_RAY_ADDRESS", raising=False)
    bad = tmp_path / "agents.yaml"
    bad.write_text("agents:\n  - name: support\n    greting: hi\n")
    assert main(["serve", str(bad)]) == 2
    assert "agent 'support' (agents[0]) → greting: unknown key" in capsys.readouterr().out
    assert main(["serve", str(EXAMPLE), "--detach"]) == 2
    assert "--detach needs a cluster" in capsys.readouterr().out
