"""Quirks mode: rewrite outgoing events the way the live service has been seen to send them.

Each quirk (see :data:`voxray.actors.simulator.faults.Quirk`) is a small edit of one event's JSON,
or
a duplicate of it. Only sessions with quirks turned on pay for the JSON round trip.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any, Final

from voxray.actors.simulator.faults import Quirk
from voxray.actors.simulator.ids import new_id

__all__ = ["apply_quirks"]

_UNINDEXED: Final = frozenset(
    {
        "response.output_audio.done",
        "response.output_audio_transcript.delta",
        "response.output_audio_transcript.done",
    }
)
_ARGUMENT_EVENTS: Final = frozenset(
    {"response.function_call_arguments.delta", "response.function_call_arguments.done"}
)


def _missing_indexes(event: dict[str, Any]) -> None:
    if event["type"] in _UNINDEXED:
        event.pop("output_index", None)
        event.pop("content_index", None)


def _output_item_index(event: dict[str, Any]) -> None:
    if event["type"] in _ARGUMENT_EVENTS and "output_index" in event:
        event["output_item_index"] = event.pop("output_index")


def _missing_part(event: dict[str, Any]) -> None:
    if event["type"] == "response.content_part.done":
        event.pop("part", None)


def _missing_audio_start_ms(event: dict[str, Any]) -> None:
    if event["type"] == "input_audio_buffer.speech_started":
        event.pop("audio_start_ms", None)


def _string_status_details(event: dict[str, Any]) -> None:
    if event["type"] == "response.created":
        event["response"]["status_details"] = "unimplemented"


def _empty_usage(event: dict[str, Any]) -> None:
    if event["type"] == "response.done":
        event["response"]["usage"] = {}


def _empty_deleted_item_id(event: dict[str, Any]) -> None:
    if event["type"] == "conversation.item.deleted":
        event["item_id"] = ""


def _tool_choice_echo(event: dict[str, Any]) -> None:
    if event["type"] == "session.updated":
        event["session"]["tool_choice"] = "not implemented"


_EDITS: Final[dict[str, Callable[[dict[str, Any]], None]]] = {
    "missing_indexes": _missing_indexes,
    "output_item_index": _output_item_index,
    "missing_part": _missing_part,
    "missing_audio_start_ms": _missing_audio_start_ms,
    "string_status_details": _string_status_details,
    "empty_usage": _empty_usage,
    "empty_deleted_item_id": _empty_deleted_item_id,
    "tool_choice_echo": _tool_choice_echo,
}


def _duplicated(quirks: Collection[Quirk], event: dict[str, Any]) -> bool:
    kind = event["type"]
    transcription = kind == "conversation.item.input_audio_transcription.completed"
    if "duplicate_transcription" in quirks and transcription:
        return True
    if "duplicate_item_added" in quirks and kind == "conversation.item.added":
        return bool(event.get("item", {}).get("type") == "function_call")
    return False


def apply_quirks(quirks: Collection[Quirk], payload: str) -> list[str]:
    """The frames to send instead of ``payload`` (one JSON event) under ``quirks``."""
    event = json.loads(payload)
    for quirk in quirks:
        edit = _EDITS.get(quirk)
        if edit is not None:
            edit(event)
    frames = [json.dumps(event, separators=(",", ":"), ensure_ascii=False)]
    if _duplicated(quirks, event):
        frames.append(
            json.dumps(
                {**event, "event_id": new_id("event")}, separators=(",", ":"), ensure_ascii=False
            )
        )
    return frames
