"""``voxray.testing``: the xAI-compatible simulator as a pytest fixture, for any realtime client.

Installed with voxray, this module is a pytest plugin (entry point ``pytest11``): no conftest
is needed. A test asks for ``xai_simulator`` and points its client at it::

    import pytest
    from openai import AsyncOpenAI

    @pytest.mark.xai_simulator(rules=[{"heard": "weather", "reply": "Sunny."}])
    async def test_weather(xai_simulator):
        client = AsyncOpenAI(base_url=xai_simulator.base_url, api_key=xai_simulator.token)
        async with client.realtime.connect(model="grok-voice-latest") as conn:
            ...
        log = xai_simulator.closed_connection(0)
        assert len(log.sent("session.update")) == 1

Fixtures:
    ``xai_simulator``: one simulator for the test, on ``127.0.0.1`` and a free port, its
    arguments from the ``xai_simulator`` marker (the factory's keywords). It yields a
    :class:`RunningSimulator`: ``url`` (``ws://…/v1/realtime``), ``base_url``
    (``http://…/v1``, for OpenAI-style SDKs), ``websocket_base_url``, ``token`` (the API key
    to use), ``connections`` (a frame log per connection: ``sent(type)``, ``truncations``,
    ``session_updates``, ``audio_bytes``, ``closed``: a :class:`FrameLog`), ``wait_for``,
    ``register`` and ``inject``.
    ``xai_simulator_factory``: ``xai_simulator_factory(rules=..., faults=..., speed=10.0,
    latency_ms=300.0, transcribe=False, **config)`` starts one more; all stop after the test.

``rules`` is a rules file's path, a list of rules, or a mapping in the rules-file schema (a
scenario's ``sim:`` block: ``rules``, ``default_reply``, ``idle_reply``, ``latency``,
``faults``); ``faults`` a fault plan (a mapping, or a list of actions). ``speed`` paces the
simulated audio (10: ten times real time; timing decisions run on the audio timeline, so
results do not change with it). Other keywords are ``SimulatorConfig`` fields
(``ping_interval_s``, ``max_duration_s``, ``output_chunk_ms``, ...).

The simulator runs on its own thread with its own event loop, so it serves synchronous and
asynchronous clients alike and needs neither Ray nor pytest-asyncio. Importing this module
imports nothing but pytest: the plugin is loaded by every pytest session where voxray is
installed, and the simulator is imported only by a test that asks for it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from voxray.actors.simulator.frame_log import ClientFrame, FrameLog, Truncation
    from voxray.testing.running import RunningSimulator

__all__ = [
    "ClientFrame",
    "FrameLog",
    "RunningSimulator",
    "Truncation",
    "xai_simulator",
    "xai_simulator_factory",
]

# Loaded on first use (module __getattr__), so the plugin's import stays free of the simulator.
_LAZY = {
    "RunningSimulator": "voxray.testing.running",
    "ClientFrame": "voxray.actors.simulator.frame_log",
    "FrameLog": "voxray.actors.simulator.frame_log",
    "Truncation": "voxray.actors.simulator.frame_log",
}

_MARKER = "xai_simulator"


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker, so ``--strict-markers`` runs accept it."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(rules=None, faults=None, **options): arguments of the xai_simulator "
        "fixture (voxray.testing)",
    )


@pytest.fixture
def xai_simulator_factory() -> Iterator[Callable[..., RunningSimulator]]:
    """Start simulators with ``factory(rules=..., faults=..., **options)``; all stop after."""
    from voxray.testing.running import RunningSimulator

    started: list[RunningSimulator] = []

    def factory(rules: Any = None, faults: Any = None, **options: Any) -> RunningSimulator:
        running = RunningSimulator.start(rules=rules, faults=faults, **options)
        started.append(running)
        return running

    try:
        yield factory
    finally:
        for running in reversed(started):
            running.close()


@pytest.fixture
def xai_simulator(
    request: pytest.FixtureRequest, xai_simulator_factory: Callable[..., RunningSimulator]
) -> RunningSimulator:
    """A simulator for this test, configured by ``@pytest.mark.xai_simulator(...)``."""
    options: dict[str, Any] = {}
    # The closest marker wins (a test's over its class's over its module's).
    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None:
        if marker.args:
            raise TypeError("@pytest.mark.xai_simulator takes keywords only (rules=, faults=...)")
        options = dict(marker.kwargs)
    return xai_simulator_factory(**options)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
