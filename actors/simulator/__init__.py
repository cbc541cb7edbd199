"""The built-in xAI-compatible realtime simulator: the offline default backend.

A real aiohttp websocket server on loopback that speaks the protocol of
``shared/reference/xai-realtime-protocol.md``: energy VAD on the input audio timeline, a
scripted brain per scenario, espeak-ng replies paced in real time (or faster), optional
pocketsphinx transcription, and fault injection (:mod:`actors.simulator.faults`).

Ray is not imported here; the actor lives in :mod:`actors.simulator.actor`.
"""

from actors.simulator.brain import Brain, Decision, PlannedCall
from actors.simulator.config import SimulatorConfig
from actors.simulator.faults import (
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
from actors.simulator.latency import ResponseLatency
from actors.simulator.rules import BrainRule, BrainScript, ScriptedCall
from actors.simulator.server import REALTIME_PATH, Simulator, SimulatorState
from actors.simulator.vad import EnergyVad, SpeechStarted, SpeechStopped, threshold_to_dbfs

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
