"""voxray: run many concurrent xAI Grok realtime voice conversations on Ray.

The public API is exactly the names in ``voxray.__all__``; import them from ``voxray``::

    from voxray import AgentTranscript, Fleet, ResponseFinished

    with Fleet.connect() as fleet:                      # embedded Ray and the simulator
        result = fleet.submit("configs/evals/smoke.yaml").wait()
        print(result.summary.runs_passed, "passed")

- the client: :class:`Fleet` (joins Ray; ``submit`` a suite, ``open_session`` a live agent),
  :class:`Job`, :class:`JobResult`, :class:`Session` (a live conversation's handle),
  :class:`VoxraySettings`;
- what you configure: :class:`AgentConfig` (one realtime session's setup), :class:`Suite` and
  :func:`load_suite` (eval suites), :class:`BrainScript` (the simulator's scripted replies),
  :class:`CallerCondition` (how a simulated caller sounds: noise, phone line, packet loss, a
  cheap microphone, voice) and :class:`RegressionGate` (what regresses against a baseline);
- what comes back: :class:`ScenarioRecord` (one scenario run), :class:`RunSummary`,
  :class:`Comparison` (two runs compared: :func:`compare_runs`, or a job's ``baseline``),
  :class:`SessionResult` (a closed live session), and the conversation's events
  (:data:`ConversationEvent`, a union of :class:`UserSpeechStarted`, :class:`AgentTranscript`,
  :class:`ToolCallFinished`, ...);
- the errors: :class:`VoxrayError` and its tree (see :mod:`voxray.actors.errors`), and
  :class:`ErrorInfo` (an error carried as data in a result);
- the offline backend: :class:`Simulator` and :class:`SimulatorConfig`, and the simulated
  phone caller's :class:`SipCallScript`, :class:`SipStep`, :class:`SipCallReport`.

**What is private.** Everything not in ``voxray.__all__`` is private: the submodules
(``voxray.client``, ``voxray.evals.*``, ``voxray.actors.*``, ...) are the implementation and
may change between releases without notice, even where a name there has no underscore. Names
re-exported here keep their meaning; the modules they are defined in may move. Two modules are
public besides: ``voxray.testing``, the pytest plugin (its fixtures and the names in its own
``__all__``), and ``voxray.examples.tools``, which suites name in YAML
(``voxray.examples.tools:get_weather``).

The names are loaded on first use (module ``__getattr__``): this file imports only the loader
(:mod:`voxray.actors.lazy_exports`), because every Ray worker that imports ``voxray.actors`` runs
it first, and a session actor must not pay for the driver's modules (Ray, the eval runner, the
report).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from voxray.actors.lazy_exports import load_export

if TYPE_CHECKING:
    from voxray.actors.audio.conditions import CallerCondition
    from voxray.actors.conversation.agent import AgentConfig
    from voxray.actors.conversation.events import (
        AgentAudio,
        AgentSpeechEnded,
        AgentSpeechStarted,
        AgentTranscript,
        ConversationEvent,
        DtmfReceived,
        ErrorOccurred,
        Interrupted,
        ResponseFinished,
        ToolCallFinished,
        ToolCallStarted,
        UserSpeechEnded,
        UserSpeechStarted,
        UserTranscript,
    )
    from voxray.actors.conversation.result import SessionResult
    from voxray.actors.errors import (
        ActorLostError,
        ActorTimeoutError,
        AudioError,
        AuthenticationError,
        CapacityError,
        ConfigError,
        ConnectionLostError,
        ConnectTimeoutError,
        ErrorInfo,
        HandshakeError,
        ProtocolError,
        ProviderConnectionError,
        ProviderError,
        RateLimitedError,
        RunDirectoryBusyError,
        SecretLostError,
        SessionBusyError,
        SessionLostError,
        ToolError,
        ToolExecutionError,
        ToolNotFoundError,
        ToolSpecError,
        ToolTimeoutError,
        VoxrayError,
        WebhookRejected,
    )
    from voxray.actors.simulator.config import SimulatorConfig
    from voxray.actors.simulator.rules import BrainScript
    from voxray.actors.simulator.server import Simulator
    from voxray.actors.simulator.sip_caller import SipCallReport, SipCallScript, SipStep
    from voxray.client import Fleet, Job, JobResult, Session
    from voxray.evals.compare import Comparison, RegressionGate, compare_runs
    from voxray.evals.records import ScenarioRecord
    from voxray.evals.suite import Suite, load_suite
    from voxray.evals.summary import RunSummary
    from voxray.settings import VoxraySettings

_EVENTS = (
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
)
_ERRORS = (
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
)

# Public name -> the module that defines it (imported on first access).
_HOMES: dict[str, str] = {
    "Fleet": "voxray.client",
    "Job": "voxray.client",
    "JobResult": "voxray.client",
    "Session": "voxray.client",
    "VoxraySettings": "voxray.settings",
    "AgentConfig": "voxray.actors.conversation.agent",
    "Suite": "voxray.evals.suite",
    "load_suite": "voxray.evals.suite",
    "BrainScript": "voxray.actors.simulator.rules",
    "CallerCondition": "voxray.actors.audio.conditions",
    "RegressionGate": "voxray.evals.compare",
    "Comparison": "voxray.evals.compare",
    "compare_runs": "voxray.evals.compare",
    "ScenarioRecord": "voxray.evals.records",
    "RunSummary": "voxray.evals.summary",
    "SessionResult": "voxray.actors.conversation.result",
    "Simulator": "voxray.actors.simulator.server",
    "SimulatorConfig": "voxray.actors.simulator.config",
    "SipCallReport": "voxray.actors.simulator.sip_caller",
    "SipCallScript": "voxray.actors.simulator.sip_caller",
    "SipStep": "voxray.actors.simulator.sip_caller",
    **dict.fromkeys(_EVENTS, "voxray.actors.conversation.events"),
    **dict.fromkeys(_ERRORS, "voxray.actors.errors"),
}

__all__ = [
    "ActorLostError",
    "ActorTimeoutError",
    "AgentAudio",
    "AgentConfig",
    "AgentSpeechEnded",
    "AgentSpeechStarted",
    "AgentTranscript",
    "AudioError",
    "AuthenticationError",
    "BrainScript",
    "CallerCondition",
    "CapacityError",
    "Comparison",
    "ConfigError",
    "ConnectTimeoutError",
    "ConnectionLostError",
    "ConversationEvent",
    "DtmfReceived",
    "ErrorInfo",
    "ErrorOccurred",
    "Fleet",
    "HandshakeError",
    "Interrupted",
    "Job",
    "JobResult",
    "ProtocolError",
    "ProviderConnectionError",
    "ProviderError",
    "RateLimitedError",
    "RegressionGate",
    "ResponseFinished",
    "RunDirectoryBusyError",
    "RunSummary",
    "ScenarioRecord",
    "SecretLostError",
    "Session",
    "SessionBusyError",
    "SessionLostError",
    "SessionResult",
    "Simulator",
    "SimulatorConfig",
    "SipCallReport",
    "SipCallScript",
    "SipStep",
    "Suite",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolError",
    "ToolExecutionError",
    "ToolNotFoundError",
    "ToolSpecError",
    "ToolTimeoutError",
    "UserSpeechEnded",
    "UserSpeechStarted",
    "UserTranscript",
    "VoxrayError",
    "VoxraySettings",
    "WebhookRejected",
    "compare_runs",
    "load_suite",
]


def __getattr__(name: str) -> Any:
    return load_export(globals(), _HOMES, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
