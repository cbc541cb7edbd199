"""Joining or starting Ray: the one place the driver touches ``ray.init``."""

from __future__ import annotations

import logging
import os

import ray

__all__ = ["connect_ray", "disconnect_ray"]

logger = logging.getLogger("voxray.cluster")


def connect_ray(address: str | None, *, namespace: str, log_to_driver: bool = False) -> bool:
    """Join the cluster at ``address`` ("auto", host:port), or start an embedded one.

    The embedded cluster runs without the dashboard; workers' logs stay in Ray's log files
    unless ``log_to_driver``. Returns False, doing nothing, when this process is already
    connected (e.g. voxray is used from inside a Ray program): the caller then must not
    disconnect a cluster connection it does not own.
    """
    if ray.is_initialized():
        return False
    options: dict[str, object] = {
        "namespace": namespace,
        "log_to_driver": log_to_driver,
        "logging_level": logging.WARNING,
        "configure_logging": True,
    }
    if address is None:
        options |= {
            "include_dashboard": False,
            "num_cpus": max(2, os.cpu_count() or 2),
        }
    else:
        options["address"] = address
    ray.init(**options)
    return True


def disconnect_ray() -> None:
    """Detach from the cluster; an embedded cluster stops with it."""
    if ray.is_initialized():
        ray.shutdown()
