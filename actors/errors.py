"""The one exception tree of voxray.

Every error voxray raises derives from :class:`VoxrayError` and says whether retrying the same
operation may succeed (``retryable``). Third-party exceptions (aiohttp, Ray, pydantic) are mapped
into this tree at exactly one boundary each, with ``raise ... from``.

::

    VoxrayError
    ├── ConfigError                 invalid suite, agent, scenario or settings (never retryable)
    │   └── ToolSpecError           a tool reference that cannot be imported or described
    ├── AudioError                  a broken or unsupported audio file or buffer
    ├── ProtocolError               a malformed frame from the realtime server
    ├── ProviderConnectionError     the realtime websocket could not be used
    │   ├── HandshakeError          the upgrade was refused (carries the HTTP status)
    │   │   ├── AuthenticationError 401/403: fatal, retrying cannot help
    │   │   └── RateLimitedError    429: retryable after backoff
    │   ├── ConnectTimeoutError     no answer within the connect timeout (retryable)
    │   └── ConnectionLostError     the socket dropped mid-session (retryable)
    ├── ProviderError               an ``error`` event the session could not absorb
    ├── SessionLostError            a session actor died or stopped answering
    ├── ActorLostError              the supervisor or the simulator actor died (retryable)
    ├── ActorTimeoutError           an actor did not answer within the caller's timeout
    ├── SessionBusyError            a live-session call on an actor in the wrong state
    ├── CapacityError               a bounded queue or cap is full (carries the numbers)
    ├── RunDirectoryBusyError       another voxray process is writing the same run directory
    ├── SecretLostError             a secret sent by reference was gone before it was read
    ├── WebhookRejected             a signed webhook failed verification (carries the cause)
    └── ToolError                   a function call failed (sent back to the model as output)
        ├── ToolNotFoundError
        ├── ToolTimeoutError
        └── ToolExecutionError

Exceptions cross process boundaries inside Ray, so each one pickles with its fields intact.
Where an error travels as data instead (inside a :class:`SessionResult`), it is an
:class:`ErrorInfo`: its type name, message and ``retryable``, so that no caller decides anything
by parsing text. Messages never contain secrets: callers pass redacted text only.
"""

from __future__ import annotations

import builtins
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
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
]


def _rebuild(cls: type[VoxrayError], message: str, fields: dict[str, Any]) -> VoxrayError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(fields)
    return error


class VoxrayError(Exception):
    """Base of every voxray error.

    Attributes:
        message: a one-line, secret-free description naming the cause.
        retryable: whether the same operation may succeed if tried again.
    """

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses add keyword-only fields; rebuilding from __dict__ keeps them all without
        # every subclass re-implementing pickling.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))

    def __str__(self) -> str:
        return self.message


class ConfigError(VoxrayError):
    """A suite, agent, scenario or setting is invalid. ``location`` names where."""

    def __init__(self, message: str, *, location: str | None = None) -> None:
        super().__init__(f"{location}: {message}" if location else message, retryable=False)
        self.location = location


class ToolSpecError(ConfigError):
    """A tool reference (``package.module:function``) cannot be imported or described."""


class AudioError(VoxrayError):
    """An audio file or buffer is broken or in an unsupported format."""


class ProtocolError(VoxrayError):
    """The realtime server sent a frame that cannot be understood."""


class ProviderConnectionError(VoxrayError):
    """The realtime websocket could not be opened or kept open."""

    retryable = True


class HandshakeError(ProviderConnectionError):
    """The websocket upgrade was refused with an HTTP status."""

    def __init__(self, message: str, *, status: int, retryable: bool | None = None) -> None:
        super().__init__(message, retryable=retryable)
        self.status = status


class AuthenticationError(HandshakeError):
    """The provider refused the credentials (401/403). Fatal: retrying cannot help."""

    retryable = False


class RateLimitedError(HandshakeError):
    """The provider is at capacity for this key (429). Retry after backoff."""

    retryable = True


class ConnectTimeoutError(ProviderConnectionError):
    """The provider did not complete the connection within the connect timeout."""


class ConnectionLostError(ProviderConnectionError):
    """The websocket dropped during a session."""


