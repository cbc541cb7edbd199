"""What the replayed connections of one script found, for the driver to ask after a run.

A divergence is sent to the client in-band (an ``error`` event), but a client that hangs up
first (it ended before sending everything recorded) cannot be told. The ledger keeps every
connection's verdict; ``GET /v1/sim/replay`` (with the run's own token) answers them once no
replayed connection of the script is open any more, so the driver can fail such a run.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Final

__all__ = ["ReplayLedger"]

_KEPT: Final = 100


class ReplayLedger:
    """Open replayed connections of one script and the divergences they ended with."""

    def __init__(self) -> None:
        self.divergences: deque[str] = deque(maxlen=_KEPT)
        self.replayed = 0
        self._open = 0
        self._settled = asyncio.Event()
        self._settled.set()

    def opened(self) -> None:
        """A replayed connection started."""
        self._open += 1
        self.replayed += 1
        self._settled.clear()

    def closed(self, divergence: str | None) -> None:
        """A replayed connection ended, with the divergence it found (None: it matched)."""
        if divergence is not None:
            self.divergences.append(divergence)
        self._open = max(0, self._open - 1)
        if self._open == 0:
            self._settled.set()

    async def settled(self, timeout_s: float) -> bool:
        """Until no replayed connection is open (at most ``timeout_s``); whether none is."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._settled.wait()
        except TimeoutError:
            return False
        return True
