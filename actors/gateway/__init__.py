"""The gateway: callers reach live agents through ingresses (Twilio Media Streams, a browser page,
xAI SIP webhooks), served by one aiohttp application per node that also hosts the conversations.

- :mod:`.ingress`: the interface an ingress implements and how it is registered;
- :mod:`.context`: :class:`~.context.GatewayContext`, what every ingress may use;
- :mod:`.app`: the aiohttp application (ingress routes, ``/healthz``, ``/readyz``, ``/metrics``);
- :mod:`.calls`: admission, opening a conversation per call, drain, call records;
- :mod:`.twilio` and :mod:`.browser`: the two audio ingresses;
- :mod:`.sip`: xAI direct SIP (a signed webhook; the session joins the call by id, no audio
  through voxray);
- :mod:`.actor`: the Ray shell (one detached gateway actor per node).
"""
