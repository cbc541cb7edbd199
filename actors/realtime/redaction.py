"""Keeping the key out of what the provider sends: every text frame is scrubbed as it enters.

A provider (or a gateway in front of it) may quote the credentials it was given, typically in an
``error`` event (``Incorrect API key provided: xai-...``). Whatever a frame says goes on into
events, transcripts, logs, ``results.jsonl`` and reports, so the transport's reader scrubs each
frame before parsing it (:class:`InboundRedactor`): nothing downstream can carry the key.

Two tiers, for the cost of the hot path (50 audio frames a second per conversation):

- the configured key, replaced in every text frame: a substring search, ≈ 1 µs on a 10 KB
  audio delta when absent;
- anything shaped like a credential (an ``xai-``/``sk-`` key, a bearer token) in frames that
  are not agent audio, where free text lives (errors, transcripts, items).

The replacement, ``[redacted]``, holds no quote or backslash, so a scrubbed JSON frame stays
valid JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = ["MIN_SECRET_CHARS", "REDACTED", "InboundRedactor", "redact_secret_shapes"]

REDACTED: Final = "[redacted]"
MIN_SECRET_CHARS: Final = 6
"""Configured secrets shorter than this are not searched for: they would garble text."""

_SECRET_SHAPES: Final = re.compile(
    r"xai-[A-Za-z0-9_-]{8,}"
    r"|sk-[A-Za-z0-9_-]{16,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}"
)


def redact_secret_shapes(text: str) -> str:
    """``text`` with anything shaped like an xAI/OpenAI-style key or a bearer token masked."""
    return _SECRET_SHAPES.sub(REDACTED, text)


class InboundRedactor:
    """Scrubs provider text of the configured secrets and of credential-shaped strings.

    Args:
        secrets: the values that must never appear (the API key); longest first, so a secret
            containing another is hidden whole.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        unique = {value for value in secrets if len(value) >= MIN_SECRET_CHARS}
        self._secrets = tuple(sorted(unique, key=len, reverse=True))

    def known(self, text: str) -> str:
        """``text`` without the configured secrets (cheap: for every frame)."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def all(self, text: str) -> str:
        """``text`` without the configured secrets and anything shaped like a credential."""
        return redact_secret_shapes(self.known(text))

    def looks_secret(self, text: str) -> bool:
        """Whether ``text`` holds something shaped like a credential."""
        return _SECRET_SHAPES.search(text) is not None
