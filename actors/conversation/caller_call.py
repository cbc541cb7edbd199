"""Play a scenario whose user is a simulated caller: build both sessions and bridge them.

The session actor calls :func:`play_call` instead of the scenario player when the scenario's
script has a ``caller``: the agent's conversation as configured, and the caller's own session
(:func:`~voxray.actors.conversation.caller.caller_agent`) on ``caller_endpoint`` (on the
simulator a token bound to the caller's scripted persona; on xAI the same service), whose
``end_call`` tool the bridge answers.

Recorded (``record_dir``), the call is two cassettes, one per session: ``agent/`` and
``caller/`` in ``record_dir`` (:data:`~voxray.actors.cassette.format.CALL_SIDES`), each
scrubbed of its own endpoint's key; a replay serves each session from its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from voxray.actors.cassette.format import CALL_SIDES
from voxray.actors.cassette.recorder import CassetteRecorder, save_recording
from voxray.actors.conversation.agent import AgentConfig
from voxray.actors.conversation.caller import END_CALL_TOOL, caller_agent
from voxray.actors.conversation.caller_bridge import CallerBridge
from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
from voxray.actors.conversation.engine import Conversation
from voxray.actors.conversation.result import SessionResult
from voxray.actors.conversation.script import ScenarioScript
from voxray.actors.tools.executor import ToolBackend, ToolExecutor

__all__ = ["play_call"]


async def play_call(
    *,
    session_id: str,
    agent: AgentConfig,
    script: ScenarioScript,
    endpoint: ProviderEndpoint,
    caller_endpoint: ProviderEndpoint,
    tuning: EngineTuning,
    tools: ToolBackend,
    on_start: Callable[[Conversation], None] | None = None,
    record_dir: str | None = None,
) -> SessionResult:
    """Run the agent against ``script.caller`` until the caller hangs up or a limit; return
    the agent's result with the caller's outcome and the dialogue attached.

    ``on_start`` sees the agent's conversation before it connects (the actor watches it).
    With ``record_dir`` both sessions are recorded, into ``agent/`` and ``caller/`` there;
    a cassette that cannot be written safely raises
    :class:`~voxray.actors.cassette.CassetteError`.
    """
    spec = script.caller
    if spec is None:
        raise ValueError("play_call needs a script with a caller")
    rate = tuning.recording_rate
    line = None
    if script.condition is not None:
        # A noise bed is seconds of audio to build (babble is synthesised): off the loop.
        line = await asyncio.to_thread(script.condition.line, rate, script.seed)
    bridge = CallerBridge(spec, speed=tuning.speed, rate=rate, line=line)
    recorders = (CassetteRecorder(), CassetteRecorder()) if record_dir is not None else (None, None)
    agent_side = Conversation(
        agent,
        endpoint,
        tuning,
        ToolExecutor(agent.tools, tools),
        session_id=session_id,
        frame_tap=recorders[0],
    )
    caller_side = Conversation(
        caller_agent(spec, agent),
        caller_endpoint,
        tuning,
        ToolExecutor((END_CALL_TOOL,), bridge.desk),
        session_id=f"{session_id}-caller",
        frame_tap=recorders[1],
    )
    if on_start is not None:
        on_start(agent_side)
    call = await bridge.run(agent_side, caller_side)
    if record_dir is not None:
        for side, recorder, side_endpoint in zip(
            CALL_SIDES, recorders, (endpoint, caller_endpoint), strict=True
        ):
            assert recorder is not None
            await save_recording(
                recorder,
                Path(record_dir) / side,
                api_key=side_endpoint.api_key.get_secret_value(),
                speed=tuning.speed,
                scenario=f"{Path(record_dir).name}/{side}",
            )
    return call.result()
