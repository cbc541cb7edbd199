"""The regexes a simulator script matches with (``heard:``, ``instructions:``, a judge rule's
``rubric:`` and ``transcript:``): case-insensitive, checked when the script is validated."""

from __future__ import annotations

import re

__all__ = ["checked_pattern"]


def checked_pattern(value: str | None) -> str | None:
    """``value`` unchanged, once it compiles as a case-insensitive regex (``None`` passes).

    Raises:
        ValueError: ``not a valid regex: <why>`` (pydantic names the field).
    """
    if value is not None:
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"not a valid regex: {exc}") from exc
    return value
