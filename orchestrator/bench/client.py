"""``voxray bench client``: what voxray's conversation engine costs per conversation, near the wire.

N conversations run in one client process (plain asyncio, no Ray) against the simulator in
another process on this machine, each as a live caller would drive it: a microphone sending
20 ms frames of 48 kHz mono (resampled to the 24 kHz wire rate), the simulator answering with
20 ms deltas of 24 kHz audio, and a server-VAD turn every six seconds (a one-second burst of
speech-level audio, then silence, so the simulator's VAD ends the turn and it answers for
about two and a half seconds). Each conversation keeps what a user sees: the collector's
timeline and metrics, and the stereo recording, rendered at the end.

Measured per run, side by side: appends of 20 ms and 100 ms, audio in JSON (base64) and in
binary websocket frames (``audio.{input,output}.transport``), and the bare-wire floor beside
them: ``voxray bench wire``'s client, N bare aiohttp websockets at 20 ms both ways with nothing
else (:func:`voxray.bench.wire.measure`). The figure is the client process's CPU per
conversation, in % of a core, over a window after every conversation is up, counted per second
of audio the process sent (:class:`~voxray.bench.child.WorkWindow`: on a busy machine a starved
client sends less in the window and its CPU per wall-clock second, shown beside it, reads low);
kinds alternate within each repeat and the figures are medians (the machine is shared and
noisy: compare within a run). The ratio to the wire floor says how much the engine adds to the
traffic itself. One more kind feeds the microphone at the wire's own 24 kHz: the caller whose
audio needs no resampling (a scripted caller, whose utterances are resampled once when they are
made; the browser page, which captures at the agent's rate), so the table shows what the 48 kHz
caller's per-frame resampling costs apart from the rest of the engine; and one sends the 48 kHz
caller's audio as it is (``input_audio.rate: 48000``, a rate xAI accepts): no resampling, twice
the upstream bytes (still measured against the 24 kHz floor). Every process runs on the loop
``voxray.actors.event_loop`` picks (uvloop when installed); the table says which ran.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import statistics
from dataclasses import dataclass, field
from typing import Any, Final

from voxray.bench.child import WorkWindow, cores_used
from voxray.bench.density import SimulatorTarget, simulator_process
from voxray.bench.registry import Benchmark, BenchResult, Figure, register
from voxray.bench.wire import measure as measure_wire

__all__ = ["run"]

MIC_RATE: Final = 48_000
"""The live caller's rate (a browser's or a WebRTC track's); the wire runs at 24 kHz."""
WIRE_RATE: Final = 24_000
FRAME_MS: Final = 20
TURN_PERIOD_S: Final = 6.0
"""Each conversation speaks for ``SPEECH_S`` at the start of every period of this length."""
SPEECH_S: Final = 1.0
TARGET_PERCENT: Final = 0.35
"""Client CPU per conversation at N = 50, 20 ms JSON appends, recording on (issue 18)."""
TARGET_RATIO: Final = 1.5
"""The same figure over the bare-wire floor's."""


@dataclass(frozen=True)
class _Kind:
    """One client configuration."""

    append_ms: int
    transport: str  # "json" | "binary" | "wire" (the bare websocket floor)
    mic_rate: int = MIC_RATE
    wire_rate: int = WIRE_RATE
    """The session's input rate (``input_audio.rate``)."""

    @property
    def label(self) -> str:
        if self.transport == "wire":
            return "bare wire (20 ms both ways)"
        source = "" if self.mic_rate == MIC_RATE else f", {self.mic_rate // 1000} kHz microphone"
        wire = "" if self.wire_rate == WIRE_RATE else f", {self.wire_rate // 1000} kHz wire"
        return f"voxray {self.append_ms} ms appends, {self.transport}{source}{wire}"


KINDS: Final = (
    _Kind(20, "json"),
    _Kind(100, "json"),
    _Kind(20, "binary"),
    _Kind(100, "binary"),
    _Kind(20, "json", WIRE_RATE),
    _Kind(20, "json", MIC_RATE, MIC_RATE),
    _Kind(20, "wire"),
)


@dataclass(frozen=True)
class _Job:
    """What one client process runs."""

    url: str
    token: str
    conversations: int
    append_ms: int
    transport: str
    mic_rate: int
    wire_rate: int
    warmup_s: float
    window_s: float


@dataclass
class _Report:
    """What the client process counted; sent back at the end."""

    loop: str = ""
    conversations: int = 0
    frames_sent: int = 0
    audio_events: int = 0
    events: int = 0
    responses: int = 0
    recording_s: float = 0.0
    dropped_audio_chunks: int = 0
    lateness_p99_ms: float = float("nan")
    window: WorkWindow = field(default_factory=WorkWindow)
    errors: list[str] = field(default_factory=list)


def binary_supported() -> bool:
    """Whether this engine has the binary audio transport setting."""
    from voxray.actors.conversation.agent import AudioFormatConfig

    return "transport" in AudioFormatConfig.model_fields


