"""Opaque identifiers in the shapes the live service uses (``item_<hex>``, ``resp_<hex>``...).

Clients must treat ids as opaque strings; 64 random bits make collisions between the events,
items and responses of any realistic run negligible without coordinating between connections.
"""

from __future__ import annotations

import secrets

__all__ = ["new_id"]


def new_id(prefix: str) -> str:
    """A fresh random id such as ``item_3f9a0c2b7d41e655``."""
    return f"{prefix}_{secrets.token_hex(8)}"
