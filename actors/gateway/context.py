"""What every ingress may use: the agents, the calls, the metrics, the settings, drain state."""

from __future__ import annotations

from dataclasses import dataclass

from voxray.actors.gateway.agents import AgentBook
from voxray.actors.gateway.calls import Calls, CallsState
from voxray.actors.gateway.metrics import GatewayMetrics
from voxray.actors.gateway.settings import GatewaySettings

__all__ = ["GatewayContext"]


@dataclass(frozen=True)
class GatewayContext:
    """Shared by the ingresses of one gateway.

    Attributes:
        settings: listening address, secrets, caps, inbound bounds.
        agents: the agent file's agents and their routing (``agents.route(...)``).
        calls: admission, opening a conversation per call (``await calls.open(...)``),
            refusals (``calls.refuse(...)``), drain, call records.
        metrics: the Prometheus figures (``calls`` updates most of them already).
    """

    settings: GatewaySettings
    agents: AgentBook
    calls: Calls
    metrics: GatewayMetrics

    @property
    def accepting(self) -> bool:
        """False once a drain began: ingresses answer new calls with a refusal (503)."""
        return self.calls.state is CallsState.RUNNING
