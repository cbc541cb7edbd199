"""Tool modules from the suite's folder, shipped to the cluster's tool runners.

A suite may name a tool that lives beside it (``mytools:room_price`` with ``mytools.py`` in the
suite's folder). :func:`~voxray.evals.suite.load_suite` imports it from there and writes the
file (or package folder) into the tool's ``runtime_env`` as ``py_modules``. Ray accepts local
paths only in a job's own runtime_env, and tool runners are started by the tool pool (another
process, maybe another node): so the driver uploads each such path to the cluster once it has
joined it, and the runs' specs carry the package's URI instead (:func:`ship_tool_modules`).

Ray keeps an uploaded package while something references it, and for 10 minutes after the
upload otherwise (``RAY_RUNTIME_ENV_TEMPORARY_REFERENCE_EXPIRATION_S``); each job uploads again,
and the URI is the content's hash, so a job always reaches the code it loaded.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.errors import ConfigError
from voxray.actors.tools.spec import ToolSpec
from voxray.evals.runner import PlannedRun
from voxray.evals.suite import ScenarioSpec

__all__ = ["ship_tool_modules"]

logger = logging.getLogger("voxray.evals.tool_modules")


def ship_tool_modules(runs: Sequence[PlannedRun]) -> list[PlannedRun]:
    """``runs`` with every tool's local ``py_modules`` uploaded to the joined Ray cluster.

    Runs whose tools have no local module (the usual case) are returned as they are. Call it in
    the driver, connected to Ray, before the runs' sessions start; it blocks while uploading.

    Raises:
        ConfigError: a module could not be uploaded (it names the tool and the file).
    """
    uploaded: dict[str, dict[str, Any]] = {}
    shipped: dict[int, ScenarioSpec] = {}  # repeats share their spec: upload it once
    result: list[PlannedRun] = []
    for run in runs:
        spec = shipped.get(id(run.spec))
        if spec is None:
            spec = shipped[id(run.spec)] = _shipped_spec(run.spec, uploaded)
        result.append(run if spec is run.spec else dataclasses.replace(run, spec=spec))
    return result


def _shipped_spec(spec: ScenarioSpec, uploaded: dict[str, dict[str, Any]]) -> ScenarioSpec:
    tools = tuple(_shipped(tool, uploaded) for tool in spec.agent.tools)
    if tools == spec.agent.tools:
        return spec
    agent = AgentConfig.model_validate({**spec.agent.model_dump(), "tools": tools})
    return spec.model_copy(update={"agent": agent})


def _shipped(tool: ToolSpec, uploaded: dict[str, dict[str, Any]]) -> ToolSpec:
    runtime_env = tool.runtime_env
    modules = (runtime_env or {}).get("py_modules") or []
    if not any(_is_local(module) for module in modules):
        return tool
    assert runtime_env is not None
    key = tool.runtime_env_key
    if key not in uploaded:
        from ray._private.runtime_env.py_modules import upload_py_modules_if_needed

        try:
            uploaded[key] = upload_py_modules_if_needed(
                dict(runtime_env), include_gitignore=True, logger=logger
            )
        except Exception as error:
            local = ", ".join(str(module) for module in modules if _is_local(module))
            raise ConfigError(
                f"cannot ship {local} to the Ray cluster: {type(error).__name__}: {error}",
                location=f"tool {tool.name!r} ({tool.ref})",
            ) from error
    # Validated anew, not model_copy'd: the spec caches its runtime_env key.
    return ToolSpec.model_validate({**tool.model_dump(), "runtime_env": uploaded[key]})


def _is_local(module: object) -> bool:
    return isinstance(module, str) and "://" not in module and Path(module).is_absolute()
