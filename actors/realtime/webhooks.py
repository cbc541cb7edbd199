"""Standard Webhooks signatures: how xAI signs ``realtime.call.incoming`` and how we check it.

The scheme (standardwebhooks.com), implemented here with :mod:`hmac` and :mod:`hashlib`:

- three headers: ``webhook-id`` (unique per message, the same on a retry), ``webhook-timestamp``
  (unix seconds) and ``webhook-signature``;
- the signature is ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed with the
  secret's bytes; the header may carry several space-separated signatures (during a secret
  rotation), and one valid ``v1`` signature is enough;
- the secret is written ``whsec_<base64>``.

:class:`WebhookVerifier` adds what a receiver must do beyond the signature: refuse timestamps
outside a tolerance (five minutes, either way), and refuse a message id it has already accepted
(a replay), remembered in a bounded set that forgets ids once their timestamp is too old to pass
anyway. Every refusal is a :class:`WebhookRejected` naming its cause; the secret never appears
in one. The simulator signs with :func:`sign_webhook`, so both sides share this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Final

from pydantic import SecretStr
from voxray.actors.errors import ConfigError, WebhookRejected

__all__ = [
    "SECRET_PREFIX",
    "WebhookVerifier",
    "decode_secret",
    "sign_webhook",
    "webhook_headers",
]

SECRET_PREFIX: Final = "whsec_"
_TOLERANCE_S: Final = 300.0
_MAX_SEEN: Final = 100_000
_MAX_ID_CHARS: Final = 256
_MAX_SIGNATURES: Final = 16


def decode_secret(secret: str | SecretStr) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret (the prefix is optional).

    Raises:
        ConfigError: the secret is empty or not base64 (the message never shows the secret).
    """
    text = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    body = text.strip().removeprefix(SECRET_PREFIX)
    try:
        # Unpadded base64 is common in the wild; surplus padding is ignored by the decoder.
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(
            "the webhook secret is not 'whsec_' followed by base64", location="webhook secret"
        ) from None
    if not key:
        raise ConfigError("the webhook secret is empty", location="webhook secret")
    return key


def sign_webhook(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) of one message."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def webhook_headers(key: bytes, message_id: str, body: bytes, *, timestamp: int) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, signed with ``key``."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_webhook(key, message_id, timestamp, body),
    }


class WebhookVerifier:
    """Checks signature, timestamp and replay of incoming webhooks.

    Args:
        secret: the ``whsec_…`` signing secret.
        tolerance_s: how far a timestamp may be from now, either way.
        max_seen: message ids remembered for replay detection; past that the oldest go first
            (an id older than the tolerance is refused as stale anyway).
        clock: wall-clock seconds (injected for tests).
    """

    def __init__(
        self,
        secret: str | SecretStr,
        *,
        tolerance_s: float = _TOLERANCE_S,
        max_seen: int = _MAX_SEEN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = decode_secret(secret)
        self._tolerance_s = tolerance_s
        self._max_seen = max_seen
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # id -> its timestamp, oldest first

    def __repr__(self) -> str:
        return f"WebhookVerifier(tolerance_s={self._tolerance_s:g}, seen={len(self._seen)})"

    @property
    def remembered(self) -> int:
        """Message ids held for replay detection now."""
        return len(self._seen)

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Check one webhook; returns its message id (the caller's idempotency key).

        The id is remembered only when everything else passed, so a forged message cannot
        block the genuine one that carries the same id.

        Raises:
            WebhookRejected: a header is missing, the id is too long to be one, the
                timestamp is malformed or out of tolerance, no signature matches, or the id
                was accepted before.
        """
        lowered = {name.lower(): value for name, value in headers.items()}
        message_id = lowered.get("webhook-id", "").strip()
        stamp = lowered.get("webhook-timestamp", "").strip()
        signatures = lowered.get("webhook-signature", "").strip()
        missing = [
            name
            for name, value in (
                ("webhook-id", message_id),
                ("webhook-timestamp", stamp),
                ("webhook-signature", signatures),
            )
            if not value
        ]
        if missing:
            raise WebhookRejected(f"missing {', '.join(missing)}", cause="missing_headers")
        if len(message_id) > _MAX_ID_CHARS:
            raise WebhookRejected(
                f"webhook-id is {len(message_id)} characters (at most {_MAX_ID_CHARS})",
                cause="invalid_id",
            )
        if not stamp.isdigit() or len(stamp) > 12:
            raise WebhookRejected("webhook-timestamp is not unix seconds", cause="bad_timestamp")
        timestamp = int(stamp)
        now = self._clock()
        if timestamp < now - self._tolerance_s:
            raise WebhookRejected(
                f"webhook-timestamp is {now - timestamp:.0f} s old "
                f"(tolerance {self._tolerance_s:g} s)",
                cause="stale",
            )
        if timestamp > now + self._tolerance_s:
            raise WebhookRejected(
                f"webhook-timestamp is {timestamp - now:.0f} s in the future "
                f"(tolerance {self._tolerance_s:g} s)",
                cause="future",
            )
        expected = sign_webhook(self._key, message_id, timestamp, body).encode()
        offered = signatures.split()[:_MAX_SIGNATURES]
        if not any(
            candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected)
            for candidate in offered
        ):
            raise WebhookRejected("no webhook-signature matches", cause="bad_signature")
        self._forget_expired(now)
        if message_id in self._seen:
            raise WebhookRejected(f"webhook-id {message_id!r} was seen before", cause="replayed")
        self._seen[message_id] = float(timestamp)
        while len(self._seen) > self._max_seen:
            self._seen.popitem(last=False)
        return message_id

    def _forget_expired(self, now: float) -> None:
        # Ids arrive roughly in timestamp order; an id whose timestamp is past the tolerance
        # cannot pass the staleness check again, so remembering it is useless.
        horizon = now - self._tolerance_s
        while self._seen:
            oldest_id, oldest_ts = next(iter(self._seen.items()))
            if oldest_ts >= horizon:
                return
            del self._seen[oldest_id]
