"""An optional observer of every frame a transport sends or receives (recording cassettes).

When no tap is given the transport pays one ``is None`` test per frame. A tap is called on the
transport's own task, in wire order, with the frame as it crossed the socket (before any
scrubbing: the tap owns keeping secrets out of what it keeps), and must not raise or block.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

__all__ = ["FrameTap"]


class FrameTap(Protocol):
    """Sees a connection open and every frame on it."""

    def opened(self, url: str, headers: Mapping[str, str]) -> None:
        """A websocket opened to ``url`` with these handshake ``headers``."""

    def frame(self, outbound: bool, payload: str | bytes) -> None:
        """One frame: ``outbound`` if the client sent it; text or binary as on the wire."""
