"""Keeping secret values out of what a tool's failure tells the model, results and logs.

A tool's exception message is the one piece of text that leaves the runner unchecked by the
tool's author's intent: ``ValueError(f"bad key {key}")`` is easy to write. Before a message is
sent (or a traceback logged), every value of an environment variable whose *name* looks secret
(``XAI_API_KEY``, ``GITHUB_TOKEN``, ``DB_PASSWORD``...) is replaced by ``***``. Short values are
left alone: replacing ``"1"`` or ``"true"`` everywhere would garble messages and protect nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Final

__all__ = ["MIN_SECRET_CHARS", "REDACTED", "SecretScrubber", "looks_secret"]

REDACTED: Final = "***"
MIN_SECRET_CHARS: Final = 6
"""Values shorter than this are not treated as secrets, whatever their variable's name."""

_SECRET_NAME: Final = re.compile(
    r"KEY|TOKEN|SECRET|PASSW(?:OR)?D|PASSPHRASE|CREDENTIAL|AUTH|PRIVATE|COOKIE",
    re.IGNORECASE,
)


def looks_secret(name: str) -> bool:
    """Whether an environment variable's name suggests its value is a secret."""
    return _SECRET_NAME.search(name) is not None


class SecretScrubber:
    """Replaces known secret values in text.

    Args:
        secrets: the values to hide; longest first, so a secret containing another is hidden
            whole.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        unique = {value for value in secrets if len(value) >= MIN_SECRET_CHARS}
        self._secrets = tuple(sorted(unique, key=len, reverse=True))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SecretScrubber:
        """A scrubber for the secret-looking variables of ``environ`` (this process's env)."""
        environ = os.environ if environ is None else environ
        return cls(value for name, value in environ.items() if looks_secret(name))

    def __len__(self) -> int:
        return len(self._secrets)

    def scrub(self, text: str) -> str:
        """``text`` with every secret value replaced by ``***``."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text
