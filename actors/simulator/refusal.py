"""How a simulated handler refuses a client event: raise :class:`Refusal`.

The protocol layer turns it into one ``error`` event (echoing the client's ``event_id``) and the
session stays open, as most errors leave it on the live service (protocol reference §7).
"""

from __future__ import annotations

__all__ = ["Refusal"]


class Refusal(Exception):
    """A client event the simulator answers with ``error{type, code, message, param}``.

    Internal control flow, never raised out of the simulator, hence not a ``VoxrayError``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        error_type: str = "invalid_request_error",
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.error_type = error_type
        self.param = param
