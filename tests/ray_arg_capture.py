"""What Ray ships as task arguments, scanned for secrets: for tests of "no secret in Ray calls".

:func:`install_capture` wraps ``ActorMethod._remote``, ``ActorClass._remote`` and
``RemoteFunction._remote`` in this process, so that every call (an actor's creation, a method's,
a task's) first pickles what it is given, as Ray will, and searches the bytes for the secrets'
values. It appends one JSON line per event to a file, naming the call and the secret, never its
value: ``{"installed": pid}``; ``{"scanned": "method _Supervisor.run_session", "pid": ...}`` the
first time a call is seen in a process; ``{"hit": "method _Gateway.start", "secret": "KEY"}``;
``{"unscannable": ...}`` when pickling failed (the scan was blind). :func:`capture_hook` is the
same as a ``worker_process_setup_hook``, for every worker of a cluster started with it.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ray
import ray.actor
import ray.remote_function
from ray import cloudpickle

__all__ = ["capture_hook", "install_capture", "read_capture"]


class _Scanner(cloudpickle.Pickler):  # type: ignore[misc]
    """Pickles like Ray, with a stand-in for refs and handles: they carry no value of their
    own, and pickling them for real would count as handing them out (Ray's reference counts)."""

    def reducer_override(self, obj: object) -> Any:
        if isinstance(obj, ray.ObjectRef | ray.actor.ActorHandle):
            return (str, ("ref",))
        return super().reducer_override(obj)


def install_capture(needles: Mapping[str, str], hits_path: str) -> Callable[[], None]:
    """Scan every Ray call this process makes for ``needles`` (name -> value) into
    ``hits_path``; returns what takes the wrappers off again."""
    seen: set[str] = set()

    def note(line: dict[str, object]) -> None:
        with open(hits_path, "a") as out:
            out.write(json.dumps(line) + "\n")

    def scan(where: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if where not in seen:
            seen.add(where)
            note({"scanned": where, "pid": os.getpid()})
        # Ray resolves a top-level ObjectRef argument and inlines a small value into the spec.
        # (``_remote`` is given the call's arguments first, or as ``args=``.)
        positional = args[0] if args else kwargs.get("args")
        inlined = [arg for arg in positional or () if isinstance(arg, ray.ObjectRef)]
        ready = ray.wait(inlined, num_returns=len(inlined), timeout=0)[0] if inlined else []
        buffer = io.BytesIO()
        try:
            _Scanner(buffer, protocol=5).dump((args, kwargs, [ray.get(ref) for ref in ready]))
        except Exception as error:
            note({"unscannable": where, "error": type(error).__name__})
            return
        blob = buffer.getvalue()
        for name, value in needles.items():
            if value.encode() in blob:
                note({"hit": where, "secret": name})

    originals: list[tuple[type, Any]] = []

    def wrap(cls: type, name_of: Callable[[Any], str]) -> None:
        original = cls._remote  # type: ignore[attr-defined]
        originals.append((cls, original))

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            scan(name_of(self), args, kwargs)
            return original(self, *args, **kwargs)

        cls._remote = wrapper  # type: ignore[attr-defined]

    wrap(ray.actor.ActorMethod, _method_name)
    wrap(ray.actor.ActorClass, lambda cls: f"create {cls.__ray_metadata__.class_name}")
    wrap(ray.remote_function.RemoteFunction, lambda task: f"task {task._function_name}")
    note({"installed": os.getpid()})

    def uninstall() -> None:
        for cls, original in originals:
            cls._remote = original  # type: ignore[attr-defined]

    return uninstall


def _method_name(method: Any) -> str:
    """``method <Class>.<method>``, as the hits name calls."""
    try:
        owner = method._actor._ray_actor_creation_function_descriptor.class_name
    except Exception:  # the handle is gone: name the method alone
        owner = "?"
    return f"method {owner}.{method._method_name}"


def capture_hook(needles: Mapping[str, str], hits_path: str) -> Callable[[], None]:
    """:func:`install_capture` as a ``worker_process_setup_hook`` (``tests`` must be importable
    in the workers: PYTHONPATH)."""

    def hook() -> None:
        install_capture(needles, hits_path)

    return hook


def read_capture(hits_path: Path) -> list[dict[str, Any]]:
    """The lines a capture wrote."""
    if not hits_path.exists():
        return []
    return [json.loads(line) for line in hits_path.read_text().splitlines()]
