"""The gateway's Prometheus figures, in a registry of its own (no process-global state).

Served at ``/metrics``. Names follow Prometheus conventions (``_total`` counters, ``_seconds``
histograms); labels are bounded sets (ingress names, agent names from the agent file, refusal
causes, tool names declared by the agents), so a caller cannot grow them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "GatewayMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_FIRST_AUDIO_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
_TOOL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class GatewayMetrics:
    """Every figure ``/metrics`` shows, for one gateway."""

    def __init__(self, node_id: str = "local") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.node_id = node_id
        self.calls_live = Gauge(
            "voxray_calls_live", "Calls in progress.", ["ingress", "agent"], registry=self.registry
        )
        self.calls_total = Counter(
            "voxray_calls", "Calls accepted.", ["ingress", "agent"], registry=self.registry
        )
        self.calls_ended = Counter(
            "voxray_calls_ended",
            "Calls ended, by how they ended.",
            ["ingress", "agent", "status"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "voxray_call_refusals",
            "Calls or requests refused, by cause.",
            ["ingress", "cause"],
            registry=self.registry,
        )
        self.first_audio = Histogram(
            "voxray_first_agent_audio_seconds",
            "From a call's arrival to the first agent audio sent to the caller.",
            ["ingress", "agent"],
            buckets=_FIRST_AUDIO_BUCKETS,
            registry=self.registry,
        )
        self.barge_ins = Counter(
            "voxray_barge_ins", "Caller barge-ins.", ["ingress", "agent"], registry=self.registry
        )
        self.tool_latency = Histogram(
            "voxray_tool_call_seconds",
            "Function call latency.",
            ["agent", "tool"],
            buckets=_TOOL_BUCKETS,
            registry=self.registry,
        )
        self.tool_errors = Counter(
            "voxray_tool_errors",
            "Function calls that ended in an error, by type.",
            ["agent", "tool", "error_type"],
            registry=self.registry,
        )
        self.sessions_per_node = Gauge(
            "voxray_sessions",
            "Live conversations hosted, per node.",
            ["node"],
            registry=self.registry,
        )
        self.draining = Gauge(
            "voxray_gateway_draining", "1 while the gateway drains.", registry=self.registry
        )

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
