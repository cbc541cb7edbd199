"""Where an eval job records cassettes and which cassette each run replays.

``voxray eval --record`` records every run into ``<run dir>/cassettes/<run key>/`` (or the
folder ``--record DIR`` names: re-recording a suite in place replaces its cassettes); the
session actor writes the cassette itself, scrubbed, so the frames never travel through Ray.
``backend: replay`` runs each scenario against the simulator serving ``<cassettes>/<run key>/``
(:mod:`voxray.actors.simulator.replay`). A simulated caller's run has two sessions, so two
cassettes in its folder, ``agent/`` and ``caller/``: the agent's session replays from the first,
the caller's session (its own simulator token) from the second.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from voxray.actors.cassette.format import CALL_SIDES
from voxray.actors.conversation.endpoint import ProviderEndpoint
from voxray.actors.conversation.result import SessionResult
from voxray.actors.errors import ConfigError, ErrorInfo, ProviderError
from voxray.actors.realtime.transport import REPLAY_DIVERGENCE
from voxray.actors.simulator.rules import BrainScript
from voxray.actors.simulator.server import REPLAY_PATH
from voxray.evals.suite import ScenarioSpec, Suite
from voxray.settings import VoxraySettings

__all__ = ["CASSETTES_DIR", "CassettePlan", "cassette_name", "replay_divergences"]

logger = logging.getLogger("voxray.evals.cassettes")

CASSETTES_DIR: Final = "cassettes"
"""The folder of a run directory that ``--record`` fills."""
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._#@+=-]")
_ASK_TIMEOUT_S: Final = 10.0


def cassette_name(run_key: str) -> str:
    """The folder name of a run's cassette (its run key, made safe as a file name)."""
    return _UNSAFE.sub("_", run_key)


@dataclass(frozen=True)
class CassettePlan:
    """The cassette folders of one job: where runs are recorded, where they replay from."""

    record_root: Path | None = None
    replay_root: Path | None = None

    @classmethod
    def for_job(cls, suite: Suite, settings: VoxraySettings, run_dir: Path) -> CassettePlan:
        """The plan of a job writing ``run_dir``.

        Raises:
            ConfigError: ``backend: replay`` without cassettes, or with a folder that is not
                there.
        """
        options = settings.cassettes
        record_root: Path | None = None
        if options.record:
            record_root = Path(options.record_dir) if options.record_dir else run_dir
            if options.record_dir is None:
                record_root = record_root / CASSETTES_DIR
        replay_root: Path | None = None
        if suite.backend == "replay":
            source = options.replay_dir or suite.cassettes
            if source is None:
                raise ConfigError(
                    "backend replay needs the cassettes to serve: `--cassettes DIR` or "
                    "`cassettes:` in the suite"
                )
            replay_root = Path(source)
            if (replay_root / CASSETTES_DIR).is_dir():
                replay_root = replay_root / CASSETTES_DIR  # a run directory recorded earlier
            if not replay_root.is_dir():
                raise ConfigError(f"{replay_root}: no such cassettes folder (backend replay)")
        return cls(record_root, replay_root)

    def missing(self, run_keys: list[str], *, calls: Iterable[str] = ()) -> list[str]:
        """The runs that have no cassette to replay (none without ``backend: replay``);
        ``calls``: the keys of simulated callers' runs, which need both sides'
        (``KEY/agent``, ``KEY/caller``, named so when one is missing)."""
        if self.replay_root is None:
            return []
        root = self.replay_root
        two_sided = set(calls)
        missing: list[str] = []
        for key in run_keys:
            folder = root / cassette_name(key)
            if not folder.is_dir():
                missing.append(key)
            elif key in two_sided:
                missing += [f"{key}/{side}" for side in CALL_SIDES if not (folder / side).is_dir()]
        return missing

    def check(self, run_keys: list[str], *, calls: Iterable[str] = ()) -> None:
        """Raise ``ConfigError`` naming the runs without a cassette (before Ray starts)."""
        missing = self.missing(run_keys, calls=calls)
        if missing:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if missing[5:] else ""
            )
            raise ConfigError(
                f"{self.replay_root}: no cassette for {shown} (record them with "
                "`voxray eval SUITE --record`)"
            )

    def record_dir(self, run_key: str) -> str | None:
        """Where the run ``run_key`` is recorded; None when not recording."""
        if self.record_root is None:
            return None
        return str((self.record_root / cassette_name(run_key)).resolve())

    async def judged(
        self,
        result: SessionResult,
        endpoint: ProviderEndpoint,
        caller_endpoint: ProviderEndpoint | None = None,
    ) -> SessionResult:
        """``result``, failed when its replay diverged after the client stopped listening
        (it hung up before sending everything recorded): the simulator could not tell it.
        ``caller_endpoint``: a simulated caller's session, replayed from its own cassette."""
        if self.replay_root is None or result.status != "completed":
            return result
        divergences: list[str] = []
        for side in (endpoint, caller_endpoint):  # each side's divergence names its side
            if side is None:
                continue
            try:
                divergences += await replay_divergences(side)
            except (aiohttp.ClientError, TimeoutError, ValueError) as unasked:
                logger.warning("cannot ask the simulator how the replay went: %s", unasked)
        if not divergences:
            return result
        diverged = ProviderError(
            f"replay diverged from the cassette: {divergences[0]}",
            error_type="invalid_request_error",
            code=REPLAY_DIVERGENCE,
            retryable=False,
        )
        info = ErrorInfo.of(diverged)
        return result.model_copy(
            update={"status": "failed", "error_info": info, "error": str(info)}
        )

    def sim_script(self, spec: ScenarioSpec, run_key: str) -> BrainScript:
        """The simulator's script of a run: its brain, or its cassette when replaying (a
        simulated caller's call: the agent's side of it)."""
        script = spec.sim_script()
        if self.replay_root is None:
            return script
        cassette = (self.replay_root / cassette_name(run_key)).resolve()
        if spec.caller is not None:
            cassette = cassette / CALL_SIDES[0]
        return script.model_copy(update={"replay": str(cassette)})

    def caller_sim_script(self, spec: ScenarioSpec, run_key: str) -> BrainScript:
        """The simulator's script of a run's simulated caller: its scripted brain, or the
        caller's side of the run's cassette when replaying."""
        if spec.caller is None:
            raise ValueError(f"scenario {spec.name!r} has no caller")
        script = spec.caller.sim
        if self.replay_root is None:
            return script
        cassette = (self.replay_root / cassette_name(run_key) / CALL_SIDES[1]).resolve()
        return script.model_copy(update={"replay": str(cassette)})


async def replay_divergences(endpoint: ProviderEndpoint) -> list[str]:
    """What the simulator's replayed connections of ``endpoint``'s token found (``GET
    /v1/sim/replay``, which answers once none of them is open)."""
    parts = urlsplit(endpoint.url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    url = urlunsplit((scheme, parts.netloc, REPLAY_PATH, "", ""))
    headers = {"Authorization": f"Bearer {endpoint.api_key.get_secret_value()}"}
    timeout = aiohttp.ClientTimeout(total=_ASK_TIMEOUT_S)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(url, headers=headers) as response,
    ):
        response.raise_for_status()
        body = await response.json()
    divergences = body.get("divergences", []) if isinstance(body, dict) else []
    return [str(message) for message in divergences]
