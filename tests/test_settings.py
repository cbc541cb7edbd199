"""Settings: environment prefix, nesting, the xAI key as a secret, frozen."""

from __future__ import annotations

import pickle

import pytest
from pydantic import ValidationError
from voxray.actors.errors import ConfigError
from voxray.settings import VoxraySettings

SECRET = "xai-test-secret-0123456789"


def test_reads_prefixed_and_nested_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXRAY_SIM_SPEED", "4")
    monkeypatch.setenv("VOXRAY_ENGINE__CONNECT_TIMEOUT_S", "3.5")
    monkeypatch.setenv("VOXRAY_SUPERVISOR__MAX_SESSIONS", "7")
    settings = VoxraySettings()
    assert settings.sim_speed == 4
    assert settings.engine.connect_timeout_s == 3.5
    assert settings.supervisor.max_sessions == 7


def test_xai_api_key_is_honoured_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XAI_API_KEY", SECRET)
    settings = VoxraySettings()
    endpoint = settings.xai_endpoint()
    assert endpoint.api_key.get_secret_value() == SECRET
    for text in (repr(settings), str(settings), settings.model_dump_json(), repr(endpoint)):
        assert SECRET not in text
    # What Ray would show of an actor argument is its repr; the pickle must still carry it.
    assert pickle.loads(pickle.dumps(endpoint)).api_key.get_secret_value() == SECRET


def test_missing_key_is_a_clear_error_for_the_real_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XAI_API_KEY", raising=False)
    monkeypatch.delenv("VOXRAY_XAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="XAI_API_KEY"):
        VoxraySettings().xai_endpoint()


def test_settings_are_frozen() -> None:
    settings = VoxraySettings()
    with pytest.raises(ValidationError):
        settings.sim_speed = 2  # type: ignore[misc]
