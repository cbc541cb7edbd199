"""What one connection's caller appended: frame and byte counts and an order-sensitive digest.

Lets a test prove that every microphone frame arrived, in order: compare ``frames`` with the
client's ``frames_sent`` and ``digest`` with a BLAKE2b over the audio the client sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

__all__ = ["InputTally"]


@dataclass
class InputTally:
    """Counters of ``input_audio_buffer.append`` on one connection."""

    frames: int = 0
    size_bytes: int = 0
    _hash: hashlib.blake2b = field(default_factory=lambda: hashlib.blake2b(digest_size=16))

    def add(self, data: bytes) -> None:
        """One appended frame (decoded audio)."""
        self.frames += 1
        self.size_bytes += len(data)
        self._hash.update(data)

    def snapshot(self) -> dict[str, int | str]:
        """The counters and the digest so far (hex)."""
        return {"frames": self.frames, "bytes": self.size_bytes, "digest": self._hash.hexdigest()}
