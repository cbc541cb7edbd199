"""Joining or starting Ray: the one place the driver touches ``ray.init``.

Three ways in, tried in this order:

1. ``address`` given ("auto", "host:port", "ray://..."): join that cluster;
2. no address but ``RAY_ADDRESS`` set (a ``ray job submit`` entrypoint, or the user's shell):
   join it;
3. neither: start an embedded, single-node cluster in this process (dashboard off, Ray's
   background work trimmed: :data:`EMBEDDED_RAY_ENVIRONMENT`, voxray's secrets kept out of its
   processes' environment: :data:`WITHHELD_FROM_RAY`).

``auto`` (or ``RAY_ADDRESS=auto``) means the one Ray cluster running on this machine. Ray
itself picks the last ``ray start`` cluster, or any, when there are several; voxray refuses
instead and lists them (:func:`find_local_clusters`), so ``voxray drain`` never acts on a
cluster the user did not mean. After joining, :func:`describe_address` says which cluster this
process is on, for commands to print.

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

__all__ = [
    "EMBEDDED_RAY_ENVIRONMENT",
    "WITHHELD_FROM_RAY",
    "connect_ray",
    "current_job_id",
    "describe_address",
    "disconnect_ray",
    "find_local_clusters",
    "joins_existing_cluster",
]

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


WITHHELD_FROM_RAY: Final = frozenset(
    {"XAI_API_KEY", "VOXRAY_XAI_API_KEY", "VOXRAY_XAI_WEBHOOK_SECRET"}
)
"""Variables an embedded cluster's processes never inherit from the driver. Every Ray worker,
tool runners included, starts with the environment the driver had at ``ray.init``, and a tool
is user code: it must not find the key in ``os.environ``. Sessions get their endpoint from the
driver's settings, never from their own environment. (A ``ray start`` cluster inherits the shell
that started it: start it without the key exported.)"""


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
    withheld: frozenset[str] = frozenset()
    if joins_existing_cluster(address):
        options["address"] = _resolve_address(address)
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
        withheld = WITHHELD_FROM_RAY
    try:
        with _environment_defaults(trims), _environment_without(withheld), _quiet_token_notice():
            ray.init(**options)
    except ConnectionError as error:
        raise ConfigError(
            f"cannot join the Ray cluster at {_source(address)}: {_first_line(error)}; start "
            "one with `ray start --head`, or check the address"
        ) from error
    return True


def find_local_clusters() -> list[str]:
    """The GCS addresses of the Ray clusters running on this machine (Ray's own search for
    ``auto``: the raylet processes' ``--gcs-address``), sorted."""
    from ray._private import services

    services.find_gcs_addresses.cache_clear()  # clusters come and go between calls
    return sorted(services.find_gcs_addresses())


def describe_address() -> str:
    """Which cluster this process is connected to, for a command to print before it acts:
    ``"the Ray cluster at 10.0.0.5:6379"`` or ``"embedded Ray (127.0.0.1:61234, this process)"``.
    """
    if not ray.is_initialized():
        return "no Ray cluster"
    gcs = ray.get_runtime_context().gcs_address
    node = ray._private.worker.global_worker.node
    if node is not None and getattr(node, "head", False):
        return f"embedded Ray ({gcs}, stops with this process)"
    return f"the Ray cluster at {gcs}"


def _resolve_address(address: str | None) -> str:
    """The address to join: ``auto`` becomes the one cluster on this machine, or an error.

    ``RAY_ADDRESS`` wins over ``address``, as it does in Ray.
    """
    chosen = os.environ.get("RAY_ADDRESS") or address or "auto"
    if chosen != "auto":
        return chosen
    clusters = find_local_clusters()
    if not clusters:
        raise ConfigError(
            f"no Ray cluster is running on this machine ({_source(address)}); start one with "
            "`ray start --head`, or give its address"
        )
    if len(clusters) > 1:
        latest = _latest_ray_start()
        listed = ", ".join(
            f"{gcs} (the last `ray start`)" if gcs == latest else gcs for gcs in clusters
        )
        raise ConfigError(
            f"{_source(address)} is ambiguous: {len(clusters)} Ray clusters run on this "
            f"machine: {listed}; pass the one you mean, e.g. --address {latest or clusters[0]}"
        )
    return clusters[0]


def _source(address: str | None) -> str:
    """Where the address came from, in the words the user used."""
    from_environment = os.environ.get("RAY_ADDRESS")
    if from_environment:
        return f"RAY_ADDRESS={from_environment}"
    return f"address {address or 'auto'!r}"


def _latest_ray_start() -> str | None:
    from ray._private.utils import read_ray_address

    try:
        latest = read_ray_address()
    except OSError:
        return None
    return str(latest) if latest else None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


class _DropTokenNotice(logging.Filter):
    # Ray announces, at WARNING, that token authentication is on (its default) each time it
    # starts a cluster: in the middle of a command's output, about a default nothing needs to
    # act on. The warning that it is *off* is kept.
    def filter(self, record: logging.LogRecord) -> bool:
        return "Token authentication is enabled" not in record.getMessage()


@contextlib.contextmanager
def _quiet_token_notice() -> Iterator[None]:
    notice = logging.getLogger("ray._private.authentication.authentication_token_setup")
    dropper = _DropTokenNotice()
    notice.addFilter(dropper)
    try:
        yield
    finally:
        notice.removeFilter(dropper)


def current_job_id() -> str | None:
    """This driver's Ray job id (hex), or None when not connected: runs name it so that the
    supervisor stops them when this process is gone."""
    return ray.get_runtime_context().get_job_id() if ray.is_initialized() else None


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


@contextlib.contextmanager
def _environment_without(names: frozenset[str]) -> Iterator[None]:
    """Variables taken out while Ray starts its processes (they inherit the environment as it
    is then), and put back afterwards for this process."""
    taken = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(taken)


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
