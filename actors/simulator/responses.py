"""The response lifecycle: ``response.created`` through ``response.done``, paced in real time.

Order follows the protocol reference §6.2/§6.4/§6.5: for a spoken item, output_item.added,
conversation.item.added, content_part.added, interleaved transcript/audio deltas,
output_audio.done, output_audio_transcript.done, content_part.done, output_item.done; then, per
function call, output_item.added, conversation.item.added, arguments delta(s), arguments.done
(with ``name``), output_item.done; finally response.done. Audio deltas are sent every
``chunk duration / speed`` of wall-clock time; cancellation stops the stream at once and ends
the response with ``status: cancelled``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from actors.realtime.items import ContentPart, ServerItem
from actors.realtime.server_events import (
    ConversationItemAdded,
    KnownServerEvent,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseInfo,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    Usage,
)
from actors.simulator.brain import PlannedCall
from actors.simulator.config import SimulatorConfig
from actors.simulator.conversation import Conversation
from actors.simulator.ids import new_id
from actors.simulator.session import SimSession
from actors.simulator.voice import VoiceBank
from actors.simulator.wire_items import assistant_message, function_call

__all__ = ["Emit", "ResponsePlan", "ResponseRun", "ResponseStreamer"]

logger = logging.getLogger("voxray.simulator")

Emit = Callable[[KnownServerEvent], Awaitable[None]]
"""Queue one server event for sending (blocks while the outbound queue is full)."""

_ARGUMENT_PIECES = 2
_AUDIO_TOKENS_PER_S = 20


@dataclass(frozen=True)
class ResponsePlan:
    """What a response will contain: spoken text (a preamble, when there are calls) and calls."""

    speech: str | None = None
    calls: tuple[PlannedCall, ...] = ()
    metadata: dict[str, str] | None = None


class ResponseRun:
    """One response in flight. ``final`` turns true once its ``response.done`` is decided."""

    def __init__(self, plan: ResponsePlan, input_tokens: int) -> None:
        self.id = new_id("resp")
        self.plan = plan
        self.output: list[ServerItem] = []
        self.final = False
        self.task: asyncio.Task[None] | None = None
        self.input_tokens = input_tokens
        self.spoken_transcript = ""
        self.sent_audio_ms = 0.0

    def info(self, status: str, **extra: Any) -> ResponseInfo:
        """The ``response`` object in its current state."""
        return ResponseInfo(
            id=self.id,
            status=status,
            output=list(self.output),
            metadata=self.plan.metadata,
            **extra,
        )

    def usage(self) -> Usage:
        """Plausible token counts: text by characters, audio by duration sent."""
        arguments = sum(len(call.arguments_json) for call in self.plan.calls)
        text_tokens = math.ceil((len(self.spoken_transcript) + arguments) / 4)
        audio_tokens = round(self.sent_audio_ms / 1000 * _AUDIO_TOKENS_PER_S)
        output_tokens = text_tokens + audio_tokens
        return Usage(
            input_tokens=self.input_tokens,
            output_tokens=output_tokens,
            total_tokens=self.input_tokens + output_tokens,
            input_token_details={"text_tokens": self.input_tokens, "audio_tokens": 0},
            output_token_details={"text_tokens": text_tokens, "audio_tokens": audio_tokens},
        )


def _split(text: str, pieces: int) -> list[str]:
    size = max(1, math.ceil(len(text) / pieces))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class ResponseStreamer:
    """Produces the events of responses for one connection."""

    def __init__(
        self,
        *,
        emit: Emit,
        voices: VoiceBank,
        config: SimulatorConfig,
        conversation: Conversation,
        rng: random.Random,
    ) -> None:
        self._emit = emit
        self._voices = voices
        self._config = config
        self._conversation = conversation
        self._rng = rng

    async def begin(self, plan: ResponsePlan) -> ResponseRun:
        """Announce a new response (``response.created``); stream it with :meth:`stream`."""
        run = ResponseRun(plan, input_tokens=40 + self._conversation.text_chars() // 4)
        await self._emit(ResponseCreated(response=run.info("in_progress")))
        return run

    async def stream(self, run: ResponseRun, session: SimSession) -> None:
        """Everything after ``response.created``, ending with ``response.done`` (completed).

        An unexpected failure ends the response with ``status: failed`` instead of taking the
        connection down.
        """
        loop = asyncio.get_running_loop()
        created_at = loop.time()
        try:
            if run.plan.speech:
                await self._speak(run, run.plan.speech, session, created_at)
            for call in run.plan.calls:
                await self._call(run, call)
        except Exception as exc:  # the session must survive a simulator bug
            logger.exception("simulated response %s failed", run.id)
            if run.final:
                return
            run.final = True
            details = {"type": "failed", "error": {"type": "internal_error", "message": str(exc)}}
            await self._emit(
                ResponseDone(response=run.info("failed", status_details=details, usage=run.usage()))
            )
            return
        run.final = True
        await self._emit(ResponseDone(response=run.info("completed", usage=run.usage())))

    async def cancel(self, run: ResponseRun, reason: str) -> None:
        """Stop ``run`` now and send ``response.done`` with ``status: cancelled``.

        ``reason`` is ``client_cancelled`` or ``turn_detected`` (a barge-in).
        """
        run.final = True
        if run.task is not None and not run.task.done():
            run.task.cancel()
            # wait() rather than await: the task's CancelledError must not look like ours.
            await asyncio.wait([run.task])
        for index, item in enumerate(run.output):
            if item.status == "in_progress":
                update: dict[str, Any] = {"status": "incomplete"}
                if item.type == "message":
                    update["content"] = [
                        ContentPart(type="audio", transcript=run.spoken_transcript)
                    ]
                run.output[index] = item.model_copy(update=update)
                self._conversation.replace(run.output[index])
        details = {"type": "cancelled", "reason": reason}
        await self._emit(
            ResponseDone(response=run.info("cancelled", status_details=details, usage=run.usage()))
        )

    # ------------------------------------------------------------------ output items

    async def _speak(
        self, run: ResponseRun, text: str, session: SimSession, created_at: float
    ) -> None:
        loop = asyncio.get_running_loop()
        speed = self._config.speed
        item_id = new_id("item")
        index = len(run.output)
        item = assistant_message(item_id, "in_progress")
        run.output.append(item)
        await self._emit(ResponseOutputItemAdded(response_id=run.id, output_index=index, item=item))
        previous = self._conversation.add(item)
        await self._emit(ConversationItemAdded(previous_item_id=previous, item=item))
        rid = run.id
        await self._emit(
            ResponseContentPartAdded(
                response_id=rid,
                item_id=item_id,
                output_index=index,
                content_index=0,
                part=ContentPart(type="audio"),
            )
        )

        utterance = await self._voices.render(text, session.voice, session.output_codec)
        audio = self._conversation.set_audio(item_id, utterance)
        jitter = self._config.latency_jitter_ms
        latency_ms = max(
            0.0, self._config.first_audio_latency_ms + self._rng.uniform(-jitter, jitter)
        )
        start = created_at + latency_ms / 1000 / speed
        for chunk in utterance.chunks:
            # Absolute deadlines: sleeping a fixed interval per chunk would drift late.
            delay = start + chunk.start_ms / 1000 / speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if chunk.transcript_delta:
                await self._emit(
                    ResponseOutputAudioTranscriptDelta(
                        response_id=rid,
                        item_id=item_id,
                        output_index=index,
                        content_index=0,
                        delta=chunk.transcript_delta,
                    )
                )
                run.spoken_transcript += chunk.transcript_delta
            await self._emit(
                ResponseOutputAudioDelta(
                    response_id=rid,
                    item_id=item_id,
                    output_index=index,
                    content_index=0,
                    delta=base64.b64encode(chunk.audio).decode("ascii"),
                )
            )
            audio.sent_ms = chunk.start_ms + chunk.duration_ms
            run.sent_audio_ms += chunk.duration_ms

        await self._emit(
            ResponseOutputAudioDone(
                response_id=rid, item_id=item_id, output_index=index, content_index=0
            )
        )
        await self._emit(
            ResponseOutputAudioTranscriptDone(
                response_id=rid,
                item_id=item_id,
                output_index=index,
                content_index=0,
                transcript=text,
            )
        )
        await self._emit(
            ResponseContentPartDone(
                response_id=rid,
                item_id=item_id,
                output_index=index,
                content_index=0,
                part=ContentPart(type="audio", transcript=text),
            )
        )
        done = assistant_message(item_id, "completed", text)
        run.output[index] = done
        self._conversation.replace(done)
        await self._emit(ResponseOutputItemDone(response_id=run.id, output_index=index, item=done))

    async def _call(self, run: ResponseRun, call: PlannedCall) -> None:
        item_id = new_id("item")
        call_id = new_id("call")
        index = len(run.output)
        item = function_call(item_id, call_id, call.name, "in_progress")
        run.output.append(item)
        await self._emit(ResponseOutputItemAdded(response_id=run.id, output_index=index, item=item))
        previous = self._conversation.add(item)
        await self._emit(ConversationItemAdded(previous_item_id=previous, item=item))
        arguments = call.arguments_json
        for piece in _split(arguments, _ARGUMENT_PIECES):
            await self._emit(
                ResponseFunctionCallArgumentsDelta(
                    response_id=run.id,
                    item_id=item_id,
                    output_index=index,
                    call_id=call_id,
                    delta=piece,
                )
            )
        self._conversation.open_call(call_id, call)
        await self._emit(
            ResponseFunctionCallArgumentsDone(
                response_id=run.id,
                item_id=item_id,
                output_index=index,
                call_id=call_id,
                name=call.name,
                arguments=arguments,
            )
        )
        done = function_call(item_id, call_id, call.name, "completed", arguments)
        run.output[index] = done
        self._conversation.replace(done)
        await self._emit(ResponseOutputItemDone(response_id=run.id, output_index=index, item=done))
