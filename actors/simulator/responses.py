"""The response lifecycle: ``response.created`` through ``response.done``, paced in real time.

Order follows the protocol reference §6.2/§6.4/§6.5: for a spoken item, output_item.added,
conversation.item.added, content_part.added, interleaved transcript/audio deltas,
output_audio.done, output_audio_transcript.done, content_part.done, output_item.done; then, per
function call, output_item.added, conversation.item.added, arguments delta(s), arguments.done
(with ``name``), output_item.done; finally response.done. Output starts after the response
latency; audio deltas follow every ``chunk duration / speed`` of wall-clock time, as JSON
deltas or binary frames (``audio.output.transport``). A text-only session gets text deltas
under both names xAI documents. Cancellation stops the stream at once, closes the open item
(``.done`` events with what was sent, status ``incomplete``) and ends the response with
``status: cancelled``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import math
import random
from dataclasses import dataclass
from typing import Any, TypedDict

from voxray.actors.realtime.items import ContentPart, ServerItem
from voxray.actors.realtime.server_events import (
    ConversationItemAdded,
    OutputAudioBufferCleared,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseInfo,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseOutputTextDelta,
    ResponseOutputTextDone,
    ResponseTextDelta,
    Usage,
)
from voxray.actors.simulator.brain import PlannedCall
from voxray.actors.simulator.config import SimulatorConfig
from voxray.actors.simulator.context import Outbox
from voxray.actors.simulator.conversation import SimulatedConversation
from voxray.actors.simulator.deltas import AudioDeltaFrames
from voxray.actors.simulator.ids import new_id
from voxray.actors.simulator.latency import ResponseLatency
from voxray.actors.simulator.session import SimSession
from voxray.actors.simulator.sip_line import SipLine
from voxray.actors.simulator.voice import Utterance, VoiceBank
from voxray.actors.simulator.wire_items import assistant_message, function_call

__all__ = ["ResponsePlan", "ResponseRun", "ResponseStreamer"]

logger = logging.getLogger("voxray.simulator")

_ARGUMENT_PIECES = 2
_AUDIO_TOKENS_PER_S = 20
_AUDIO_DELTA = "response.output_audio.delta"


class _PartIds(TypedDict):
    response_id: str
    item_id: str
    output_index: int
    content_index: int


@dataclass(frozen=True)
class ResponsePlan:
    """What a response will contain: spoken text (a preamble, when there are calls) and calls.

    ``instructions`` are the ones in force (the response's own, else the session's);
    ``interruptible=False`` (a force message) mutes caller audio until the response ends.
    """

    speech: str | None = None
    calls: tuple[PlannedCall, ...] = ()
    metadata: dict[str, str] | None = None
    instructions: str = ""
    interruptible: bool = True
    modalities: tuple[str, ...] | None = None
    """This response's own output modalities (else the session's)."""

    def but(self, **changes: Any) -> ResponsePlan:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)


@dataclass
class _OpenMessage:
    item_id: str
    index: int
    kind: str  # "audio" or "text"
    part_added: bool = False
    said: str = ""


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
        self.message: _OpenMessage | None = None
        self.phone_playing = False  # SIP: its audio is playing on the phone line

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
        outbox: Outbox,
        voices: VoiceBank,
        config: SimulatorConfig,
        conversation: SimulatedConversation,
        rng: random.Random,
        latency: ResponseLatency | None = None,
        phone: SipLine | None = None,
    ) -> None:
        self._out = outbox
        self._phone = phone
        self._voices = voices
        self._config = config
        self._conversation = conversation
        self._rng = rng
        self._latency = latency or config.response_latency

    async def begin(self, plan: ResponsePlan) -> ResponseRun:
        """Announce a new response (``response.created``); stream it with :meth:`stream`."""
        context_chars = self._conversation.text_chars() + len(plan.instructions)
        run = ResponseRun(plan, input_tokens=40 + context_chars // 4)
        await self._out.send(ResponseCreated(response=run.info("in_progress")))
        return run

    async def stream(self, run: ResponseRun, session: SimSession) -> None:
        """Everything after ``response.created``, ending with ``response.done`` (completed).

        An unexpected failure ends the response with ``status: failed`` instead of taking the
        connection down.
        """
        loop = asyncio.get_running_loop()
        start = loop.time() + self._latency.sample_ms(self._rng) / 1000 / self._config.speed
        try:
            if run.plan.speech:
                text = run.plan.speech
                modalities = run.plan.modalities or session.modalities
                if "audio" not in modalities:
                    await self._sleep_until(start)
                    await self._write(run, text, start)
                else:
                    utterance = await self._voices.render(
                        text,
                        session.voice,
                        session.output_codec,
                        session.replace,
                        session.output_speed or 1.0,
                    )
                    await self._sleep_until(start)
                    await self._speak(run, utterance, start, binary=session.binary_output)
            else:
                await self._sleep_until(start)
            for call in run.plan.calls:
                await self._call(run, call)
        except Exception as exc:  # the session must survive a simulator bug
            logger.exception("simulated response %s failed", run.id)
            if run.final:
                return
            run.final = True
            details = {"type": "failed", "error": {"type": "internal_error", "message": str(exc)}}
            usage = run.usage()
            await self._out.send(
                ResponseDone(response=run.info("failed", status_details=details, usage=usage))
            )
            return
        run.final = True
        await self._out.send(ResponseDone(response=run.info("completed", usage=run.usage())))

    async def cancel(self, run: ResponseRun, reason: str) -> None:
        """Stop ``run`` now, close its open item, send ``response.done`` ``cancelled``.

        ``reason`` is ``client_cancelled`` or ``turn_detected`` (a barge-in).
        """
        run.final = True
        if run.task is not None and not run.task.done():
            run.task.cancel()
            # wait() rather than await: the task's CancelledError must not look like ours.
            await asyncio.wait([run.task])
        if run.phone_playing and self._phone is not None:  # SIP: the unplayed rest is dropped
            run.phone_playing = False
            self._phone.agent_stopped()
            await self._out.send(OutputAudioBufferCleared(response_id=run.id))
        if run.message is not None:
            await self._close_message(run, run.message, "incomplete")
        for index, item in enumerate(run.output):
            if item.status == "in_progress":  # a function call cut off mid-arguments
                run.output[index] = item.model_copy(update={"status": "incomplete"})
                self._conversation.replace(run.output[index])
                done = ResponseOutputItemDone(
                    response_id=run.id, output_index=index, item=run.output[index]
                )
                await self._out.send(done)
        details = {"type": "cancelled", "reason": reason}
        usage = run.usage()
        await self._out.send(
            ResponseDone(response=run.info("cancelled", status_details=details, usage=usage))
        )

    # ------------------------------------------------------------------ spoken output

    @staticmethod
    async def _sleep_until(deadline: float) -> None:
        delay = deadline - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _open_message(self, run: ResponseRun, kind: str) -> _OpenMessage:
        message = _OpenMessage(new_id("item"), len(run.output), kind)
        item = assistant_message(message.item_id, "in_progress")
        run.output.append(item)
        run.message = message
        added = ResponseOutputItemAdded(response_id=run.id, output_index=message.index, item=item)
        await self._out.send(added)
        previous = self._conversation.add(item)
        await self._out.send(ConversationItemAdded(previous_item_id=previous, item=item))
        await self._out.send(
            ResponseContentPartAdded(
                response_id=run.id,
                item_id=message.item_id,
                output_index=message.index,
                content_index=0,
                part=ContentPart(type=kind),
            )
        )
        message.part_added = True
        return message

    async def _speak(
        self, run: ResponseRun, utterance: Utterance, start: float, *, binary: bool
    ) -> None:
        message = await self._open_message(run, "audio")
        audio = self._conversation.set_audio(message.item_id, utterance)
        frames = AudioDeltaFrames(run.id, message.item_id, message.index, 0)
        speed = self._config.speed
        loop = asyncio.get_running_loop()
        for chunk in utterance.chunks:
            # Absolute deadlines: sleeping a fixed interval per chunk would drift late.
            delay = start + chunk.start_ms / 1000 / speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if chunk.transcript_delta:
                await self._out.send(
                    ResponseOutputAudioTranscriptDelta(
                        response_id=run.id,
                        item_id=message.item_id,
                        output_index=message.index,
                        content_index=0,
                        delta=chunk.transcript_delta,
                    )
                )
                message.said += chunk.transcript_delta
                run.spoken_transcript += chunk.transcript_delta
            if self._phone is not None:
                # SIP: the audio goes to the phone line; the socket only hears that it started.
                if not run.phone_playing:
                    run.phone_playing = True
                    self._phone.agent_started()
                    await self._out.send(OutputAudioBufferStarted(response_id=run.id))
                self._phone.play(chunk.duration_ms)
            elif binary:
                await self._out.send_binary(_AUDIO_DELTA, chunk.audio)
            else:
                render = functools.partial(_with_audio, frames, chunk.audio_b64)
                await self._out.send_rendered(_AUDIO_DELTA, render)
            audio.sent_ms = chunk.start_ms + chunk.duration_ms
            run.sent_audio_ms += chunk.duration_ms
        message.said = utterance.text
        if run.phone_playing and self._phone is not None:
            run.phone_playing = False
            self._phone.agent_stopped()
            await self._out.send(OutputAudioBufferStopped(response_id=run.id))
        await self._close_message(run, message, "completed")

    async def _write(self, run: ResponseRun, text: str, start: float) -> None:
        # Text output: word by word, both delta names (§5), paced like speech would be.
        message = await self._open_message(run, "text")
        words = text.split(" ")
        step_s = self._config.output_chunk_ms / 1000 / self._config.speed
        for number, word in enumerate(words):
            await self._sleep_until(start + number * step_s)
            piece = word if number == 0 else " " + word
            ids = _ids(run, message)
            await self._out.send(ResponseTextDelta(**ids, delta=piece))
            await self._out.send(ResponseOutputTextDelta(**ids, delta=piece))
            message.said += piece
            run.spoken_transcript += piece
        await self._close_message(run, message, "completed")

    async def _close_message(self, run: ResponseRun, message: _OpenMessage, status: str) -> None:
        """The ``.done`` events of an assistant message, with what was said of it."""
        ids = _ids(run, message)
        said = message.said
        if message.part_added:
            if message.kind == "audio":
                part = ContentPart(type="audio", transcript=said)
                await self._out.send(ResponseOutputAudioDone(**ids))
                await self._out.send(ResponseOutputAudioTranscriptDone(**ids, transcript=said))
            else:
                part = ContentPart(type="text", text=said)
                await self._out.send(ResponseOutputTextDone(**ids, text=said))
            await self._out.send(ResponseContentPartDone(**ids, part=part))
        done = assistant_message(message.item_id, status, said, kind=message.kind)
        run.output[message.index] = done
        run.message = None
        self._conversation.replace(done)
        await self._out.send(
            ResponseOutputItemDone(response_id=run.id, output_index=message.index, item=done)
        )

    # ------------------------------------------------------------------ function calls

    async def _call(self, run: ResponseRun, call: PlannedCall) -> None:
        item_id = new_id("item")
        call_id = new_id("call")
        index = len(run.output)
        item = function_call(item_id, call_id, call.name, "in_progress")
        run.output.append(item)
        await self._out.send(
            ResponseOutputItemAdded(response_id=run.id, output_index=index, item=item)
        )
        previous = self._conversation.add(item)
        await self._out.send(ConversationItemAdded(previous_item_id=previous, item=item))
        arguments = call.arguments_json
        for piece in _split(arguments, _ARGUMENT_PIECES):
            await self._out.send(
                ResponseFunctionCallArgumentsDelta(
                    response_id=run.id,
                    item_id=item_id,
                    output_index=index,
                    call_id=call_id,
                    delta=piece,
                )
            )
        self._conversation.open_call(call_id, call)
        await self._out.send(
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
        await self._out.send(
            ResponseOutputItemDone(response_id=run.id, output_index=index, item=done)
        )


def _ids(run: ResponseRun, message: _OpenMessage) -> _PartIds:
    return {
        "response_id": run.id,
        "item_id": message.item_id,
        "output_index": message.index,
        "content_index": 0,
    }


def _with_audio(frames: AudioDeltaFrames, audio_b64: str, event_id: str) -> str:
    return frames.render(event_id, audio_b64)
