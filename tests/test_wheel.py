"""The built wheel works as a user installs it: a fresh venv, a project with its own `actors/`.

Offline: the wheel is built without build isolation, installed with `--no-deps`, and the fresh
venv sees the test venv's dependencies (Ray, numpy, ...) through a `.pth` line; nothing is
downloaded. It takes a few seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "orchestrator", "actors")

pytestmark = pytest.mark.slow


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the wheel installed; returns the venv's folder."""
    work = tmp_path_factory.mktemp("wheel")
    # Build from a copy: an in-tree build leaves build/ with files the tree may no longer have.
    source = work / "src"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    dist = work / "dist"
    pip = (sys.executable, "-m", "pip")
    _run(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, source, cwd=work)
    (wheel,) = dist.glob("voxray-*.whl")

    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    python = venv / "bin" / "python"
    _run(*pip, "--python", python, "install", "-q", "--no-deps", "--no-index", wheel, cwd=work)
    # The dependencies come from the test venv (listed after the wheel's own site-packages, so
    # the editable voxray there, which needs its .pth processed, is never what gets imported).
    site = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=work
        ).strip()
    )
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.fixture
def user_project(tmp_path: Path) -> Path:
    """A user's project that has its own top-level `actors` and `orchestrator` packages."""
    for name in ("actors", "orchestrator"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"OWNER = 'user {name}'\n")
    (tmp_path / "actors" / "conversation.py").write_text("RAISE = 'not voxray'\n")
    return tmp_path


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["RAY_ADDRESS"] = ""  # nothing here joins a cluster; don't let the caller's leak in
    return env


def test_public_api_imports_from_the_wheel_beside_a_users_actors_package(
    installed: Path, user_project: Path
) -> None:
    script = textwrap.dedent(
        """
        import actors, orchestrator
        assert actors.OWNER == "user actors" and orchestrator.OWNER == "user orchestrator"
        import voxray
        from voxray import *  # every public name resolves
        from voxray import AgentConfig, Fleet, Simulator, SimulatorConfig, load_suite
        import voxray.actors.conversation.events  # the runtime, not the user's actors/
        import voxray.actors.session
        assert voxray.__file__.startswith(VENV), voxray.__file__
        from voxray.examples import suite_names
        for name in suite_names():  # every packaged suite loads: its audio and tools shipped
            load_suite(name)
        suite = load_suite("smoke")  # the packaged example, its tool imported from the wheel
        tools = [tool.name for spec in suite.scenarios for tool in spec.agent.tools]
        print(suite.name, tools, len(voxray.__all__))
        """
    ).replace("VENV", repr(str(installed)))
    out = _run(installed / "bin" / "python", "-c", script, cwd=user_project, env=_clean_env())
    assert out.split()[0] == "smoke"
    assert "'get_weather'" in out


def test_voxray_command_runs_from_the_wheel(installed: Path, user_project: Path) -> None:
    voxray = installed / "bin" / "voxray"
    out = _run(voxray, "--help", cwd=user_project, env=_clean_env())
    for command in ("eval", "examples", "bench", "sim", "status", "drain"):
        assert command in out
    listed = _run(voxray, "examples", cwd=user_project, env=_clean_env())
    assert str(installed) in listed  # the suites come from the installed package
    for name in ("smoke", "tools", "barge-in", "repeats", "audio-file"):
        assert f"  {name} " in listed
    assert "support.yaml" in listed and "weather.yaml" in listed  # agent and rules files


def test_the_wheel_installs_into_any_ray_2_60_and_offers_the_job_extra(installed: Path) -> None:
    (metadata,) = installed.glob("lib/python*/site-packages/voxray-*.dist-info/METADATA")
    requires = [
        line.removeprefix("Requires-Dist: ")
        for line in metadata.read_text().splitlines()
        if line.startswith("Requires-Dist: ")
    ]
    ray = [r for r in requires if r.startswith("ray") and "extra ==" not in r]
    assert len(ray) == 1 and "2.60.0" not in ray[0], ray  # a range, not one exact release
    from packaging.requirements import Requirement

    allowed = Requirement(ray[0]).specifier
    assert allowed.contains("2.60.0") and allowed.contains("2.60.3")
    assert not allowed.contains("2.61.0")  # untested minor releases are not admitted
    job = [r for r in requires if 'extra == "job"' in r]
    assert job and job[0].startswith("ray[default]"), requires
