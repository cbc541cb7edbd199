"""xAI's ``replace`` session option: say a substitute instead of a phrase, keep the transcript.

Matching follows the reference (§3): case-insensitive, whole words, the longest phrase wins.
Only the audio changes; the transcript keeps the written text. :func:`spoken_form` returns the
text to synthesise together with a map from its offsets back to the written text's, so word
timings measured on the spoken audio still place each written word (a replaced phrase counts
as one word that starts where its substitute starts).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["OffsetMap", "spoken_form"]


@dataclass(frozen=True)
class OffsetMap:
    """Maps offsets in the spoken text to offsets in the written text."""

    spoken_starts: tuple[int, ...]
    text_starts: tuple[int, ...]
    replaced: tuple[bool, ...]

    def to_text(self, spoken_offset: int) -> int:
        """The written offset of ``spoken_offset`` (a replaced phrase maps to its start)."""
        if not self.spoken_starts:
            return spoken_offset
        index = max(0, bisect.bisect_right(self.spoken_starts, spoken_offset) - 1)
        start = self.text_starts[index]
        if self.replaced[index]:
            return start
        return start + spoken_offset - self.spoken_starts[index]


def spoken_form(text: str, replace: Mapping[str, str] | None) -> tuple[str, OffsetMap]:
    """The text to synthesise for ``text`` under ``replace``, and the offset map back."""
    phrases = [phrase for phrase in (replace or {}) if phrase.strip()]
    if not phrases:
        return text, OffsetMap((), (), ())
    lookup = {phrase.lower(): spoken for phrase, spoken in (replace or {}).items()}
    ordered = sorted(phrases, key=len, reverse=True)  # longest match wins
    pattern = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(p) for p in ordered) + r")(?!\w)", re.IGNORECASE
    )
    pieces: list[str] = []
    spoken_starts: list[int] = []
    text_starts: list[int] = []
    replaced: list[bool] = []
    spoken_len = 0
    cursor = 0

    def add(piece: str, text_start: int, is_replacement: bool) -> None:
        nonlocal spoken_len
        spoken_starts.append(spoken_len)
        text_starts.append(text_start)
        replaced.append(is_replacement)
        pieces.append(piece)
        spoken_len += len(piece)

    for match in pattern.finditer(text):
        if match.start() > cursor:
            add(text[cursor : match.start()], cursor, False)
        add(lookup.get(match.group(0).lower(), match.group(0)), match.start(), True)
        cursor = match.end()
    if not replaced:
        return text, OffsetMap((), (), ())
    if cursor < len(text):
        add(text[cursor:], cursor, False)
    return "".join(pieces), OffsetMap(tuple(spoken_starts), tuple(text_starts), tuple(replaced))
