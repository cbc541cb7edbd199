"""Telephone audio passed through untouched, and what the caller's player reports it played.

A phone ingress (Twilio Media Streams) already has audio in the session's wire format (G.711
μ-law at 8 kHz): ``Conversation.send_wire_audio`` cuts it into appends with no decode, resample
or re-encode (see ``audio_paths``). The agent's audio goes back as the wire deltas themselves
(``Conversation.add_wire_audio_listener``, or ``AgentAudio.encoded``).

The caller's player, not the engine's simulated timeline, knows what was heard: a
:class:`PlaybackProbe` reports it (Twilio's acknowledged marks), and barge-in truncates there.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["PlaybackProbe"]


class PlaybackProbe(Protocol):
    """What the caller's player really played (set with ``Conversation.report_playback``)."""

    def playing(self) -> bool:
        """Whether agent audio sent to the caller may still be unplayed."""
        ...

    def heard(self) -> tuple[str | None, int]:
        """The item being heard and how many ms of it the caller heard (acknowledged)."""
        ...
