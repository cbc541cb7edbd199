"""Base classes shared by every wire model of the xAI realtime protocol.

Two vocabularies, two bases:

- :class:`InboundModel` is what a client *receives* (server events). It ignores unknown fields,
  because the provider adds fields without notice and a new field must never end a session.
- :class:`OutboundModel` is what a client *sends* (client events, session parameters, items). It
  forbids unknown fields so a typo in our own code fails at construction. The simulator parses the
  same models from real third-party clients, which send extra OpenAI fields; validating with the
  context ``{"lenient": True}`` drops undeclared keys instead of rejecting them.

Serialization sends only what was set: a field explicitly set to ``None`` goes out as ``null``
(``turn_detection: null`` means manual turns), an unset field is omitted. Constant markers such
as ``type`` are always sent, even though they have defaults (see ``emit_defaults``).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Final, Literal

from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    ConfigDict,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    model_serializer,
    model_validator,
)
from voxray.actors.errors import ProtocolError

__all__ = [
    "LENIENT",
    "EventParseError",
    "InboundModel",
    "OutboundModel",
    "ParseFailure",
    "excerpt",
    "load_json_object",
    "validation_error_to_protocol_error",
]

LENIENT: Final[dict[str, Any]] = {"lenient": True}
"""Validation context that makes :class:`OutboundModel` drop keys it does not declare."""

_EXCERPT_CHARS: Final = 120

ParseFailure = Literal["json", "not_object", "missing_type", "unknown_type", "invalid_payload"]


class EventParseError(ProtocolError):
    """A wire frame that could not be turned into a typed event.

    Attributes:
        reason: which check failed: ``json`` (not JSON), ``not_object``, ``missing_type``,
            ``unknown_type`` or ``invalid_payload`` (a known type whose fields are wrong).
        event_type: the frame's ``type`` when it had a string one, else ``None``.
        event_id: the frame's ``event_id`` when it had a string one, so a server can echo it in
            ``error.event_id``.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: ParseFailure,
        event_type: str | None = None,
        event_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason: ParseFailure = reason
        self.event_type = event_type
        self.event_id = event_id


def excerpt(raw: str | bytes | dict[str, Any] | Any, limit: int = _EXCERPT_CHARS) -> str:
    """A short, single-line rendering of ``raw`` for error messages (never the whole frame)."""
    if isinstance(raw, bytes | bytearray):
        text = bytes(raw[: limit * 4]).decode("utf-8", errors="replace")
    elif isinstance(raw, str):
        text = raw[: limit * 4]
    else:
        text = repr(raw)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load_json_object(raw: str | bytes | dict[str, Any]) -> dict[str, Any] | None:
    """The frame as a dict, or ``None`` when it is not a JSON object. Only used on error paths."""
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def validation_error_to_protocol_error(
    error: ValidationError, raw: str | bytes | dict[str, Any], *, direction: str
) -> EventParseError:
    """Map a failed validation of a discriminated event union to one clear :class:`ProtocolError`.

    ``direction`` ("server" or "client") is only used in the message.
    """
    first = error.errors(include_url=False)[0]
    kind = first["type"]
    obj = load_json_object(raw) if kind != "json_invalid" else None
    event_type = obj.get("type") if obj is not None else None
    event_id = obj.get("event_id") if obj is not None else None
    type_str = event_type if isinstance(event_type, str) else None
    id_str = event_id if isinstance(event_id, str) else None
    shown = excerpt(raw)
    if kind == "json_invalid":
        return EventParseError(
            f"malformed JSON in {direction} event ({first['msg']}): {shown}", reason="json"
        )
    if obj is None:
        return EventParseError(
            f"{direction} event is not a JSON object: {shown}", reason="not_object"
        )
    if type_str is None:
        return EventParseError(
            f"{direction} event has no string 'type' field: {shown}",
            reason="missing_type",
            event_id=id_str,
        )
    if kind == "union_tag_invalid" and not first["loc"]:  # nested unions (tools) fail deeper
        return EventParseError(
            f"unknown {direction} event type {type_str!r}",
            reason="unknown_type",
            event_type=type_str,
            event_id=id_str,
        )
    problems = []
    for detail in error.errors(include_url=False)[:3]:
        # The first location element is the union tag; the rest is the path inside the event.
        path = ".".join(str(part) for part in detail["loc"][1:]) or "(event)"
        problems.append(f"field {path!r}: {detail['msg']}")
    more = f" (+{error.error_count() - 3} more)" if error.error_count() > 3 else ""
    return EventParseError(
        f"invalid {type_str!r} {direction} event: {'; '.join(problems)}{more}",
        reason="invalid_payload",
        event_type=type_str,
        event_id=id_str,
    )


class _WireModel(BaseModel):
    """Sends constant markers (``type``, ``object``, ...) even when left at their default."""

    emit_defaults: ClassVar[tuple[str, ...]] = ("type",)
    """Fields serialized even when unset, so ``exclude_unset`` never drops a wire constant."""

    _emit_defaults_resolved: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._emit_defaults_resolved = frozenset(
            name
            for name in cls.emit_defaults
            if name in cls.model_fields and cls.model_fields[name].default is not None
        )

    # Done at serialization, not in __init__: a custom __init__ makes pydantic route every
    # parse through Python (slow) and loses the validation context.
    @model_serializer(mode="wrap")
    def _emit_wire_constants(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        data = handler(self)
        forced = self._emit_defaults_resolved
        if not forced or not info.exclude_unset or forced <= self.__pydantic_fields_set__:
            return data
        if not isinstance(data, dict):  # pragma: no cover - models always serialize to dicts
            return data
        ordered: dict[str, Any] = {}
        for name in type(self).model_fields:
            if name in data:
                ordered[name] = data.pop(name)
            elif name in forced:
                ordered[name] = getattr(self, name)
        ordered.update(data)
        return ordered


class InboundModel(_WireModel):
    """Base of what a client receives: unknown fields are ignored, never an error."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class OutboundModel(_WireModel):
    """Base of what a client sends: unknown fields are rejected unless parsing leniently.

    Subclasses may override :meth:`_normalize_wire` to accept an equivalent wire spelling
    (e.g. the nested function-tool form); it runs before the unknown-key check in both modes.
    """

    model_config = ConfigDict(extra="forbid")

    _declared_keys: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        keys: set[str] = set()
        for name, field in cls.model_fields.items():
            keys.add(name)
            if field.alias:
                keys.add(field.alias)
            alias = field.validation_alias
            choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
            for choice in choices:
                if isinstance(choice, str):
                    keys.add(choice)
                elif isinstance(choice, AliasPath) and isinstance(choice.path[0], str):
                    keys.add(choice.path[0])
        cls._declared_keys = frozenset(keys)

    @classmethod
    def _normalize_wire(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Rewrite an accepted alternative wire spelling into the declared one."""
        return data

    @model_validator(mode="before")
    @classmethod
    def _accept_wire_variants(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        data = cls._normalize_wire(data)
        context = info.context
        if context and context.get("lenient"):
            declared = cls._declared_keys
            if any(key not in declared for key in data):
                data = {key: value for key, value in data.items() if key in declared}
        return data

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict to send: set fields only, explicit ``None`` kept as ``null``."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def to_json(self) -> str:
        """The compact JSON text of :meth:`to_wire`."""
        return self.model_dump_json(by_alias=True, exclude_unset=True)
