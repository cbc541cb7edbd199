"""Agent audio on a SIP call, measured from the provider's events (the audio never reaches us).

On xAI's direct SIP the provider plays the agent to the phone line itself and reports it with
``output_audio_buffer.started`` and ``.stopped`` (or ``.cleared`` on a barge-in). What played in
between is the agent's audio of the call: its minutes for the record and the cost estimate.
"""

from __future__ import annotations

__all__ = ["PhoneAudio"]


class PhoneAudio:
    """Sums the intervals between started and stopped/cleared, on the audio timeline (ms)."""

    def __init__(self) -> None:
        self._played_ms = 0.0
        self._since_ms: float | None = None

    def started(self, at_ms: float) -> None:
        """Audio started playing to the phone (a repeat while playing changes nothing)."""
        if self._since_ms is None:
            self._since_ms = at_ms

    def stopped(self, at_ms: float) -> None:
        """Audio stopped: it all played, or the rest was cleared."""
        if self._since_ms is not None:
            self._played_ms += max(0.0, at_ms - self._since_ms)
            self._since_ms = None

    def played_ms(self, now_ms: float) -> float:
        """Audio played so far, counting an interval still open up to ``now_ms``."""
        if self._since_ms is None:
            return self._played_ms
        return self._played_ms + max(0.0, now_ms - self._since_ms)
