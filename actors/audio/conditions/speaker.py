"""Who the caller is: espeak-ng's voice, speaking rate and pitch for every spoken turn.

espeak-ng ships accented English voices (``en-gb-scotland``, ``en-029`` Caribbean,
``en-gb-x-rp``, ``en-us-nyc``, ``en-gb-x-gbclan`` Lancashire, ``en-gb-x-gbcwmd`` West
Midlands), variants (``+f3``, ``+m2``) and rates from 80 to 450 words per minute; another
language's voice reading English gives a foreign accent (``fr-fr``, ``hi``, ``de``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SpeakerConfig", "SpokenVoice"]

_MIN_WPM, _MAX_WPM = 80, 450


class SpokenVoice(BaseModel):
    """The synthesis settings of one utterance."""

    model_config = ConfigDict(frozen=True)

    voice: str
    words_per_minute: int
    pitch: int = 50


class SpeakerConfig(BaseModel):
    """Overrides of the turns' own voice settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    voice: str | None = Field(None, description="espeak-ng voice replacing each turn's voice.")
    words_per_minute: int | None = Field(
        None, ge=_MIN_WPM, le=_MAX_WPM, description="Rate replacing each turn's rate."
    )
    rate_factor: float | None = Field(
        None, ge=0.4, le=3.0, description="Multiplies each turn's rate (kept within 80..450)."
    )
    pitch: int | None = Field(None, ge=0, le=100, description="Base pitch, 0..100 (50 normal).")

    def apply(self, voice: str, words_per_minute: int) -> SpokenVoice:
        """The settings a turn written with ``voice`` and ``words_per_minute`` is spoken with."""
        rate = self.words_per_minute if self.words_per_minute is not None else words_per_minute
        if self.rate_factor is not None:
            rate = round(rate * self.rate_factor)
        return SpokenVoice(
            voice=self.voice or voice,
            words_per_minute=min(_MAX_WPM, max(_MIN_WPM, rate)),
            pitch=50 if self.pitch is None else self.pitch,
        )
