"""Internal events carry their own ``type`` tag; timelines, the report and the label tracks key
on it, so renaming an event class changes nothing a results file or a report holds."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, datetime

from voxray.actors.conversation import events
from voxray.actors.conversation.collector import _timeline_entry
from voxray.actors.conversation.events import (
    AgentSpeechStarted,
    ConversationEvent,
    Interrupted,
    UserSpeechStarted,
)
from voxray.evals.records import ScenarioRecord
from voxray.evals.report_svg import timeline_svg


def test_every_event_has_a_distinct_tag_fixed_by_its_class() -> None:
    classes = typing.get_args(ConversationEvent)
    tags = [cls.type for cls in classes]
    assert len(set(tags)) == len(classes)
    for cls in classes:
        # Fixed by the class: it cannot be passed in (or got wrong), nor costs a pickle byte.
        assert "type" not in {field.name for field in dataclasses.fields(cls)}
        hint = typing.get_type_hints(cls, vars(events))["type"]
        assert typing.get_origin(hint) is typing.ClassVar
        assert typing.get_args(typing.get_args(hint)[0]) == (cls.type,)


def test_the_timeline_keys_on_the_tag_not_the_class_name() -> None:
    class RenamedSpeechStart(UserSpeechStarted):  # what a refactor's rename looks like
        pass

    entry = _timeline_entry(RenamedSpeechStart(t_ms=10.0, item_id="item_1"))
    assert entry.kind == "user_speech_started" == UserSpeechStarted.type
    assert entry.detail == {"item_id": "item_1"}  # the tag is the kind, not a detail


def test_the_report_draws_the_tagged_events() -> None:
    timeline = [
        _timeline_entry(UserSpeechStarted(t_ms=100.0, item_id="item_1")),
        _timeline_entry(AgentSpeechStarted(t_ms=900.0, response_id="resp_1")),
        _timeline_entry(
            Interrupted(t_ms=1500.0, response_id="resp_1", played_ms=600, dropped_ms=400.0)
        ),
    ]
    record = ScenarioRecord(
        key="k",
        scenario="k",
        repeat_index=0,
        passed=True,
        checks=(),
        status="completed",
        timeline=timeline,
        duration_ms=2000.0,
        finished_at=datetime.now(UTC),
    )
    svg = timeline_svg(record, None)
    assert "user speech starts (server VAD)" in svg
    assert "agent audio starts" in svg
    assert "barge-in — agent cut off after 600 ms" in svg
