"""Short-lived signed tokens for the browser page's websocket.

``<expiry>.<signature>``: the expiry in Unix seconds and an HMAC-SHA256 of it, base64url, keyed
with the gateway's ``browser_secret``. ``voxray serve`` mints one into the page URL it prints;
a bearer token is the same string in an ``Authorization: Bearer`` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

__all__ = ["mint_token", "token_valid"]


def _sign(secret: str, expiry: int) -> str:
    digest = hmac.new(secret.encode(), f"voxray-browser:{expiry}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode("ascii").rstrip("=")


def mint_token(secret: str, ttl_s: float, *, now: float | None = None) -> str:
    """A token valid for ``ttl_s`` seconds from ``now``."""
    expiry = int((time.time() if now is None else now) + ttl_s)
    return f"{expiry}.{_sign(secret, expiry)}"


def token_valid(secret: str, token: str | None, *, now: float | None = None) -> bool:
    """Whether ``token`` was minted with ``secret`` and has not expired."""
    if not token or token.count(".") != 1 or len(token) > 200:
        return False
    expiry_text, signature = token.split(".")
    if not expiry_text.isdigit():
        return False
    expiry = int(expiry_text)
    if expiry < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(_sign(secret, expiry).encode(), signature.encode())
