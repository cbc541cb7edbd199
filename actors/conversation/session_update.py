"""Turn an :class:`AgentConfig` into the one ``session.update`` a session sends.

The xAI-native flat form is used (``voice`` and ``turn_detection`` at the top level, formats
nested under ``audio``), which every source agrees the service accepts. Fixed here, against the
starting point's defects: ``tools`` is omitted rather than ``null`` when there are none, manual
turns send ``turn_detection: null``, and the configured instructions and VAD settings are sent.
"""

from __future__ import annotations

from voxray.actors.conversation.agent import AgentConfig, AudioFormatConfig
from voxray.actors.realtime.client_events import SessionUpdate
from voxray.actors.realtime.session_params import (
    AudioFormat,
    AudioInput,
    AudioOutput,
    AudioParams,
    FileSearchTool,
    FunctionTool,
    Reasoning,
    SessionParams,
    Tool,
    Transcription,
    TurnDetection,
    WebSearchTool,
    XSearchTool,
)

__all__ = ["build_session_update"]


def _wire_format(config: AudioFormatConfig) -> AudioFormat:
    if config.encoding == "pcm":
        return AudioFormat(type="audio/pcm", rate=config.rate)
    return AudioFormat(type="audio/pcmu" if config.encoding == "pcmu" else "audio/pcma")


def _tools(agent: AgentConfig) -> list[Tool]:
    tools: list[Tool] = [
        FunctionTool(name=spec.name, description=spec.description, parameters=spec.parameters)
        for spec in agent.tools
    ]
    if agent.web_search is not None:
        search = agent.web_search
        web = WebSearchTool()
        if search.allowed_domains:
            web = WebSearchTool(allowed_domains=list(search.allowed_domains))
        elif search.excluded_domains:
            web = WebSearchTool(excluded_domains=list(search.excluded_domains))
        tools.append(web)
    if agent.x_search is not None:
        x = agent.x_search
        if x.allowed_x_handles:
            tools.append(XSearchTool(allowed_x_handles=list(x.allowed_x_handles)))
        elif x.excluded_x_handles:
            tools.append(XSearchTool(excluded_x_handles=list(x.excluded_x_handles)))
        else:
            tools.append(XSearchTool())
    if agent.file_search is not None:
        tools.append(
            FileSearchTool(
                vector_store_ids=list(agent.file_search.collection_ids),
                max_num_results=agent.file_search.max_num_results,
            )
        )
    return tools


def build_session_update(agent: AgentConfig) -> SessionUpdate:
    """The complete ``session.update`` for ``agent``."""
    vad = agent.turn_detection
    # Only the fields that are set go on the wire (e.g. no idle_timeout_ms: null).
    turn_detection = (
        TurnDetection.model_validate(vad.model_dump(exclude_none=True)) if vad is not None else None
    )
    # Only what is set goes on the wire: no transcription or transport unless configured (json
    # is the protocol's default transport, so the default session.update does not name it).
    audio_input: dict[str, object] = {"format": _wire_format(agent.input_audio)}
    if agent.transcription is not None:
        t = agent.transcription
        audio_input["transcription"] = Transcription(
            model=t.model,
            language_hint=t.language_hint,
            keyterms=list(t.keyterms) if t.keyterms else None,
        )
    audio_output: dict[str, object] = {"format": _wire_format(agent.output_audio)}
    if agent.input_audio.transport == "binary":
        audio_input["transport"] = "binary"
    if agent.output_audio.transport == "binary":
        audio_output["transport"] = "binary"
    fields: dict[str, object] = {
        "instructions": agent.instructions,
        "voice": agent.voice,
        "turn_detection": turn_detection,
        "audio": AudioParams(
            input=AudioInput.model_validate(audio_input),
            output=AudioOutput.model_validate(audio_output),
        ),
        "modalities": list(agent.modalities),
    }
    tools = _tools(agent)
    if tools:
        fields["tools"] = tools
    if agent.reasoning_effort is not None:
        fields["reasoning"] = Reasoning(effort=agent.reasoning_effort)
    if agent.replace is not None:
        fields["replace"] = dict(agent.replace)
    # Validated from a dict so that only the fields named here count as "set" and go on the wire.
    params = SessionParams.model_validate(fields)
    return SessionUpdate(session=params)
