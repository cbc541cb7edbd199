"""Pre-rendered ``response.output_audio.delta`` frames: the simulator's hottest event.

An audio delta is sent 25 times a second per speaking session. Building and serialising a
pydantic model for each costs more than the rest of the simulator's per-chunk work, yet the
frame is a fixed shape whose only variable parts are ids (hex, never escaped) and base64 (never
escaped). :class:`AudioDeltaFrames` therefore formats the JSON text directly; it is byte-for-byte
what ``encode_server_event(ResponseOutputAudioDelta(...))`` produces (a test holds it to that).
"""

from __future__ import annotations

from typing import Final

__all__ = ["AudioDeltaFrames"]

_HEAD: Final = '{"type":"response.output_audio.delta","event_id":"'
_TAIL: Final = '"}'


class AudioDeltaFrames:
    """Renders the audio deltas of one content part (ids fixed, payload varying)."""

    __slots__ = ("_middle",)

    def __init__(self, response_id: str, item_id: str, output_index: int, content_index: int):
        for value in (response_id, item_id):
            if '"' in value or "\\" in value:  # ids are generated hex; guard the assumption
                raise ValueError(f"id {value!r} would need JSON escaping")
        self._middle = (
            f'","response_id":"{response_id}","item_id":"{item_id}",'
            f'"output_index":{output_index},"content_index":{content_index},"delta":"'
        )

    def render(self, event_id: str, audio_b64: str) -> str:
        """The JSON text of one delta carrying ``audio_b64``."""
        return _HEAD + event_id + self._middle + audio_b64 + _TAIL
