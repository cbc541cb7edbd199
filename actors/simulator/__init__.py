"""The built-in xAI-compatible realtime simulator: the offline default backend.

A real aiohttp websocket server on loopback that speaks the protocol of
``shared/reference/xai-realtime-protocol.md``: energy VAD on the input audio timeline, a
scripted brain per scenario, espeak-ng replies paced in real time (or faster), optional
pocketsphinx transcription, and fault injection (:mod:`voxray.actors.simulator.faults`).

Ray is not imported here; the actor lives in :mod:`voxray.actors.simulator.actor`.
"""

from voxray.actors.simulator.brain import Brain, Decision, PlannedCall
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.faults import (
    CloseFault,
    DelayFault,
    DropFault,
    ErrorFault,
    FaultAction,
    FaultPlan,
    MalformedFault,
    QuirksFault,
    Refusal,
    StallFault,
    UnknownEventFault,
)
from voxray.actors.simulator.latency import ResponseLatency
from voxray.actors.simulator.rules import BrainRule, BrainScript, ScriptedCall
from voxray.actors.simulator.server import REALTIME_PATH, Simulator, SimulatorState
from voxray.actors.simulator.vad import EnergyVad, SpeechStarted, SpeechStopped, threshold_to_dbfs

__all__ = [
    "REALTIME_PATH",
    "Brain",
    "BrainRule",
    "BrainScript",
    "CloseFault",
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
    "Refusal",
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
