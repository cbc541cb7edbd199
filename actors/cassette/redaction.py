"""Keeping secrets out of cassettes: scrub while building, check once more before writing.

What is scrubbed (``[redacted]`` in place of the value):

- the API key of the session, and the value of every environment variable whose name looks
  secret (:class:`~voxray.actors.tools.redact.SecretScrubber`), wherever they appear in a
  string of a frame, a header or the URL;
- anything shaped like a credential (``xai-…``, ``sk-…``, ``Bearer …``) in those strings;
- the value of every handshake header whose name looks secret (``Authorization``...).

Audio is never rewritten (it would be corrupted); :func:`find_secret` still searches it for the
known secrets, and a hit refuses the cassette.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from voxray.actors.cassette.format import Cassette, CassetteFrame
from voxray.actors.realtime.redaction import REDACTED, InboundRedactor
from voxray.actors.tools.redact import MIN_SECRET_CHARS, looks_secret

__all__ = ["CassetteScrubber", "find_secret", "known_secrets"]

_KEY_PREFIXES = ("xai-", "sk-")
_MIN_KEY_BODY_CHARS = 16


def known_secrets(api_key: str | None) -> list[str]:
    """The key plus the values of this process's secret-looking environment variables."""
    values = [api_key] if api_key else []
    if api_key and api_key.startswith(_KEY_PREFIXES):
        # A proxy may quote the key without its prefix; its body alone is as secret.
        body = api_key.split("-", 1)[1]
        if len(body) >= _MIN_KEY_BODY_CHARS:
            values.append(body)
    # The same rule as SecretScrubber.from_environ: a variable named like a secret.
    values.extend(value for name, value in os.environ.items() if looks_secret(name))
    return [value for value in values if len(value) >= MIN_SECRET_CHARS]


class CassetteScrubber:
    """Scrubs the strings of frames, headers and URLs of ``secrets`` and credential shapes."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._redactor = InboundRedactor(secrets)

    def text(self, text: str) -> str:
        """``text`` without the secrets or anything shaped like one."""
        return self._redactor.all(text)

    def value(self, value: Any) -> Any:
        """A decoded JSON value with every string (keys included) scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Headers with secret-named ones replaced whole (``Authorization: Bearer [redacted]``)."""
        clean: dict[str, str] = {}
        for name, value in headers.items():
            if name.lower() == "authorization":
                scheme = value.split(" ", 1)[0] if " " in value else ""
                clean[name] = f"{scheme} {REDACTED}".strip()
            elif looks_secret(name):
                clean[name] = REDACTED
            else:
                clean[name] = self.text(value)
        return clean


def find_secret(cassette: Cassette, secrets: Iterable[str]) -> str | None:
    """Where ``cassette`` still holds one of ``secrets`` or a credential-shaped string; None
    when it is clean. The answer names the place, never the secret."""
    needles = [value for value in secrets if len(value) >= MIN_SECRET_CHARS]
    probe = InboundRedactor(needles)

    def dirty(text: str) -> bool:
        return probe.known(text) != text or probe.looks_secret(text)

    meta = cassette.meta
    for name, value in meta.headers.items():
        if dirty(name) or dirty(value):
            return f"header {name!r}"
    if dirty(meta.url):
        return "the URL"
    if dirty(meta.model_dump_json(exclude={"headers", "url"})):
        return "cassette.json (session config or tool outputs)"
    for index, frame in enumerate(cassette.frames):
        if _frame_text_dirty(frame, dirty):
            return f"frame #{index} ({frame.side} {frame.type})"
    encoded = [value.encode() for value in needles]
    for label, audio in (("client", cassette.client_audio), ("server", cassette.server_audio)):
        if any(needle in audio for needle in encoded):
            return f"the {label} audio"
    return None


def _frame_text_dirty(frame: CassetteFrame, dirty: Callable[[str], bool]) -> bool:
    if frame.text is not None and dirty(frame.text):
        return True
    return frame.event is not None and _any_string(frame.event, dirty)


def _any_string(value: Any, dirty: Callable[[str], bool]) -> bool:
    if isinstance(value, str):
        return dirty(value)
    if isinstance(value, dict):
        return any(dirty(str(k)) or _any_string(v, dirty) for k, v in value.items())
    if isinstance(value, list):
        return any(_any_string(item, dirty) for item in value)
    return False
