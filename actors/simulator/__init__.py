"""The built-in xAI-compatible realtime simulator: the offline default backend.

A real aiohttp websocket server on loopback that speaks the protocol of
``shared/reference/xai-realtime-protocol.md``: energy VAD on the input audio timeline, a
scripted brain per scenario, espeak-ng replies paced in real time (or faster), optional
pocketsphinx transcription, and fault injection (:mod:`voxray.actors.simulator.faults`).

Ray is not imported here; the actor lives in :mod:`voxray.actors.simulator.actor`. The names
below load on first use: the suite loader imports the rule models, and must not pay for the
server (aiohttp, espeak, the protocol) to do it (``voxray --help``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from voxray.actors.lazy_exports import load_export

if TYPE_CHECKING:
    from voxray.actors.simulator.brain import Brain, Decision, PlannedCall
    from voxray.actors.simulator.config import SimulatorConfig
    from voxray.actors.simulator.faults import (
        CloseFault,
        ConnectRefusal,
        DelayFault,
        DropFault,
        ErrorFault,
        FaultAction,
        FaultPlan,
        MalformedFault,
        QuirksFault,
        StallFault,
        UnknownEventFault,
    )
    from voxray.actors.simulator.latency import ResponseLatency
    from voxray.actors.simulator.rules import BrainRule, BrainScript, ScriptedCall
    from voxray.actors.simulator.server import REALTIME_PATH, Simulator, SimulatorState
    from voxray.actors.simulator.vad import (
        EnergyVad,
        SpeechStarted,
        SpeechStopped,
        threshold_to_dbfs,
    )

_HOMES: dict[str, str] = {
    "Brain": "voxray.actors.simulator.brain",
    "Decision": "voxray.actors.simulator.brain",
    "PlannedCall": "voxray.actors.simulator.brain",
    "SimulatorConfig": "voxray.actors.simulator.config",
    "CloseFault": "voxray.actors.simulator.faults",
    "DelayFault": "voxray.actors.simulator.faults",
    "DropFault": "voxray.actors.simulator.faults",
    "ErrorFault": "voxray.actors.simulator.faults",
    "FaultAction": "voxray.actors.simulator.faults",
    "FaultPlan": "voxray.actors.simulator.faults",
    "MalformedFault": "voxray.actors.simulator.faults",
    "QuirksFault": "voxray.actors.simulator.faults",
    "ConnectRefusal": "voxray.actors.simulator.faults",
    "StallFault": "voxray.actors.simulator.faults",
    "UnknownEventFault": "voxray.actors.simulator.faults",
    "ResponseLatency": "voxray.actors.simulator.latency",
    "BrainRule": "voxray.actors.simulator.rules",
    "BrainScript": "voxray.actors.simulator.rules",
    "ScriptedCall": "voxray.actors.simulator.rules",
    "REALTIME_PATH": "voxray.actors.simulator.server",
    "Simulator": "voxray.actors.simulator.server",
    "SimulatorState": "voxray.actors.simulator.server",
    "EnergyVad": "voxray.actors.simulator.vad",
    "SpeechStarted": "voxray.actors.simulator.vad",
    "SpeechStopped": "voxray.actors.simulator.vad",
    "threshold_to_dbfs": "voxray.actors.simulator.vad",
}

__all__ = [
    "REALTIME_PATH",
    "Brain",
    "BrainRule",
    "BrainScript",
    "CloseFault",
    "ConnectRefusal",
    "Decision",
    "DelayFault",
    "DropFault",
    "EnergyVad",
    "ErrorFault",
    "FaultAction",
    "FaultPlan",
    "MalformedFault",
    "PlannedCall",
    "QuirksFault",
    "ResponseLatency",
    "ScriptedCall",
    "Simulator",
    "SimulatorConfig",
    "SimulatorState",
    "SpeechStarted",
    "SpeechStopped",
    "StallFault",
    "UnknownEventFault",
    "threshold_to_dbfs",
]


def __getattr__(name: str) -> Any:
    return load_export(globals(), _HOMES, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
