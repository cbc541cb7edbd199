"""Joining or starting Ray: the one place the driver touches ``ray.init``.

Three ways in, tried in this order:

1. ``address`` given ("auto", "host:port", "ray://..."): join that cluster;
2. no address but ``RAY_ADDRESS`` set (a ``ray job submit`` entrypoint, or the user's shell):
   join it;
3. neither: start an embedded, single-node cluster in this process (dashboard off, Ray's
   background work trimmed: :data:`EMBEDDED_RAY_ENVIRONMENT`).

Ray 2.60 turns token authentication on for clusters started by ``ray start``, and a client only
sends the token on its own when it finds the cluster by ``auto``. voxray sends it whenever it
joins an existing cluster and a token is at hand (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or
``~/.ray/auth_token``) and ``RAY_AUTH_MODE`` was not set explicitly; a cluster without
authentication ignores it.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

import ray
from voxray.actors.errors import ConfigError

__all__ = ["EMBEDDED_RAY_ENVIRONMENT", "connect_ray", "disconnect_ray", "joins_existing_cluster"]

logger = logging.getLogger("voxray.cluster")

_AUTH_MODE = "RAY_AUTH_MODE"

EMBEDDED_RAY_ENVIRONMENT: Final[Mapping[str, str]] = {
    # Every Ray worker checks for signals every 10 ms on its main thread and by default records
    # each run of that check in Ray's event-loop statistics (a mutex, a hash lookup, a string),
    # which only feed Ray's debug_state.txt. Without them an idle session actor costs 0.70-0.74 %
    # of a core instead of 0.83-0.90 % (20 idle actors, three runs each, alternating).
    "RAY_event_stats": "0",
    # Task events feed the state API (`ray list tasks`): every 5 s instead of every second.
    "RAY_task_events_report_interval_ms": "5000",
    # Metrics feed the dashboard's Prometheus exporter, and the embedded cluster has none.
    "RAY_enable_metrics_collection": "0",
}
"""Background work of the embedded cluster's processes, trimmed where Ray allows it. Ray reads
these from the environment of each process it starts (``_system_config`` did not reach the
workers); a value already set in the environment wins. For a ``ray start`` cluster, export
them before starting it."""


def joins_existing_cluster(address: str | None) -> bool:
    """Whether :func:`connect_ray` with ``address`` joins a cluster rather than starting one."""
    return bool(address) or bool(os.environ.get("RAY_ADDRESS"))


def connect_ray(address: str | None, *, namespace: str, log_to_driver: bool = False) -> bool:
    """Join the cluster at ``address`` (or ``RAY_ADDRESS``), or start an embedded one.

    The embedded cluster runs without the dashboard; workers' logs stay in Ray's log files
    unless ``log_to_driver``. Returns False, doing nothing, when this process is already
    connected (e.g. voxray is used from inside a Ray program): the caller then must not
    disconnect a cluster connection it does not own.

    Raises:
        ConfigError: there is no cluster at ``address``, or it refused this client.
    """
    if ray.is_initialized():
        return False
    options: dict[str, object] = {
        "namespace": namespace,
        "log_to_driver": log_to_driver,
        "logging_level": logging.WARNING,
        "configure_logging": True,
    }
    trims: Mapping[str, str] = {}
    if joins_existing_cluster(address):
        if address:
            options["address"] = address
        _send_token_if_available()
    else:
        options |= {
            # "local": a new cluster even when a `ray start` one runs on this machine (a bare
            # ray.init() would join that one, and reject the resources given here).
            "address": "local",
            "include_dashboard": False,
            "num_cpus": max(2, os.cpu_count() or 2),
        }
        trims = EMBEDDED_RAY_ENVIRONMENT
    try:
        with _environment_defaults(trims):
            ray.init(**options)
    except ConnectionError as error:
        where = address or os.environ.get("RAY_ADDRESS") or "auto"
        raise ConfigError(
            f"cannot join the Ray cluster at {where!r} ({error}); start one with "
            "`ray start --head`, or leave out --address to run an embedded one"
        ) from error
    return True


def disconnect_ray() -> None:
    """Detach from the cluster; an embedded cluster stops with it."""
    if ray.is_initialized():
        ray.shutdown()


@contextlib.contextmanager
def _environment_defaults(defaults: Mapping[str, str]) -> Iterator[None]:
    """Variables set while Ray starts its processes (they inherit them), then taken back out,
    so this process's environment is left as it was."""
    added = [name for name in defaults if name not in os.environ]
    os.environ.update({name: defaults[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _send_token_if_available() -> None:
    if os.environ.get(_AUTH_MODE) is not None or not _token_available():
        return
    os.environ[_AUTH_MODE] = "token"
    try:
        # Ray read RAY_AUTH_MODE when it was imported; re-read it (Ray does the same when it
        # enables token auth itself).
        importlib.import_module("ray._raylet").Config.initialize("")
    except (ImportError, AttributeError):  # pragma: no cover - other Ray versions
        logger.debug("could not refresh Ray's config; relying on RAY_AUTH_MODE alone")


def _token_available() -> bool:
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    candidates = [Path(path)] if path else []
    candidates.append(Path.home() / ".ray" / "auth_token")
    return any(candidate.is_file() for candidate in candidates)