class ProviderError(VoxrayError):
    """An ``error`` event from the provider that ends the session (e.g. ``max_duration``)."""

    def __init__(
        self,
        message: str,
        *,
        error_type: str,
        code: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.error_type = error_type
        self.code = code


class SessionLostError(VoxrayError):
    """A session actor died or stopped answering; its conversation is lost."""

    retryable = True


class ActorLostError(VoxrayError):
    """A voxray actor the driver relies on (``actor`` names it: "supervisor", "simulator") died
    or became unreachable. What it was doing did not finish; running it again may succeed."""

    retryable = True

    def __init__(self, message: str, *, actor: str) -> None:
        super().__init__(message)
        self.actor = actor


class ActorTimeoutError(VoxrayError):
    """A voxray actor did not answer a call within the caller's timeout."""

    retryable = True

    def __init__(self, message: str, *, actor: str, timeout_s: float) -> None:
        super().__init__(message)
        self.actor = actor
        self.timeout_s = timeout_s


class SessionBusyError(VoxrayError):
    """A live-session call reached an actor in the wrong state (none open, or one already)."""


class CapacityError(VoxrayError):
    """A bounded queue or cap is full. Carries the numbers so callers can report them."""

    retryable = True

    def __init__(self, message: str, *, limit: int, in_use: int, queued: int = 0) -> None:
        super().__init__(f"{message} (limit {limit}, in use {in_use}, queued {queued})")
        self.limit = limit
        self.in_use = in_use
        self.queued = queued


class RunDirectoryBusyError(VoxrayError):
    """Another voxray process holds the run directory's lock (two ``--resume`` on one ``--out``
    would write the same runs twice). ``owner`` describes the holder when known."""

    def __init__(self, message: str, *, owner: str | None = None) -> None:
        super().__init__(message, retryable=False)
        self.owner = owner


class SecretLostError(VoxrayError):
    """A secret that crossed a Ray call by reference (:mod:`voxray.actors.sealed`) could not be
    read: the process that sent it ended first. Never retryable from where it was raised; run
    the work again from a live driver."""


WebhookRejection = Literal[
    "missing_headers",
    "invalid_id",
    "bad_timestamp",
    "stale",
    "future",
    "bad_signature",
    "replayed",
]
"""Which check a webhook failed."""


class WebhookRejected(VoxrayError):
    """A webhook that failed verification (Standard Webhooks): ``cause`` names the check.

    The message never shows the secret or a signature."""

    def __init__(self, message: str, *, cause: WebhookRejection) -> None:
        super().__init__(message, retryable=False)
        self.cause: WebhookRejection = cause


class ToolError(VoxrayError):
    """A function call failed. The model receives it as an error output; the call goes on."""

    def __init__(self, message: str, *, tool: str, retryable: bool | None = None) -> None:
        super().__init__(message, retryable=retryable)
        self.tool = tool


class ToolNotFoundError(ToolError):
    """The model called a function the agent does not declare."""


class ToolTimeoutError(ToolError):
    """A function call ran past its timeout and was stopped."""


class ToolExecutionError(ToolError):
    """A function raised, or its runner died. ``error_type`` names the exception class."""

    def __init__(self, message: str, *, tool: str, error_type: str) -> None:
        super().__init__(message, tool=tool)
        self.error_type = error_type


class ErrorInfo(BaseModel):
    """An error as data, for results that cross a process: what a caller decides on.

    ``type`` is the exception's class name in this tree (e.g. ``"RateLimitedError"``); use
    :meth:`is_a` to test it against a class, subclasses included.
    """

    model_config = ConfigDict(frozen=True)

    type: str
    message: str
    retryable: bool = False
    lineage: tuple[str, ...] = ()
    """The class names from ``type`` up to ``VoxrayError``: what :meth:`is_a` checks."""

    @classmethod
    def of(cls, error: BaseException) -> ErrorInfo:
        """The data of ``error`` (a non-voxray error keeps its class name, not retryable)."""
        lineage = tuple(
            klass.__name__
            for klass in type(error).__mro__
            if issubclass(klass, VoxrayError) and klass is not Exception
        )
        message = error.message if isinstance(error, VoxrayError) else str(error)
        retryable = error.retryable if isinstance(error, VoxrayError) else False
        return cls(type=type(error).__name__, message=message, retryable=retryable, lineage=lineage)

    def is_a(self, kind: builtins.type[VoxrayError]) -> bool:
        """Whether the error was a ``kind`` (or a subclass of it)."""
        return kind.__name__ in self.lineage or kind.__name__ == self.type

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type
