"""A simulator running on its own thread, for tests of any client (sync or async, any loop).

The server gets a private event loop on a daemon thread, so a test's own loop (pytest-asyncio,
anyio, or none at all for a synchronous client) never has to host it, and a client that blocks
its thread cannot stall the server it talks to. Everything the test calls is thread-safe: calls
that touch the server's state are run on its loop and awaited from the test's thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from voxray.actors.simulator.config import SimulatorConfig
    from voxray.actors.simulator.faults import FaultAction, FaultPlan
    from voxray.actors.simulator.frame_log import FrameLog
    from voxray.actors.simulator.rules import BrainScript
    from voxray.actors.simulator.server import Simulator

__all__ = ["RunningSimulator", "build_script", "named_scripts"]

_T = TypeVar("_T")

_START_TIMEOUT_S = 30.0
_CALL_TIMEOUT_S = 30.0


def build_script(rules: Any = None, faults: Any = None) -> BrainScript:
    """One script from ``rules`` and ``faults`` (a rules file's named ``scripts`` are left
    out: see :func:`named_scripts`).

    ``rules``: a rules file's path, a list of rules, a mapping in the rules-file schema
    (``{"rules": [...], "default_reply": ...}``), a ``BrainScript``, or None (echo what was
    heard). ``faults``: a fault plan as a mapping, a list of actions, or a ``FaultPlan``.

    Raises:
        ConfigError: invalid rules or faults (one line naming the field), or faults given
            both in the rules and as an argument.
    """
    from pydantic import ValidationError
    from voxray.actors.errors import ConfigError
    from voxray.actors.simulator.faults import FaultPlan
    from voxray.actors.simulator.rules import BrainScript
    from voxray.actors.simulator.script_file import (
        describe_validation_error,
        load_rules_file,
        parse_rules,
    )

    script: BrainScript
    if rules is None:
        script = BrainScript()
    elif isinstance(rules, BrainScript):
        script = rules
    elif isinstance(rules, (str, Path)):
        script = load_rules_file(rules).default_script()
    elif isinstance(rules, Mapping):
        script = parse_rules(dict(rules), "rules").default_script()
    elif isinstance(rules, Sequence):
        script = parse_rules({"rules": list(rules)}, "rules").default_script()
    else:
        raise ConfigError(
            f"rules: expected a rules file's path, a list of rules or a mapping, "
            f"got {type(rules).__name__}"
        )
    if faults is None:
        return script
    if script.faults is not None:
        raise ConfigError("faults are given twice: in the rules and as faults=; keep one")
    try:
        plan = faults if isinstance(faults, FaultPlan) else FaultPlan.model_validate(faults)
    except ValidationError as error:
        where, message = describe_validation_error(error)
        raise ConfigError(f"faults: {where}: {message}") from None
    return script.model_copy(update={"faults": plan})


def named_scripts(rules: Any) -> dict[str, BrainScript]:
    """The named ``scripts`` of a rules file's path or mapping (empty for anything else)."""
    from voxray.actors.simulator.script_file import load_rules_file, parse_rules

    if isinstance(rules, (str, Path)):
        return dict(load_rules_file(rules).scripts)
    if isinstance(rules, Mapping):
        return dict(parse_rules(dict(rules), "rules").scripts)
    return {}