# ---------------------------------------------------------------- the client process


def _speech(rate: int) -> Any:
    """A second of speech-level audio at ``rate`` (two tones, about -17 dBFS)."""
    import numpy as np

    t = np.arange(int(rate * SPEECH_S)) / rate
    wave = 0.12 * np.sin(2 * np.pi * 220 * t) + 0.08 * np.sin(2 * np.pi * 710 * t)
    return (wave * 32767).astype(np.int16)


def _client(conn: multiprocessing.connection.Connection, job: _Job) -> None:
    """Child process: ``conversations`` conversations until the parent says stop."""
    from pydantic import SecretStr
    from voxray.actors import event_loop
    from voxray.actors.conversation.agent import AgentConfig
    from voxray.actors.conversation.collector import SessionCollector
    from voxray.actors.conversation.endpoint import EngineTuning, ProviderEndpoint
    from voxray.actors.conversation.engine import Conversation
    from voxray.actors.conversation.events import AgentAudio, ConversationEvent
    from voxray.actors.conversation.microphone import Microphone
    from voxray.actors.tools.executor import ToolExecutor
    from voxray.actors.tools.inprocess import InProcessToolBackend
    from voxray.bench.child import until_parent_says_stop

    conversations, transport = job.conversations, job.transport
    report = _Report(conversations=conversations)
    lateness_ms: list[float] = []
    speech = _speech(job.mic_rate)
    audio: dict[str, Any] = {}
    if transport != "json":
        audio = {"transport": transport}
    agent = AgentConfig.model_validate(
        {"input_audio": {**audio, "rate": job.wire_rate}, "output_audio": audio}
    )
    endpoint = ProviderEndpoint(url=job.url, api_key=SecretStr(job.token))
    tuning = EngineTuning(append_chunk_ms=job.append_ms, speed=1.0)

    def count(event: ConversationEvent) -> None:
        report.events += 1
        if isinstance(event, AgentAudio):
            report.audio_events += 1

    async def talk(microphone: Microphone, offset_s: float) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time() + offset_s
        while True:
            await asyncio.sleep(max(0.0, start - loop.time()))
            await microphone.speak(speech)
            start += TURN_PERIOD_S

    async def main() -> None:
        report.loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
        sessions = [
            Conversation(
                agent,
                endpoint,
                tuning,
                ToolExecutor((), InProcessToolBackend()),
                session_id=f"bench-client-{index}",
            )
            for index in range(conversations)
        ]
        collectors = [SessionCollector(c) for c in sessions]
        for session in sessions:
            session.add_listener(count)
        await asyncio.gather(*(s.start() for s in sessions))
        microphones = [
            Microphone(s, rate=job.mic_rate, chunk_ms=FRAME_MS, speed=1.0, continuous=True)
            for s in sessions
        ]
        tasks: list[asyncio.Task[None]] = []
        for index, microphone in enumerate(microphones):
            tasks.append(asyncio.create_task(microphone.run()))
            offset = TURN_PERIOD_S * index / conversations
            tasks.append(asyncio.create_task(talk(microphone, offset)))
            await asyncio.sleep(FRAME_MS / 1000 / conversations)  # phases spread as callers'
        report.window.measure(
            warmup_s=job.warmup_s,
            window_s=job.window_s,
            audio_sent_s=lambda: sum(m.position_ms for m in microphones) / 1000,
        )
        conn.send("ready")
        await until_parent_says_stop(conn)
        for task in tasks:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        report.errors += [
            repr(o)
            for o in outcomes
            if isinstance(o, BaseException) and not isinstance(o, asyncio.CancelledError)
        ]
        for session, collector, microphone in zip(sessions, collectors, microphones, strict=True):
            await session.aclose()
            result = collector.result(session.failure, frame_lateness_ms=microphone.lateness_ms)
            report.frames_sent += len(microphone.lateness_ms)
            lateness_ms.extend(microphone.lateness_ms)
            report.responses += result.metrics.responses
            report.dropped_audio_chunks += result.metrics.dropped_audio_chunks
            if result.recording is not None:
                report.recording_s += len(result.recording.pcm) / 4 / result.recording.rate
            if result.error:
                report.errors.append(result.error)

    try:
        event_loop.run(main())
    except Exception as error:  # reported to the parent, which prints it
        report.errors.append(f"client: {error!r}")
    report.lateness_p99_ms = _p99(lateness_ms)
    os.set_blocking(conn.fileno(), True)  # the loop's add_reader left the pipe non-blocking
    conn.send(report)


# ---------------------------------------------------------------- one measurement


@dataclass(frozen=True)
class _Measured:
    client_cores: float
    """Over the wall-clock window (reads low when the machine starves the client)."""
    simulator_cores: float
    window: WorkWindow
    """The client's CPU per second of audio it sent: the figure that holds on a busy machine."""
    report: _Report


