"""A typed face for Ray's untyped decorators (Ray is configured as untyped for mypy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import ray

__all__ = ["ray_method"]

_F = TypeVar("_F", bound=Callable[..., Any])


def ray_method(**options: Any) -> Callable[[_F], _F]:
    """``@ray.method(**options)`` that keeps the decorated function's type."""
    decorator: Callable[[_F], _F] = ray.method(**options)
    return decorator
