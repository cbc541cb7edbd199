"""The supervisor's parts, one concept per module; :mod:`voxray.actors.supervisor` is the actor.

- :mod:`.admission`: caps per API key and per node, claimed atomically, queued fairly;
- :mod:`.placement`: which node hosts the next session (soft affinity);
- :mod:`.warm_pool`: idle session actors per node, refilled and recycled;
- :mod:`.liveness`: death and stall detection, clean stops;
- :mod:`.health`: what a session actor reports about itself;
- :mod:`.models` and :mod:`.settings`: what crosses the boundary, and the knobs.
"""

from voxray.actors.supervision.models import (
    DrainReport,
    JobStatus,
    LiveSessionInfo,
    NodeStatus,
    QuotaStatus,
    SessionTicket,
    SupervisorStatus,
)
from voxray.actors.supervision.settings import SupervisorSettings

__all__ = [
    "DrainReport",
    "JobStatus",
    "LiveSessionInfo",
    "NodeStatus",
    "QuotaStatus",
    "SessionTicket",
    "SupervisorSettings",
    "SupervisorStatus",
]
