"""The interface of a caller ingress, and the registry the gateway builds its app from.

An ingress is one way for callers to reach agents (Twilio Media Streams, the browser page, xAI
SIP webhooks). It is a class in its own module under :mod:`voxray.actors.gateway` that:

1. takes the shared :class:`~voxray.actors.gateway.context.GatewayContext` in its constructor
   (agents and routing, ``calls.open(...)`` for admission and a conversation per call,
   ``calls.refuse(...)`` for a counted, logged refusal, metrics, settings, drain state);
2. has a ``name`` (``"twilio"``, ``"browser"``, ``"sip"``): the ``ingress`` label of metrics,
   call records and agent routes;
3. returns its aiohttp routes from :meth:`Ingress.routes` (paths under its own prefix, e.g.
   ``/twilio/...``, ``/sip/...``), and describes where it listens with :meth:`Ingress.describe`
   (the lines ``voxray serve`` prints).

To add one, write the module and add ONE line to :data:`INGRESSES` below, e.g.::

    "sip": lazy("voxray.actors.gateway.sip", "SipIngress"),

(a factory, so an ingress's imports load only when the gateway starts). Conventions every
ingress follows: refuse with ``calls.refuse(ingress, cause, message)`` (never hang); answer
503 while ``not context.accepting``; bound what a caller can send (``settings.max_message_bytes``,
``settings.max_messages_per_s``); never let one caller's request reach another caller's call
(a call is found only through the socket or signed request that opened it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol

from aiohttp import web
from voxray.actors.gateway.context import GatewayContext

__all__ = ["INGRESSES", "Ingress", "IngressFactory", "build_ingresses", "lazy"]


class Ingress(Protocol):
    """One way in for callers; see the module docstring."""

    name: str

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp routes this ingress serves."""
        ...

    def describe(self, base_url: str) -> list[str]:
        """Human lines saying where it listens, given the gateway's base URL."""
        ...


IngressFactory = Callable[[GatewayContext], Ingress]


def lazy(module: str, class_name: str) -> IngressFactory:
    """A factory that imports ``module`` and builds ``class_name(context)`` when called."""

    def build(context: GatewayContext) -> Ingress:
        ingress: Ingress = getattr(importlib.import_module(module), class_name)(context)
        return ingress

    return build


INGRESSES: dict[str, IngressFactory] = {
    "twilio": lazy("voxray.actors.gateway.twilio", "TwilioIngress"),
    "browser": lazy("voxray.actors.gateway.browser", "BrowserIngress"),
    "sip": lazy("voxray.actors.gateway.sip", "SipIngress"),
}
"""Every ingress the gateway serves, by name: one line each."""


def build_ingresses(context: GatewayContext) -> list[Ingress]:
    """One instance of every registered ingress."""
    return [factory(context) for factory in INGRESSES.values()]
