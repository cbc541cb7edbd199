"""The ``realtime.call.incoming`` webhook: an inbound SIP call waiting for a session to attach.

xAI posts it (signed, see :mod:`~voxray.actors.realtime.webhooks`) when a phone call reaches
the team's SIP number::

    {"object": "event", "id": "evt_…", "type": "realtime.call.incoming", "created_at": 1760000000,
     "data": {"call_id": "rtc_…",
              "sip_headers": [{"name": "From", "value": "<sip:+15550100@…>;tag=…"},
                              {"name": "To", "value": "<sip:+15550199@…>"}, …]}}

A session then opens ``/v1/realtime?call_id=<call_id>`` with the API key and drives the call
with events; the audio stays between the phone network and xAI. The model is lenient like every
inbound wire model: unknown fields are ignored, and ``sip_headers`` is accepted as a list of
``{name, value}`` pairs (the documented shape) or as a plain ``{name: value}`` object.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from voxray.actors.errors import ProtocolError

__all__ = [
    "CALL_INCOMING",
    "CallIncomingData",
    "RealtimeCallIncoming",
    "SipHeader",
    "parse_call_incoming",
    "sip_number",
]

CALL_INCOMING: Final = "realtime.call.incoming"
_MAX_CALL_ID_CHARS: Final = 128
_CALL_ID: Final = re.compile(r"^[A-Za-z0-9_\-.:]+$")
_SIP_USER: Final = re.compile(r"(?:sips?|tel):([^@;>\s]+)", re.IGNORECASE)


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SipHeader(_Inbound):
    """One header of the SIP INVITE (untrusted call metadata)."""

    name: str
    value: str


class CallIncomingData(_Inbound):
    """The call: its id (to attach with) and the INVITE's headers."""

    call_id: str = Field(min_length=1, max_length=_MAX_CALL_ID_CHARS)
    sip_headers: tuple[SipHeader, ...] = ()

    @field_validator("call_id")
    @classmethod
    def _url_safe(cls, call_id: str) -> str:
        # It goes into a URL query and into log lines: refuse anything but an id's characters.
        if not _CALL_ID.match(call_id):
            raise ValueError("call_id has characters an id never has")
        return call_id

    @field_validator("sip_headers", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return [{"name": str(k), "value": str(v)} for k, v in value.items()]
        return value if value is not None else ()

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((h.value for h in self.sip_headers if h.name.lower() == wanted), None)

    @property
    def caller(self) -> str | None:
        """Who is calling: the user part of ``From`` (e.g. ``+15550100``)."""
        return sip_number(self.header("From"))

    @property
    def called(self) -> str | None:
        """Which number was dialled: the user part of ``To``."""
        return sip_number(self.header("To"))


class RealtimeCallIncoming(_Inbound):
    """The webhook event announcing an inbound SIP call."""

    type: Literal["realtime.call.incoming"]
    id: str | None = None
    object: str | None = None
    created_at: int | float | None = None
    data: CallIncomingData


def sip_number(header_value: str | None) -> str | None:
    """The user part of a SIP/tel URI in a header value: ``"Bob" <sip:+1555@host>`` → ``+1555``."""
    if not header_value:
        return None
    found = _SIP_USER.search(header_value)
    return found.group(1) if found else None


def parse_call_incoming(body: bytes) -> RealtimeCallIncoming:
    """Parse a webhook body.

    Raises:
        ProtocolError: not JSON, not a ``realtime.call.incoming`` event, or a field is wrong
            (the message names which).
    """
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(f"the webhook body is not JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ProtocolError("the webhook body is not a JSON object")
    kind = raw.get("type")
    if kind != CALL_INCOMING:
        raise ProtocolError(f"unexpected webhook type {str(kind)[:60]!r}; expected {CALL_INCOMING}")
    try:
        return RealtimeCallIncoming.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ProtocolError(f"invalid {CALL_INCOMING} body: {where}: {first['msg']}") from None
