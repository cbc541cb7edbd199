"""Twilio's request signature (``X-Twilio-Signature``): HMAC-SHA1 of the URL and the POST
parameters, keyed with the account's auth token, base64-encoded.

The signed text is the full URL Twilio requested (scheme, host, path and query) followed by each
POST parameter's name and value, sorted by name. Websocket upgrades are signed over the URL
alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

__all__ = ["twilio_signature", "valid_twilio_signature"]


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str] | None = None) -> str:
    """The signature Twilio sends for ``url`` with POST ``params``."""
    fields = params or {}
    text = url + "".join(f"{key}{fields[key]}" for key in sorted(fields))
    digest = hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def valid_twilio_signature(
    auth_token: str, url: str, params: Mapping[str, str] | None, signature: str | None
) -> bool:
    """Whether ``signature`` is Twilio's for this request (constant-time comparison)."""
    if not signature:
        return False
    expected = twilio_signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode(), signature.encode())