class RunningSimulator:
    """A started simulator and what a test needs from it.

    Attributes:
        url: the realtime websocket URL (``ws://127.0.0.1:<port>/v1/realtime``).
        base_url: the HTTP base URL for OpenAI-style SDKs (``http://127.0.0.1:<port>/v1``):
            ``AsyncOpenAI(base_url=sim.base_url, api_key=sim.token)``.
        websocket_base_url: the same as ``ws://``, for clients that take a websocket base.
        token: the bearer token (API key) whose sessions follow the rules it was started with.
    """

    def __init__(self, config: SimulatorConfig, script: BrainScript, token: str) -> None:
        self.token = token
        self._config = config
        self._script = script
        self._loop: asyncio.AbstractEventLoop | None = None
        self._simulator: Simulator | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.base_url = ""
        self.websocket_base_url = ""

    @classmethod
    def start(
        cls,
        *,
        rules: Any = None,
        faults: Any = None,
        speed: float = 10.0,
        latency_ms: float = 300.0,
        transcribe: bool = False,
        **config: Any,
    ) -> RunningSimulator:
        """Start a simulator on a free loopback port; see the plugin's factory for arguments."""
        from pydantic import ValidationError
        from voxray.actors.errors import ConfigError
        from voxray.actors.simulator.config import SimulatorConfig
        from voxray.actors.simulator.script_file import describe_validation_error

        script = build_script(rules, faults)
        named = named_scripts(rules)
        token = f"sim-test-{secrets.token_urlsafe(16)}"
        try:
            settings = SimulatorConfig.model_validate(
                {
                    "host": "127.0.0.1",
                    "port": 0,
                    "speed": speed,
                    "transcribe": transcribe,
                    "response_latency": {"mean_ms": latency_ms},
                    **config,
                    "api_keys": frozenset({token}),
                    "record_frames": True,
                }
            )
        except ValidationError as error:
            where, message = describe_validation_error(error)
            raise ConfigError(f"xai_simulator: {where}: {message}") from None
        running = cls(settings, script, token)
        running._start()
        for name, each in named.items():
            running.register(each, name=name)
        return running

    def _start(self) -> None:
        from voxray.actors.simulator.server import Simulator

        ready: concurrent.futures.Future[str] = concurrent.futures.Future()
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._simulator = Simulator(self._config, script=self._script)
        simulator = self._simulator

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                url = loop.run_until_complete(simulator.start())
            except BaseException as error:
                ready.set_exception(error)
                loop.close()
                return
            ready.set_result(url)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(simulator.aclose())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=serve, name="voxray-simulator", daemon=True)
        self._thread.start()
        self.url = ready.result(timeout=_START_TIMEOUT_S)
        http = self.url.replace("ws://", "http://", 1)
        self.base_url = http.removesuffix("/realtime")
        self.websocket_base_url = self.url.removesuffix("/realtime")

    # ------------------------------------------------------------------ what the client sent

    @property
    def connections(self) -> list[FrameLog]:
        """One frame log per connection so far, oldest first (see :class:`FrameLog`)."""
        return self._require().connections

    def wait_for(
        self,
        condition: Callable[[], _T | None],
        *,
        timeout_s: float = 5.0,
        what: str | None = None,
    ) -> _T:
        """Poll ``condition`` (every 5 ms) until it returns something truthy; return that.

        The server runs on its own thread, so after a client sent its last frame the log may
        not show it yet: wait on what you expect, e.g.
        ``sim.wait_for(lambda: sim.connections and sim.connections[0].closed)``.

        Raises:
            TimeoutError: not true within ``timeout_s``; ``what`` names it in the message.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"not true within {timeout_s:g} s: {what or condition}")
            time.sleep(0.005)

    def connection(self, index: int = 0, *, timeout_s: float = 5.0) -> FrameLog:
        """The ``index``-th connection's log (0: the first), waiting for it to open."""

        def opened() -> FrameLog | None:
            logs = self.connections
            return logs[index] if len(logs) > index else None

        return self.wait_for(opened, timeout_s=timeout_s, what=f"connection #{index} opened")

    def closed_connection(self, index: int = 0, *, timeout_s: float = 5.0) -> FrameLog:
        """The ``index``-th connection's log once the socket is closed (every frame is in)."""
        log = self.connection(index, timeout_s=timeout_s)
        self.wait_for(lambda: log.closed, timeout_s=timeout_s, what=f"connection #{index} closed")
        return log

    # ------------------------------------------------------------------ steering

    def register(self, rules: Any = None, faults: Any = None, *, name: str | None = None) -> str:
        """A new token (and, with ``name``, ``?script=<name>``) following other rules.

        ``rules`` and ``faults`` are read as by the factory (a file's ``scripts`` are ignored).
        """
        script = build_script(rules, faults)

        async def register() -> str:
            return self._require().register(script, name)

        return self._call(register())

    def inject(self, fault: FaultAction | FaultPlan | Mapping[str, Any] | Sequence[Any]) -> int:
        """Arm a fault now on every open session; returns how many got it.

        ``fault`` is one action (``{"do": "drop"}``), a list of actions, or a plan.
        """
        from pydantic import BaseModel, TypeAdapter
        from voxray.actors.simulator.faults import FaultAction, FaultPlan

        armed: FaultAction | FaultPlan
        if isinstance(fault, FaultPlan):
            armed = fault
        elif isinstance(fault, BaseModel) or (isinstance(fault, Mapping) and "do" in fault):
            armed = TypeAdapter(FaultAction).validate_python(fault)
        else:
            armed = FaultPlan.model_validate(fault)
        return self._call(self._require().inject(armed))

    def statistics(self) -> dict[str, int]:
        """The server's counters: connections open and accepted, tokens, resumable ones."""

        async def statistics() -> dict[str, int]:
            return self._require().statistics()

        return self._call(statistics())

    def close(self) -> None:
        """Close every session and stop the server. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = None
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=_CALL_TIMEOUT_S)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RunningSimulator {self.url or 'not started'}>"

    def _require(self) -> Simulator:
        if self._simulator is None:
            raise RuntimeError("the simulator is not started")
        return self._simulator

    def _call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        loop = self._loop
        if loop is None:
            coroutine.close()
            raise RuntimeError("the simulator is closed")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(_CALL_TIMEOUT_S)
