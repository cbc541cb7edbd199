"""The key stays with the driver: an embedded cluster's processes (tool runners, user code) do
not inherit it from the driver's environment.

The driver is a real subprocess with ``XAI_API_KEY`` exported that starts its own embedded
cluster through :func:`voxray.cluster.connect_ray`, as ``voxray eval`` does, and asks a tool
what it finds in ``os.environ``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KEY = "xai-isolation-0123456789abcdefghijklmnop"

DRIVER = """
import asyncio, json, os, tempfile
from voxray.cluster import connect_ray, disconnect_ray
from voxray.actors.tools import ToolPoolSettings, build_tool_spec
from voxray.actors.tools.pool import ToolPool

async def main():
    pool = ToolPool.from_settings(ToolPoolSettings(size=1, max_size=1))
    await pool.wait_ready(timeout_s=60)
    spec = build_tool_spec("tests.tool_fixtures:read_env")
    seen = {}
    for name in ("XAI_API_KEY", "VOXRAY_XAI_API_KEY", "VOXRAY_ISOLATION_CANARY"):
        outcome = await pool.call(spec, name, json.dumps({"name": name}))
        seen[name] = outcome.output
    await pool.aclose()
    return seen

connect_ray(None, namespace="key-isolation")
try:
    seen = asyncio.run(main())
finally:
    disconnect_ray()
print(json.dumps({"tool": seen, "driver": os.environ.get("XAI_API_KEY")}))
"""


@pytest.mark.ray
@pytest.mark.slow
def test_a_tool_does_not_find_the_key_in_its_environment() -> None:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("RAY_ADDRESS")
    }
    environment |= {
        "XAI_API_KEY": KEY,
        "VOXRAY_XAI_API_KEY": KEY,
        "VOXRAY_ISOLATION_CANARY": "inherited",  # proves the tool does read the environment
    }
    finished = subprocess.run(
        [sys.executable, "-c", DRIVER],
        check=False,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    assert report["tool"]["VOXRAY_ISOLATION_CANARY"] == "inherited"
    assert report["tool"]["XAI_API_KEY"] == "null"
    assert report["tool"]["VOXRAY_XAI_API_KEY"] == "null"
    assert report["driver"] == KEY  # the driver's own environment is left as it was
    assert KEY not in finished.stderr
