"""Joining or starting Ray: the one place the driver touches ``ray.init``.

Three ways in, tried in this order:

1. ``address`` given ("auto", "host:port", "ray://..."): join that cluster;
2. no address but ``RAY_ADDRESS`` set (a ``ray job submit`` entrypoint, or the user's shell):
   join it;
3. neither: start an embedded, single-node cluster in this process (dashboard off).

Ray 2.60 turns token authentication on for clusters started by ``ray start``, and a client only
sends the token on its own when it finds the cluster by ``auto``. voxray sends it whenever it
joins an existing cluster and a token is at hand (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or
``~/.ray/auth_token``) and ``RAY_AUTH_MODE`` was not set explicitly; a cluster without
authentication ignores it.
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path

import ray

from actors.errors import ConfigError

__all__ = ["connect_ray", "disconnect_ray", "joins_existing_cluster"]

logger = logging.getLogger("voxray.cluster")

_AUTH_MODE = "RAY_AUTH_MODE"


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
    try:
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
