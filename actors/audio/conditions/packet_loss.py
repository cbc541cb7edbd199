"""Packet loss on the caller's line, in 20 ms packets, with a phone network's concealment.

Two models. ``burst_frames: 1`` loses packets independently (Bernoulli at ``rate``). A longer
``burst_frames`` is the Gilbert-Elliott two-state chain the VoIP literature uses: in the
*good* state nothing is lost, in the *bad* state everything is; a loss burst lasts
``burst_frames`` packets on average (P(bad→good) = 1/burst) and the chain spends ``rate`` of
its time in the bad state (P(good→bad) = rate·r / (1 - rate)), so the long-run loss rate is
``rate`` either way.

Concealment, as a receiver would apply it: ``repeat`` plays the last packet received again,
faded (the first lost packet from full level to 2/3, the next to 1/3, then silence — G.711
Appendix I mutes after 60 ms the same way); ``silence`` plays nothing in place of a lost packet.
"""

from __future__ import annotations

from typing import Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from voxray.actors.audio.conditions.stream import FloatArray, Framed, float_array

__all__ = ["GilbertElliott", "PacketLossConfig", "PacketLossStage"]

PACKET_MS = 20
_FADE_PACKETS = 3


class PacketLossConfig(BaseModel):
    """Lost 20 ms packets: independent or in bursts, concealed or silent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate: float = Field(ge=0, lt=1, description="Long-run fraction of packets lost.")
    burst_frames: float = Field(
        1.0, ge=1, le=50, description="Mean packets per loss burst; 1 = independent losses."
    )
    concealment: Literal["repeat", "silence"] = Field(
        "repeat", description="repeat: the last packet again, fading out; silence: nothing."
    )

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if self.burst_frames > 1 and self.rate / (1 - self.rate) / self.burst_frames > 1:
            raise ValueError("rate too high for bursts that short (P(good→bad) would exceed 1)")
        return self


class GilbertElliott:
    """Which packets are lost: a seeded two-state Markov chain (see the module doc)."""

    def __init__(self, rate: float, burst_frames: float, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._independent = burst_frames <= 1.0
        self._rate = rate
        self._recover = 1.0 / burst_frames
        self._fall = rate * self._recover / (1.0 - rate) if rate < 1 else 1.0
        # Start in the stationary distribution, not always in the good state.
        self._bad = bool(self._rng.random() < rate)

    def lost(self) -> bool:
        """Whether the next packet is lost."""
        if self._independent:
            return bool(self._rng.random() < self._rate)
        self._bad = (
            bool(self._rng.random() >= self._recover)
            if self._bad
            else bool(self._rng.random() < self._fall)
        )
        return self._bad


class PacketLossStage:
    """Drops 20 ms packets and conceals them; counts what it did."""

    def __init__(self, config: PacketLossConfig, rate: int, seed: int) -> None:
        self._chain = GilbertElliott(config.rate, config.burst_frames, seed)
        self._repeat = config.concealment == "repeat"
        self._packet = rate * PACKET_MS // 1000
        self._last_good = float_array(self._packet)
        self._run = 0
        self.packets = 0
        self.lost = 0
        self._framed = Framed(self._packet, self._on_packet)

    def _on_packet(self, packet: FloatArray) -> FloatArray:
        self.packets += 1
        if not self._chain.lost():
            self._run = 0
            self._last_good = packet
            return packet
        self.lost += 1
        run, self._run = self._run, self._run + 1
        if not self._repeat or run >= _FADE_PACKETS:
            return float_array(packet.size)
        start, end = 1 - run / _FADE_PACKETS, 1 - (run + 1) / _FADE_PACKETS
        fade = np.linspace(start, end, packet.size, endpoint=False, dtype=np.float32)
        return self._last_good * fade

    def process(self, samples: FloatArray) -> FloatArray:
        return self._framed.process(samples)
