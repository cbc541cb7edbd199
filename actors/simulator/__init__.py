"""The built-in xAI-compatible realtime simulator: the offline default backend.

A real aiohttp websocket server on loopback that speaks the protocol of
``shared/reference/xai-realtime-protocol.md``: energy VAD on the input audio timeline, a
scripted brain per scenario, espeak-ng replies paced in real time (or faster).

Ray is not imported here; the actor lives in :mod:`actors.simulator.actor`.
"""

from actors.simulator.brain import Brain, Decision, PlannedCall
from actors.simulator.config import SimulatorConfig
from actors.simulator.rules import BrainRule, BrainScript, ScriptedCall
from actors.simulator.server import REALTIME_PATH, Simulator, SimulatorState
from actors.simulator.vad import EnergyVad, SpeechStarted, SpeechStopped, threshold_to_dbfs

__all__ = [
    "REALTIME_PATH",
    "Brain",
    "BrainRule",
    "BrainScript",
    "Decision",
    "EnergyVad",
    "PlannedCall",
    "ScriptedCall",
    "Simulator",
    "SimulatorConfig",
    "SimulatorState",
    "SpeechStarted",
    "SpeechStopped",
    "threshold_to_dbfs",
]
