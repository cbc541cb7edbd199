"""The public package: the names `voxray` exports, its laziness, and the wheel's package list."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import voxray

ROOT = Path(__file__).resolve().parents[1]

# The public API, pinned: adding or removing a name is a deliberate change to this list.
EXPORTED = {
    # the client
    "Fleet",
    "Job",
    "JobResult",
    "Session",
    "VoxraySettings",
    # what a user configures
    "AgentConfig",
    "BrainScript",
    "CallerCondition",
    "RegressionGate",
    "Suite",
    "load_suite",
    # what comes back
    "Comparison",
    "RunSummary",
    "ScenarioRecord",
    "SessionResult",
    "compare_runs",
    # the conversation's events
    "AgentAudio",
    "AgentSpeechEnded",
    "AgentSpeechStarted",
    "AgentTranscript",
    "ConversationEvent",
    "DtmfReceived",
    "ErrorOccurred",
    "Interrupted",
    "ResponseFinished",
    "ToolCallFinished",
    "ToolCallStarted",
    "UserSpeechEnded",
    "UserSpeechStarted",
    "UserTranscript",
    # the errors
    "ActorLostError",
    "ActorTimeoutError",
    "AudioError",
    "AuthenticationError",
    "CapacityError",
    "ConfigError",
    "ConnectTimeoutError",
    "ConnectionLostError",
    "ErrorInfo",
    "HandshakeError",
    "ProtocolError",
    "ProviderConnectionError",
    "ProviderError",
    "RateLimitedError",
    "RunDirectoryBusyError",
    "SecretLostError",
    "SessionBusyError",
    "SessionLostError",
    "ToolError",
    "ToolExecutionError",
    "ToolNotFoundError",
    "ToolSpecError",
    "ToolTimeoutError",
    "VoxrayError",
    "WebhookRejected",
    # the offline backend
    "Simulator",
    "SimulatorConfig",
    "SipCallReport",
    "SipCallScript",
    "SipStep",
}


def test_all_is_the_pinned_public_api() -> None:
    assert set(voxray.__all__) == EXPORTED
    assert len(voxray.__all__) == len(EXPORTED), "a name is listed twice in voxray.__all__"


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_every_exported_name_resolves(name: str) -> None:
    value = getattr(voxray, name)
    assert value is not None
    assert name in dir(voxray)


def test_error_exports_are_the_whole_exception_tree() -> None:
    from voxray.actors import errors

    # A new error in the tree is public too: this fails until it is added to voxray.__all__.
    assert set(errors.__all__) <= EXPORTED
    for name in set(errors.__all__) - {"ErrorInfo"}:
        assert issubclass(getattr(voxray, name), voxray.VoxrayError)


def test_event_exports_are_the_whole_event_union() -> None:
    import typing

    members = {member.__name__ for member in typing.get_args(voxray.ConversationEvent)}
    assert members
    assert members <= EXPORTED


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Flet'"):
        _ = voxray.Flet  # type: ignore[attr-defined]


def _modules_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return set(out.split())


def _driver_modules(modules: set[str]) -> set[str]:
    driver = ("voxray.client", "voxray.evals", "voxray.commands", "voxray.cli", "voxray.bench")
    return {m for m in modules if m.startswith(driver)} | ({"ray"} & modules)


def test_importing_voxray_imports_nothing_heavy() -> None:
    modules = _modules_after("import voxray")
    assert not _driver_modules(modules)
    assert not {"pydantic", "numpy", "aiohttp"} & modules


def test_a_session_actor_start_does_not_import_the_driver() -> None:
    # A Ray worker that starts a session actor imports voxray.actors.session, which runs
    # voxray/__init__.py first: the driver's modules (and Ray's client, the eval runner) must
    # stay out of it.
    modules = _modules_after("import voxray.actors.session")
    assert "voxray.actors.session" in modules
    assert not {m for m in _driver_modules(modules) if m != "ray"}


def _listed_packages() -> set[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(pyproject["tool"]["setuptools"]["packages"])


def _package_folders() -> set[str]:
    found = set()
    for folder, prefix in ((ROOT / "orchestrator", "voxray"), (ROOT / "actors", "voxray.actors")):
        for init in folder.rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            parts = init.parent.relative_to(folder).parts
            found.add(".".join((prefix, *parts)))
    return found


def test_every_package_folder_is_listed_in_pyproject() -> None:
    # The editable install finds an unlisted subpackage; a wheel silently leaves it out.
    folders = _package_folders()
    listed = _listed_packages()
    assert folders - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - folders == set(), "pyproject.toml lists packages that have no folder"
