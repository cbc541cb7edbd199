"""Secrets that cross Ray calls by reference, never inside a task's arguments.

Why: whatever a Ray call is given (an actor's creation arguments, a method's or a task's) is
pickled into its task spec, which Ray keeps in the GCS (an actor's creation spec for as long as
the actor may restart) and shows through its state API and debugging tools. A pydantic
``SecretStr`` masks its value when printed, but pickled it ships the plain value. So before a
call, :func:`seal` swaps every ``SecretStr`` in the value (pydantic models, lists, tuples, dicts,
walked deeply) for a :class:`SealedSecret`: the value goes into Ray's object store once
(``ray.put``) and what travels is an ObjectRef *nested* in the model. (A top-level ObjectRef
argument would not do: Ray resolves it and inlines a small value into the task spec.) The
actor that receives it calls :func:`unseal` first thing, which fetches the values from their
owner and gives back plain ``SecretStr`` again; a plain value passes through unchanged, so
callers that do not seal still work.

Ownership: an object lives as long as the process that put it (its *owner*) lives. The driver
owns what it seals, which is right for calls it waits on (an eval job, a live session it holds).
An actor that outlives its caller (a detached gateway) unseals its configuration once, when it
starts, and keeps the values itself; when it must pass a secret on later (a gateway's quota,
claimed from the supervisor per call), it seals it again itself, so it owns that copy. None of
voxray's actors restarts (``max_restarts=0``), so none re-runs a constructor whose secrets might
be gone; a secret that cannot be fetched any more fails naming the cause
(:class:`~voxray.actors.errors.SecretLostError`), never with an empty key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import ray
from pydantic import BaseModel, SecretStr
from ray.exceptions import RayError
from voxray.actors.errors import SecretLostError

__all__ = ["SealedSecret", "seal", "unseal"]

T = TypeVar("T")


class SealedSecret(SecretStr):
    """A ``SecretStr`` whose value waits in Ray's object store; pickled, it is an ObjectRef.

    Reading it before :func:`unseal` is a programming error, raised at once rather than
    connecting with an empty key.
    """

    def __init__(self, ref: ray.ObjectRef[str]) -> None:
        super().__init__("")
        self.ref = ref

    @classmethod
    def put(cls, value: SecretStr, *, owner: Any | None = None) -> SealedSecret:
        """Seal ``value`` (owned by ``owner``, an actor handle, else by this process)."""
        return cls(ray.put(value.get_secret_value(), _owner=owner))

    def get_secret_value(self) -> str:
        raise RuntimeError(
            "a sealed secret is read with `await unseal(...)` in the actor that received it"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SealedSecret) and other.ref == self.ref

    def __hash__(self) -> int:
        return hash(self.ref)


def seal(value: T, *, owner: Any | None = None) -> T:
    """``value`` with every ``SecretStr`` in it sealed (one ``ray.put`` per distinct value);
    ``value`` itself when it holds none. ``owner``: the actor handle that owns the objects
    (default: this process)."""
    sealed: dict[str, SealedSecret] = {}

    def one(secret: SecretStr) -> SecretStr:
        if isinstance(secret, SealedSecret):
            return secret
        plain = secret.get_secret_value()
        if plain not in sealed:
            sealed[plain] = SealedSecret.put(secret, owner=owner)
        return sealed[plain]

    result: T = _rebuild(value, one)
    return result


async def unseal(value: T, *, what: str = "a secret") -> T:
    """``value`` with every :class:`SealedSecret` in it fetched back into a plain
    ``SecretStr``; ``value`` itself when it holds none.

    Raises:
        SecretLostError: a value could not be fetched (its owner ended); ``what`` names it in
            the message ("the API key of session s-1").
    """
    refs = list(dict.fromkeys(secret.ref for secret in _sealed_in(value)))
    if not refs:
        return value
    try:
        values: list[str] = await asyncio.gather(*refs)
    except RayError as error:
        raise SecretLostError(
            f"{what} could not be read: the process that sent it ended before it was read "
            f"({type(error).__name__}); run it again from a live driver"
        ) from None
    opened = {ref: SecretStr(plain) for ref, plain in zip(refs, values, strict=True)}

    def one(secret: SecretStr) -> SecretStr:
        return opened[secret.ref] if isinstance(secret, SealedSecret) else secret

    result: T = _rebuild(value, one)
    return result


def _sealed_in(value: object) -> Iterator[SealedSecret]:
    if isinstance(value, SealedSecret):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _sealed_in(getattr(value, name))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _sealed_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _sealed_in(item)


def _rebuild(value: Any, swap: Callable[[SecretStr], SecretStr]) -> Any:
    """``value`` with each ``SecretStr`` in it replaced by ``swap(secret)``; the same object
    wherever nothing changed (frozen models are copied with the changed fields only)."""
    if isinstance(value, SecretStr):
        return swap(value)
    if isinstance(value, BaseModel):
        changes = {}
        for name in type(value).model_fields:
            field = getattr(value, name)
            rebuilt = _rebuild(field, swap)
            if rebuilt is not field:
                changes[name] = rebuilt
        return value.model_copy(update=changes) if changes else value
    if isinstance(value, list | tuple):
        items = [_rebuild(item, swap) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return value._make(items) if hasattr(value, "_make") else type(value)(items)
    if isinstance(value, dict):
        entries = {key: _rebuild(item, swap) for key, item in value.items()}
        if all(entries[key] is item for key, item in value.items()):
            return value
        return type(value)(entries)
    return value
