"""The pieces of reconnection: local history for re-seeding, and the backoff policy."""

from __future__ import annotations

import random

from voxray.actors.conversation.backoff import Backoff, ReconnectPolicy
from voxray.actors.conversation.history import ConversationHistory
from voxray.actors.realtime.items import ContentPart, ServerItem


def _message(item_id: str, role: str, **content: str) -> ServerItem:
    return ServerItem(
        id=item_id, type="message", role=role, content=[ContentPart.model_validate(content)]
    )


def test_history_reseeds_what_the_server_holds() -> None:
    history = ConversationHistory()
    history.added(_message("u1", "user", type="input_text", text="Weather in Paris?"))
    history.added(ServerItem(id="f1", type="function_call", call_id="c1", name="get_weather"))
    history.added(ServerItem(id="f1", type="function_call", call_id="c1", name="get_weather"))
    history.set_arguments("f1", "c1", "get_weather", '{"city": "Paris"}')
    history.added(ServerItem(id="o1", type="function_call_output", call_id="c1", output="21C"))
    history.added(_message("a1", "assistant", type="audio"))
    history.set_text("a1", "It is 21 degrees in Paris, sunny all day.")
    history.set_text("a1", "It is 21 degrees")  # truncated by barge-in: only what was heard
    history.added(_message("u2", "user", type="input_audio"))  # never transcribed
    history.added(_message("u3", "user", type="input_audio", transcript="thanks"))
    history.deleted("u3")

    wire = [event.to_wire()["item"] for event in history.seed_events()]
    assert wire == [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Weather in Paris?"}],
        },
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        },
        {"type": "function_call_output", "call_id": "c1", "output": "21C"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "It is 21 degrees"}],
        },
    ]


def test_history_is_bounded_to_the_most_recent_items() -> None:
    history = ConversationHistory(max_items=3)
    for index in range(5):
        history.added(_message(f"u{index}", "user", type="input_text", text=f"turn {index}"))
    assert [item.text for item in history.items()] == ["turn 2", "turn 3", "turn 4"]


def test_backoff_is_jittered_bounded_and_gives_up_on_quick_failures() -> None:
    now = [0.0]
    policy = ReconnectPolicy(
        base_delay_s=0.5, max_delay_s=2.0, max_attempts=5, quick_failure_s=3.0, max_quick_failures=2
    )
    backoff = Backoff(policy, clock=lambda: now[0], rng=random.Random(7))
    delays = backoff.delays()
    assert len(delays) == 5
    assert all(0 <= d <= min(2.0, 0.5 * 2**i) for i, d in enumerate(delays))
    assert len(set(delays)) == 5, "full jitter: no two sessions retry in lockstep"

    backoff.connected()
    now[0] += 60  # a long-lived connection that drops is worth retrying
    assert backoff.dropped()
    backoff.connected()
    now[0] += 1  # dropped again within a second
    assert backoff.dropped()
    backoff.connected()
    now[0] += 1
    assert not backoff.dropped(), "two quick failures in a row: give up"
