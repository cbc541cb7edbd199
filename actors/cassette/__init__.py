"""Cassettes: real realtime sessions recorded frame by frame, replayed offline.

A cassette is a directory: ``cassette.json`` (what was recorded, when, the session config and
the tool outputs given), ``frames.jsonl`` (every frame both ways, in order, with its time since
the connection opened) and the audio of each direction as raw files the frames point into by
offset (``client.raw``, ``server.raw``). Nothing is written before it is scrubbed of the key and
of anything shaped like a secret, and a cassette that would still hold one is refused.

- :mod:`.format`: the models, reading and writing (and the refusal).
- :mod:`.recorder`: the frame tap a conversation's transport feeds while recording.
- :mod:`.redaction`: scrubbing and the last check before anything touches the disk.
- :mod:`.divergence`: what a replayed client must send, and the first thing it did not.
"""

from voxray.actors.cassette.divergence import Divergence, ReplayExpectations
from voxray.actors.cassette.format import (
    CASSETTE_FILE,
    Cassette,
    CassetteError,
    CassetteFrame,
    CassetteRefusedError,
    load_cassette,
    save_cassette,
)
from voxray.actors.cassette.recorder import CassetteRecorder

__all__ = [
    "CASSETTE_FILE",
    "Cassette",
    "CassetteError",
    "CassetteFrame",
    "CassetteRecorder",
    "CassetteRefusedError",
    "Divergence",
    "ReplayExpectations",
    "load_cassette",
    "save_cassette",
]
