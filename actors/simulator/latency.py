"""The simulated model's response latency: how long after ``response.created`` audio starts.

Written as ``{mean_ms: 300, spread_ms: 100}`` ("300 ± 100 ms"), with a ``distribution``:
``uniform`` draws from [mean - spread, mean + spread], ``normal`` uses ``spread_ms`` as the
standard deviation, ``lognormal`` has median ``mean_ms`` and a right tail (``spread_ms`` is
roughly one standard deviation), like real model latencies. Draws are clamped to
[``min_ms``, ``max_ms``] and come from the session's seeded RNG, so runs are reproducible.
"""

from __future__ import annotations

import math
import random
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ResponseLatency"]


class ResponseLatency(BaseModel):
    """A distribution of the delay between ``response.created`` and the first output."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mean_ms: float = Field(default=300.0, ge=0, description="Centre of the distribution, ms.")
    spread_ms: float = Field(
        default=0.0, ge=0, description="Half-width (uniform) or standard deviation, ms."
    )
    distribution: Literal["uniform", "normal", "lognormal"] = Field(
        default="uniform", description="Shape of the distribution."
    )
    min_ms: float = Field(default=0.0, ge=0, description="Lower clamp, ms.")
    max_ms: float | None = Field(default=None, ge=0, description="Upper clamp, ms; unset: none.")

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.max_ms is not None and self.max_ms < self.min_ms:
            raise ValueError("max_ms must be >= min_ms")
        return self

    def sample_ms(self, rng: random.Random) -> float:
        """One draw, in milliseconds."""
        mean, spread = self.mean_ms, self.spread_ms
        if spread == 0:
            value = mean
        elif self.distribution == "uniform":
            value = rng.uniform(mean - spread, mean + spread)
        elif self.distribution == "normal":
            value = rng.gauss(mean, spread)
        else:
            # Median mean_ms; sigma chosen so the standard deviation is about spread_ms.
            sigma = math.sqrt(math.log(0.5 * (1 + math.sqrt(1 + 4 * (spread / max(mean, 1)) ** 2))))
            value = max(mean, 1.0) * math.exp(rng.gauss(0.0, sigma))
        value = max(self.min_ms, value)
        return value if self.max_ms is None else min(self.max_ms, value)
