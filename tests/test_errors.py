"""Every voxray exception survives pickling (Ray ships them between processes)."""

from __future__ import annotations

import pickle

import pytest
from voxray.actors import errors
from voxray.actors.errors import (
    AuthenticationError,
    CapacityError,
    ConfigError,
    HandshakeError,
    ProviderError,
    RateLimitedError,
    ToolError,
    ToolExecutionError,
    VoxrayError,
)

EXAMPLES: list[VoxrayError] = [
    VoxrayError("base", retryable=True),
    ConfigError("bad voice", location="suite.yaml: scenario 'x'"),
    errors.ToolSpecError("cannot import", location="agent.tools[0]"),
    errors.AudioError("broken.wav: not a WAV file"),
    errors.ProtocolError("malformed JSON"),
    errors.ProviderConnectionError("cannot connect"),
    HandshakeError("refused", status=503, retryable=True),
    AuthenticationError("refused credentials", status=401),
    RateLimitedError("at capacity", status=429),
    errors.ConnectTimeoutError("no handshake within 10 s"),
    errors.ConnectionLostError("closed (code 1006)"),
    ProviderError("ended", error_type="max_duration", code="max_duration", retryable=True),
    errors.SessionLostError("actor died"),
    errors.SessionBusyError("no live session is open"),
    CapacityError("queue full", limit=100, in_use=100, queued=50),
    ToolError("failed", tool="get_weather"),
    errors.ToolNotFoundError("no such tool", tool="launch"),
    errors.ToolTimeoutError("took too long", tool="slow"),
    ToolExecutionError("boom", tool="explode", error_type="ValueError"),
    errors.ActorLostError("the supervisor actor died", actor="supervisor"),
    errors.ActorTimeoutError("the simulator did not answer", actor="simulator", timeout_s=5.0),
    errors.RunDirectoryBusyError("runs/x is in use", owner="pid 42"),
    errors.SecretLostError("the API key could not be read: its sender ended"),
    errors.WebhookRejected("no webhook-signature matches", cause="bad_signature"),
]


def test_every_exception_class_has_an_example() -> None:
    covered = {type(e) for e in EXAMPLES}
    declared = {
        value
        for name in errors.__all__
        if isinstance(value := getattr(errors, name), type) and issubclass(value, Exception)
    }
    assert declared <= covered


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_error_info_carries_type_message_and_retryable(error: VoxrayError) -> None:
    info = pickle.loads(pickle.dumps(errors.ErrorInfo.of(error)))
    assert info.type == type(error).__name__
    assert info.message == error.message and info.retryable == error.retryable
    assert info.is_a(type(error)) and info.is_a(VoxrayError)
    assert errors.ErrorInfo.model_validate_json(info.model_dump_json()) == info


def test_error_info_matches_subclasses_not_siblings() -> None:
    info = errors.ErrorInfo.of(RateLimitedError("at capacity", status=429))
    assert info.is_a(HandshakeError) and info.is_a(errors.ProviderConnectionError)
    assert not info.is_a(AuthenticationError) and not info.is_a(CapacityError)
    assert str(info) == "RateLimitedError: at capacity"
    foreign = errors.ErrorInfo.of(KeyError("x"))
    assert foreign.type == "KeyError" and not foreign.retryable
    assert not foreign.is_a(VoxrayError)


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_round_trips_through_pickle(error: VoxrayError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.retryable == error.retryable
    assert vars(copy) == vars(error)


def test_fatal_and_retryable_handshake_failures() -> None:
    assert not AuthenticationError("x", status=401).retryable
    assert RateLimitedError("x", status=429).retryable
    error = CapacityError("queue full", limit=10, in_use=10, queued=3)
    assert "limit 10" in str(error) and error.queued == 3