def _measure(
    target: SimulatorTarget, kind: _Kind, conversations: int, warmup_s: float, window_s: float
) -> _Measured:

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    client = context.Process(
        target=_client,
        args=(
            child,
            _Job(
                target.url,
                target.token,
                conversations,
                kind.append_ms,
                kind.transport,
                kind.mic_rate,
                kind.wire_rate,
                warmup_s,
                window_s,
            ),
        ),
        daemon=True,
    )
    client.start()
    child.close()  # ours closed, a child that dies shows as EOF instead of a hang
    try:
        first = parent.recv()
        if isinstance(first, _Report):  # it failed before every conversation was up
            return _Measured(float("nan"), float("nan"), first.window, first)
        client_cores, simulator_cores = cores_used(
            [client.pid, target.pid], warmup_s=warmup_s, window_s=window_s
        )
        parent.send("stop")
        report: _Report = parent.recv()
        client.join(timeout=30)
    finally:
        if client.is_alive():
            client.kill()
    return _Measured(client_cores, simulator_cores, report.window, report)


def _loop_kind() -> str:
    from voxray.actors import event_loop

    return event_loop.loop_factory().__module__.split(".")[0]


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else float("nan")


def _percent(cores: float, conversations: int) -> float:
    return round(cores / conversations * 100, 3)


def run(quick: bool) -> BenchResult:
    """Every kind at each N, alternating within each repeat; medians over the repeats."""
    levels, warmup_s, window_s, repeats = (
        ((4,), 2.0, 3.0, 1) if quick else ((20, 50), 4.0, 2 * TURN_PERIOD_S, 3)
    )
    kinds = [k for k in KINDS if k.transport != "binary" or binary_supported()]
    notes: list[str] = []
    if len(kinds) < len(KINDS):
        notes.append("this engine has no binary audio transport: binary kinds skipped")
    loop = _loop_kind()
    figures: list[Figure] = [
        Figure(name=f"event loop: {loop}", value=1, unit="every process of the run")
    ]
    for conversations in levels:
        runs: dict[_Kind, list[_Measured]] = {kind: [] for kind in kinds}
        for _ in range(repeats):
            with simulator_process() as target:
                for kind in kinds:
                    if kind.transport == "wire":
                        wire = measure_wire(loop, conversations, warmup_s, window_s)
                        runs[kind].append(
                            _Measured(
                                wire.client_cores, wire.server_cores, wire.report.window, _Report()
                            )
                        )
                    else:
                        runs[kind].append(_measure(target, kind, conversations, warmup_s, window_s))
        medians: dict[_Kind, float] = {}
        for kind, measured in runs.items():
            tag = f"N={conversations}, {kind.label}"
            medians[kind] = statistics.median(m.window.percent_per_conversation for m in measured)
            percent = round(medians[kind], 3)
            is_target = kind == _Kind(20, "json") and conversations == 50
            wall = _percent(statistics.median(m.client_cores for m in measured), conversations)
            figures.append(
                Figure(
                    name=f"{tag}: client CPU per conversation",
                    value=percent,
                    unit=f"% of a core per real-time conversation (median of {repeats}; "
                    f"{wall} over the wall-clock window)",
                    target=f"<= {TARGET_PERCENT}" if is_target else None,
                    met=percent <= TARGET_PERCENT if is_target else None,
                )
            )
            if kind.transport == "wire":
                continue
            figures += [
                Figure(
                    name=f"{tag}: simulator CPU per conversation",
                    value=_percent(
                        statistics.median(m.simulator_cores for m in measured), conversations
                    ),
                    unit="% of a core",
                ),
                Figure(
                    name=f"{tag}: frame lateness p99",
                    value=round(statistics.median(m.report.lateness_p99_ms for m in measured), 2),
                    unit="ms",
                ),
                Figure(
                    name=f"{tag}: agent audio events, responses",
                    value=min(m.report.audio_events for m in measured),
                    unit=f"events; {min(m.report.responses for m in measured)} responses "
                    "(fewest of the runs)",
                ),
            ]
            for m in measured:
                if m.report.errors:
                    notes.append(f"{tag}: {len(m.report.errors)} errors: {m.report.errors[0]}")
                if m.report.dropped_audio_chunks:
                    notes.append(f"{tag}: {m.report.dropped_audio_chunks} audio chunks dropped")
        floor = medians.get(_Kind(20, "wire"), 0.0)
        for kind in kinds:
            if kind.transport == "wire" or floor <= 0:
                continue
            ratio = round(medians[kind] / floor, 2)
            is_target = kind == _Kind(20, "json")
            figures.append(
                Figure(
                    name=f"N={conversations}, {kind.label} / bare wire",
                    value=ratio,
                    unit="ratio of medians",
                    target=f"<= {TARGET_RATIO}" if is_target else None,
                    met=ratio <= TARGET_RATIO if is_target else None,
                )
            )
    return BenchResult(
        name="client",
        description="client CPU per conversation, N in one process, against the wire floor",
        figures=figures,
        notes=notes,
    )


register(Benchmark("client", "client CPU per conversation vs the bare wire", run))
