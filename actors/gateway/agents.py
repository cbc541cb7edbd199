"""Hosted agents and how a call is routed to one.

The runtime side of an agent file: the driver validates the YAML
(:mod:`voxray.serve.agents`) and hands the gateway an :class:`AgentBook`. An agent is the
same :class:`~voxray.actors.conversation.agent.AgentConfig` a suite scenario uses, plus a
greeting and its routes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from voxray.actors.conversation.agent import AgentConfig

__all__ = ["INGRESS_NAMES", "AgentBook", "AgentRoutes", "HostedAgent"]

IngressName = Literal["twilio", "browser", "sip"]
INGRESS_NAMES: tuple[str, ...] = ("twilio", "browser", "sip")


class AgentRoutes(BaseModel):
    """Which calls reach an agent. An agent with no routes at all takes every ingress."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ingresses: tuple[IngressName, ...] = Field(
        (), description="Ingresses that may reach this agent (empty: all)."
    )
    numbers: tuple[str, ...] = Field(
        (),
        description="Called numbers (E.164, e.g. +15551234567) routed here: Twilio's `To`, "
        "the SIP `To` header.",
    )
    default: bool = Field(
        False, description="The agent a call gets when nothing else picks one (one at most)."
    )


class HostedAgent(BaseModel):
    """One named agent the gateway can put a caller through to."""

    model_config = ConfigDict(frozen=True)

    name: str
    agent: AgentConfig
    greeting: str | None = Field(None, description="Said first, verbatim, when a call starts.")
    routes: AgentRoutes = Field(default_factory=AgentRoutes)

    def takes(self, ingress: str) -> bool:
        """Whether ``ingress`` may reach this agent."""
        return not self.routes.ingresses or ingress in self.routes.ingresses


class AgentBook:
    """The agents of one agent file, and the routing rules between them.

    A call picks its agent, in order: by the name it asks for (Twilio ``customParameters``
    ``agent``, the browser page's choice), by the number it called, else the default agent
    (the one marked ``default``, or the only agent that takes the ingress).
    """

    def __init__(self, agents: Sequence[HostedAgent]) -> None:
        self._agents = {agent.name: agent for agent in agents}

    @property
    def names(self) -> list[str]:
        """Agent names, in file order."""
        return list(self._agents)

    def __getitem__(self, name: str) -> HostedAgent:
        return self._agents[name]

    def agents(self) -> list[HostedAgent]:
        """Every agent, in file order."""
        return list(self._agents.values())

    def route(
        self, ingress: str, *, name: str | None = None, number: str | None = None
    ) -> HostedAgent | None:
        """The agent for a call on ``ingress``; None when no agent fits (the call is refused)."""
        if name:
            agent = self._agents.get(name)
            return agent if agent is not None and agent.takes(ingress) else None
        candidates = [agent for agent in self._agents.values() if agent.takes(ingress)]
        if number:
            wanted = _normal_number(number)
            for agent in candidates:
                if wanted in {_normal_number(n) for n in agent.routes.numbers}:
                    return agent
        defaults = [agent for agent in candidates if agent.routes.default]
        if defaults:
            return defaults[0]
        return candidates[0] if len(candidates) == 1 else None

    def to_mapping(self) -> Mapping[str, HostedAgent]:
        """Name -> agent."""
        return dict(self._agents)


def _normal_number(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit() or ch == "+")
