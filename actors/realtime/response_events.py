"""Server events of a response: output items, content parts, audio, text, function and MCP calls.

Order within one response (reference §6.2): ``response.created`` → ``output_item.added`` →
``content_part.added`` → ``output_audio.delta``/``output_audio_transcript.delta`` … → ``.done``
events → ``output_item.done`` → ``response.done``. Function-call events arrive before
``response.done``. Indexes may be missing (see :class:`ContentEventBase`).
"""

from __future__ import annotations

from typing import Literal

from voxray.actors.realtime.items import ContentPart, ServerItem
from voxray.actors.realtime.server_payloads import (
    ContentEventBase,
    ItemEventBase,
    McpCallEventBase,
    McpError,
    ResponseInfo,
    ServerEventBase,
)

__all__ = [
    "McpListToolsCompleted",
    "McpListToolsFailed",
    "McpListToolsInProgress",
    "ResponseContentPartAdded",
    "ResponseContentPartDone",
    "ResponseCreated",
    "ResponseDone",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseFunctionCallArgumentsDone",
    "ResponseMcpCallArgumentsDelta",
    "ResponseMcpCallArgumentsDone",
    "ResponseMcpCallCompleted",
    "ResponseMcpCallFailed",
    "ResponseMcpCallInProgress",
    "ResponseOutputAudioDelta",
    "ResponseOutputAudioDone",
    "ResponseOutputAudioTranscriptDelta",
    "ResponseOutputAudioTranscriptDone",
    "ResponseOutputItemAdded",
    "ResponseOutputItemDone",
    "ResponseOutputTextDelta",
    "ResponseOutputTextDone",
    "ResponseTextDelta",
    "ResponseTextDone",
]


class ResponseCreated(ServerEventBase):
    """A response started (client-requested, VAD auto-response, force message or check-in)."""

    type: Literal["response.created"] = "response.created"
    response: ResponseInfo


class ResponseDone(ServerEventBase):
    """A response ended; ``response.status`` says how. Function calls are acted on before it."""

    type: Literal["response.done"] = "response.done"
    response: ResponseInfo


class ResponseOutputItemAdded(ServerEventBase):
    """A new output item (assistant message or function call) in a response."""

    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str
    output_index: int | None = None
    item: ServerItem


class ResponseOutputItemDone(ServerEventBase):
    """An output item is final (a function call now carries ``arguments``)."""

    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str
    output_index: int | None = None
    item: ServerItem


class ResponseContentPartAdded(ContentEventBase):
    """A content part (``audio`` or ``text``) starts."""

    type: Literal["response.content_part.added"] = "response.content_part.added"
    part: ContentPart | None = None


class ResponseContentPartDone(ContentEventBase):
    """A content part ended. ``part`` may be missing."""

    type: Literal["response.content_part.done"] = "response.content_part.done"
    part: ContentPart | None = None


class ResponseOutputAudioDelta(ContentEventBase):
    """A chunk of assistant audio: base64 in the session's output format."""

    type: Literal["response.output_audio.delta"] = "response.output_audio.delta"
    delta: str


class ResponseOutputAudioDone(ContentEventBase):
    """No more audio for this content part."""

    type: Literal["response.output_audio.done"] = "response.output_audio.done"


class ResponseOutputAudioTranscriptDelta(ContentEventBase):
    """A piece of the transcript of the assistant's audio."""

    type: Literal["response.output_audio_transcript.delta"] = (
        "response.output_audio_transcript.delta"
    )
    delta: str


class ResponseOutputAudioTranscriptDone(ContentEventBase):
    """The full transcript of the assistant's audio for this part."""

    type: Literal["response.output_audio_transcript.done"] = "response.output_audio_transcript.done"
    transcript: str


class ResponseTextDelta(ContentEventBase):
    """Beta-named text delta; xAI documents both this and ``response.output_text.delta``."""

    type: Literal["response.text.delta"] = "response.text.delta"
    delta: str


class ResponseOutputTextDelta(ContentEventBase):
    """GA-named text delta (same payload as ``response.text.delta``)."""

    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    delta: str


class ResponseTextDone(ContentEventBase):
    """Beta-named end of text (undocumented by xAI; modelled in case it appears)."""

    type: Literal["response.text.done"] = "response.text.done"
    text: str | None = None


class ResponseOutputTextDone(ContentEventBase):
    """GA-named end of text (undocumented by xAI; modelled in case it appears)."""

    type: Literal["response.output_text.done"] = "response.output_text.done"
    text: str | None = None


class ResponseFunctionCallArgumentsDelta(ItemEventBase):
    """A piece of a function call's JSON arguments."""

    type: Literal["response.function_call_arguments.delta"] = (
        "response.function_call_arguments.delta"
    )
    call_id: str
    delta: str


class ResponseFunctionCallArgumentsDone(ItemEventBase):
    """A function call is complete: act on it. Unlike OpenAI's, it always carries ``name``."""

    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    call_id: str
    name: str
    arguments: str


# ---------------------------------------------------------------- MCP (server-side tools)


class McpListToolsInProgress(ServerEventBase):
    """xAI is listing the tools of an MCP server."""

    type: Literal["mcp_list_tools.in_progress"] = "mcp_list_tools.in_progress"
    item_id: str


class McpListToolsCompleted(ServerEventBase):
    """The MCP tool listing succeeded."""

    type: Literal["mcp_list_tools.completed"] = "mcp_list_tools.completed"
    item_id: str


class McpListToolsFailed(ServerEventBase):
    """The MCP tool listing failed."""

    type: Literal["mcp_list_tools.failed"] = "mcp_list_tools.failed"
    item_id: str
    error: McpError | None = None


class ResponseMcpCallArgumentsDelta(ItemEventBase):
    """A piece of an MCP call's arguments."""

    type: Literal["response.mcp_call_arguments.delta"] = "response.mcp_call_arguments.delta"
    call_id: str | None = None
    delta: str


class ResponseMcpCallArgumentsDone(ItemEventBase):
    """An MCP call's arguments are complete (xAI may add ``name``)."""

    type: Literal["response.mcp_call_arguments.done"] = "response.mcp_call_arguments.done"
    call_id: str | None = None
    name: str | None = None
    arguments: str


class ResponseMcpCallInProgress(McpCallEventBase):
    """xAI started calling an MCP tool."""

    type: Literal["response.mcp_call.in_progress"] = "response.mcp_call.in_progress"


class ResponseMcpCallCompleted(McpCallEventBase):
    """An MCP tool call succeeded."""

    type: Literal["response.mcp_call.completed"] = "response.mcp_call.completed"


class ResponseMcpCallFailed(McpCallEventBase):
    """An MCP tool call failed."""

    type: Literal["response.mcp_call.failed"] = "response.mcp_call.failed"
    error: McpError | None = None
