"""User turns as a suite writes them: each kind picked by its one distinguishing key.

=============  ==============================================================
key            turn
=============  ==============================================================
``say``        :class:`~voxray.actors.conversation.script.SayTurn` (espeak-ng speech)
``audio``      :class:`~voxray.actors.conversation.script.AudioTurn` (a WAV file)
``text``       :class:`~voxray.actors.conversation.script.TextTurn` (a typed message)
``wait_ms``    :class:`~voxray.actors.conversation.script.WaitTurn` (silence)
``barge_in``   :class:`~voxray.actors.conversation.script.BargeInTurn` (speech over the agent)
``backchannel`` :class:`~voxray.actors.conversation.script.BackchannelTurn` ("uh-huh" over it)
=============  ==============================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, Discriminator, Tag
from voxray.actors.conversation.script import (
    AudioTurn,
    BackchannelTurn,
    BargeInTurn,
    SayTurn,
    TextTurn,
    UserTurn,
    WaitTurn,
)

__all__ = ["TURN_KEYS", "TURN_TAGS", "TaggedTurn", "spoken_text", "turn_order_problem"]

TURN_TAGS: dict[str, type[BaseModel]] = {
    "SayTurn": SayTurn,
    "AudioTurn": AudioTurn,
    "TextTurn": TextTurn,
    "WaitTurn": WaitTurn,
    "BargeInTurn": BargeInTurn,
    "BackchannelTurn": BackchannelTurn,
}
"""Discriminator tag → turn model. Tags appear in pydantic error locations and are hidden from
the places errors name (``turns[0].say``, not ``turns[0].SayTurn.say``)."""

TURN_KEYS = {
    "say": "SayTurn",
    "audio": "AudioTurn",
    "text": "TextTurn",
    "wait_ms": "WaitTurn",
    "barge_in": "BargeInTurn",
    "backchannel": "BackchannelTurn",
}
"""The key that makes a YAML mapping a turn of that kind → its tag."""


def _turn_tag(value: Any) -> str | None:
    """Which kind of turn a YAML mapping (or a turn object) is, by its one distinguishing key."""
    if isinstance(value, Mapping):
        found = [tag for key, tag in TURN_KEYS.items() if key in value]
        return found[0] if len(found) == 1 else None
    for tag, model in TURN_TAGS.items():
        if isinstance(value, model):
            return tag
    return None


# A plain union would report every member's errors for one bad turn; picking the member from
# its key gives one error that names the real problem.
TaggedTurn = Annotated[
    Annotated[SayTurn, Tag("SayTurn")]
    | Annotated[AudioTurn, Tag("AudioTurn")]
    | Annotated[TextTurn, Tag("TextTurn")]
    | Annotated[WaitTurn, Tag("WaitTurn")]
    | Annotated[BargeInTurn, Tag("BargeInTurn")]
    | Annotated[BackchannelTurn, Tag("BackchannelTurn")],
    Discriminator(
        _turn_tag,
        custom_error_type="turn_kind",
        custom_error_message=(
            "a turn needs exactly one of `say`, `audio`, `text`, `wait_ms`, `barge_in` or "
            "`backchannel`"
        ),
    ),
]


def turn_order_problem(turns: Sequence[UserTurn]) -> tuple[int, str] | None:
    """The first turn that cannot be played where it stands, and why; None when all can.

    A ``barge_in`` or ``backchannel`` turn talks over the agent's reply to the turn before it,
    so it needs one: it cannot come first, nor after a ``wait_ms`` turn (silence gets no reply),
    nor after another turn that talks over the same reply.
    """
    for index, turn in enumerate(turns):
        if not isinstance(turn, BargeInTurn | BackchannelTurn):
            continue
        kind = "barge_in" if isinstance(turn, BargeInTurn) else "backchannel"
        if index == 0:
            return index, f"a {kind} turn talks over a reply, so it cannot be the first turn"
        if isinstance(turns[index - 1], WaitTurn):
            return index, f"a {kind} turn must follow a turn the agent answers, not a wait_ms"
        if isinstance(turns[index - 1], BackchannelTurn):
            return index, f"a {kind} turn must follow a turn the agent answers, not a backchannel"
    return None


def spoken_text(turn: UserTurn) -> str | None:
    """The words the user speaks in ``turn`` (``say`` and ``barge_in``), else None.

    This is the reference a transcription of the user is compared with.
    """
    match turn:
        case SayTurn():
            return turn.say
        case BargeInTurn():
            return turn.barge_in
        case _:
            return None
