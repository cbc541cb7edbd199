"""Typed clients of voxray's actors: the driver's only way to call them.

One facade per actor kind, as Ray's own ``ray.util.queue.Queue`` wraps its private actor: each
client is the only place that calls ``.remote()`` on its actor and the only place where Ray's
errors about it (``RayActorError``, ``ActorDiedError``, ``GetTimeoutError``, ``RayTaskError``)
become voxray's (:mod:`voxray.actors.errors`), by :func:`~voxray.handles.ray_errors.voxray_error`.

- :class:`~voxray.handles.supervisor.SupervisorClient`: the cluster's supervisor;
- :class:`~voxray.handles.simulator.SimulatorClient`: a simulator actor (the ``sim`` backend);
- :class:`~voxray.handles.session.Session`: a live session's actor (public as
  ``voxray.Session``; a dead actor is a ``SessionLostError``).

They share :class:`~voxray.handles.base.ActorClient` (the handle, mapped calls, removal).
"""
