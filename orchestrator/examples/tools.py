"""Example function tools. They return fake, deterministic data and call no service.

They exist to show how a tool is written (a typed signature and a Google-style docstring are all
voxray needs to describe it to the model) and to give the smoke suite something to call. Refer to
them as ``voxray.examples.tools:get_weather`` and
``voxray.examples.tools:lookup_order``.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Final, Literal

__all__ = ["get_weather", "lookup_order"]

_CONDITIONS: Final = ("sunny", "partly cloudy", "overcast", "light rain", "windy", "snow")
_ORDER_STATUSES: Final = ("processing", "shipped", "out for delivery", "delivered")


def _digest(text: str) -> bytes:
    # A stable hash (unlike hash()), so the same input gives the same fake answer in every run.
    return hashlib.sha256(text.strip().lower().encode("utf-8")).digest()


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, object]:
    """Get the current weather for a city (example tool: fake, deterministic data).

    Args:
        city: Name of the city, e.g. "Lisbon".
        unit: Temperature unit of the answer.
    """
    digest = _digest(city)
    celsius = digest[0] % 41 - 5  # -5 .. 35 °C
    conditions = _CONDITIONS[digest[1] % len(_CONDITIONS)]
    if conditions == "snow" and celsius > 2:
        conditions = "light rain"
    temperature = celsius if unit == "celsius" else round(celsius * 9 / 5 + 32)
    return {
        "city": city,
        "temperature": temperature,
        "unit": unit,
        "conditions": conditions,
        "humidity_pct": 30 + digest[2] % 65,
        "source": "voxray example tool (fake data)",
    }


async def lookup_order(order_id: str) -> dict[str, object]:
    """Look up the status of an order by its id (example tool: fake, deterministic data).

    Args:
        order_id: The order number the caller gives, e.g. "A-1042".
    """
    order_id = order_id.strip()
    if not order_id:
        raise ValueError("order_id must not be empty")
    await asyncio.sleep(0)  # an async tool: a real one would await an HTTP request here
    digest = _digest(order_id)
    status = _ORDER_STATUSES[digest[0] % len(_ORDER_STATUSES)]
    return {
        "order_id": order_id,
        "status": status,
        "items": 1 + digest[1] % 4,
        "eta_days": 0 if status == "delivered" else 1 + digest[2] % 5,
        "source": "voxray example tool (fake data)",
    }
