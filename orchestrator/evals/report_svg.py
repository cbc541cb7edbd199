"""Inline SVG for ``report.html``: the latency histogram and a conversation's timeline.

Everything is drawn here, in Python, so the report needs no script to show its charts and no
network at all. Coordinates live in a fixed ``viewBox`` and the SVG scales to the page width.
Every marker carries a ``<title>``: hovering it says what it is.
"""

from __future__ import annotations

import json
import math
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np
from voxray.actors.conversation.events import (
    AgentSpeechEnded,
    AgentSpeechStarted,
    ErrorOccurred,
    Interrupted,
    UserSpeechEnded,
    UserSpeechStarted,
)
from voxray.actors.conversation.result import TimelineEvent
from voxray.evals.records import ScenarioRecord, ToolCallSummary

__all__ = ["Envelope", "histogram_svg", "read_envelope", "timeline_svg"]

_WIDTH = 1000.0
_BUCKETS = 500


@dataclass(frozen=True)
class Envelope:
    """A stereo recording reduced to per-bucket (min, max), each in -1..1, per channel."""

    duration_ms: float
    user: np.ndarray  # shape (buckets, 2): min, max
    agent: np.ndarray


def read_envelope(path: Path, buckets: int = _BUCKETS) -> Envelope | None:
    """The min/max envelope of a stereo 16-bit WAV (user left, agent right); None if unreadable."""
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getnchannels() != 2 or wav.getsampwidth() != 2:
                return None
            rate = wav.getframerate()
            frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    except (OSError, EOFError, wave.Error):
        return None
    stereo = frames.reshape(-1, 2).astype(np.float32) / 32768.0
    if stereo.shape[0] == 0:
        return None
    count = min(buckets, stereo.shape[0])
    edges = np.linspace(0, stereo.shape[0], count + 1).astype(int)
    starts = edges[:-1]
    low = np.minimum.reduceat(stereo, starts, axis=0)
    high = np.maximum.reduceat(stereo, starts, axis=0)
    return Envelope(
        duration_ms=stereo.shape[0] / rate * 1000,
        user=np.stack((low[:, 0], high[:, 0]), axis=1),
        agent=np.stack((low[:, 1], high[:, 1]), axis=1),
    )


def _nice_step(span: float, target_ticks: int) -> float:
    raw = span / max(target_ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _t(text: str) -> str:
    return f"<title>{escape(text)}</title>"


# --- latency histogram ---------------------------------------------------------------------


def histogram_svg(
    latencies: Sequence[float], p50: float | None, p95: float | None, budgets: Sequence[float]
) -> str:
    """A histogram of response latencies with p50, p95 and p95 budgets marked."""
    if not latencies:
        return '<p class="empty">No response latency was measured in this run.</p>'
    height, left, right, top, bottom = 270.0, 48.0, 16.0, 40.0, 40.0
    plot_w, plot_h = _WIDTH - left - right, height - top - bottom
    # The axis spans the data (and budgets), not 0..max: latencies cluster far from zero.
    values = [*latencies, *budgets]
    lowest, highest = min(values), max(values)
    step = max(_nice_step(max(highest - lowest, 250.0), 14), 25.0)
    axis_from = math.floor(lowest / step) * step
    bins = max(1, math.floor((highest - axis_from) / step) + 1)
    counts = [0] * bins
    for ms in latencies:
        counts[min(int((ms - axis_from) // step), bins - 1)] += 1
    top_count = max(counts)
    y_step = max(1, math.ceil(top_count / 5))
    y_max = y_step * math.ceil(top_count / y_step)
    end = axis_from + bins * step

    def x(ms: float) -> float:
        return left + (ms - axis_from) / (end - axis_from) * plot_w

    def y(count: float) -> float:
        return top + plot_h - count / y_max * plot_h

    parts = [
        f'<svg class="chart histogram" viewBox="0 0 {_WIDTH:.0f} {height:.0f}" role="img" '
        f'aria-label="Response latency distribution">'
    ]
    for count in range(0, y_max + 1, y_step):
        parts.append(
            f'<line class="grid" x1="{left}" x2="{_WIDTH - right}" y1="{y(count):.1f}" '
            f'y2="{y(count):.1f}"/><text class="tick" x="{left - 8}" y="{y(count) + 4:.1f}" '
            f'text-anchor="end">{count}</text>'
        )
    bar_w = plot_w / bins
    for index, count in enumerate(counts):
        if not count:
            continue
        low_ms, high_ms = axis_from + index * step, axis_from + (index + 1) * step
        parts.append(
            f'<rect class="bar" x="{x(low_ms) + 1:.1f}" y="{y(count):.1f}" '
            f'width="{max(bar_w - 2, 1):.1f}" height="{y(0) - y(count):.1f}" rx="2">'
            f"{_t(f'{low_ms:.0f} to {high_ms:.0f} ms: {count} turn' + _s(count))}</rect>"
        )
    label_every = max(1, math.ceil(bins / 10))
    for index in range(0, bins + 1, label_every):
        ms = axis_from + index * step
        parts.append(
            f'<text class="tick" x="{x(ms):.1f}" y="{top + plot_h + 18}" '
            f'text-anchor="middle">{ms:.0f}</text>'
        )
    parts.append(
        f'<text class="axis-label" x="{left + plot_w / 2:.0f}" y="{height - 4}" '
        'text-anchor="middle">response latency, ms (end of user speech → first agent audio)</text>'
    )
    # Labels go right of their line, or left of it near the right edge; a label that would
    # overlap one already placed drops to the second row.
    marks = [("p50", p50, "mark-p50"), ("p95", p95, "mark-p95")]
    marks += [("p95 budget", budget, "mark-budget") for budget in sorted(set(budgets))]
    rows: list[list[tuple[float, float]]] = [[], []]  # (from, to) of the labels in each row
    for label, value, css in marks:
        if value is None:
            continue
        text = f"{label} {value:.0f} ms"
        width, at = 7.5 * len(text), x(value)
        right_side = at + 4 + width < _WIDTH
        begins = at + 4 if right_side else at - 4 - width
        row = next(
            (
                index
                for index, taken in enumerate(rows)
                if all(end < begins or begin > begins + width for begin, end in taken)
            ),
            len(rows) - 1,
        )
        rows[row].append((begins, begins + width))
        parts.append(
            f'<g class="{css}"><line x1="{at:.1f}" x2="{at:.1f}" y1="{top - 34 + 14 * row}" '
            f'y2="{top + plot_h}"/><text x="{at + (4 if right_side else -4):.1f}" '
            f'y="{top - 24 + 14 * row}" text-anchor="{"start" if right_side else "end"}">'
            f"{escape(text)}</text>{_t(f'{label}: {value:.0f} ms')}</g>"
        )
    parts.append("</svg>")
    return "".join(parts)


# --- conversation timeline -----------------------------------------------------------------

_LANE_H = 64.0
_TOP = 30.0
_USER_Y = _TOP  # lane tops
_AGENT_Y = _TOP + _LANE_H + 14
_AXIS_Y = _AGENT_Y + _LANE_H + 6
_HEIGHT = _AXIS_Y + 26


def _lane_path(envelope: np.ndarray, lane_top: float, width: float) -> str:
    """One vertical stroke per bucket from its min to its max: the classic waveform look."""
    middle = lane_top + _LANE_H / 2
    peak = max(float(np.abs(envelope).max()), 0.05)  # silence is not blown up into noise
    half = _LANE_H / 2 - 2
    step = width / len(envelope)
    pieces = []
    for index, (low, high) in enumerate(envelope):
        x = index * step + step / 2
        y1 = middle - float(high) / peak * half
        y2 = middle - float(low) / peak * half
        if y2 - y1 < 0.6:
            y1, y2 = middle - 0.3, middle + 0.3
        pieces.append(f"M{x:.1f} {y1:.1f}V{y2:.1f}")
    width = max(step * 0.9, 0.6)
    return f'd="{"".join(pieces)}" stroke-width="{width:.2f}"'


def _call_label(call: ToolCallSummary) -> str:
    arguments = json.dumps(call.arguments, ensure_ascii=False)
    outcome = "ok" if call.ok else f"failed ({call.error_type or 'error'})"
    text = f"tool {call.name}({arguments}) → {outcome} in {call.latency_ms:.1f} ms"
    if call.output:
        text += f"\n{call.output[:200]}"
    return text


def timeline_svg(record: ScenarioRecord, envelope: Envelope | None) -> str:
    """Both channels' waveforms on one time axis, with turns, events and tool calls marked."""
    event_end = max((event.t_ms for event in record.timeline), default=0.0)
    duration = max(envelope.duration_ms if envelope else 0.0, record.duration_ms, event_end, 1.0)

    def x(ms: float) -> float:
        return max(0.0, min(_WIDTH, ms / duration * _WIDTH))

    parts = [
        f'<svg class="chart timeline" viewBox="0 0 {_WIDTH:.0f} {_HEIGHT:.0f}" role="img" '
        f'data-duration-ms="{duration:.0f}" aria-label="Timeline of {escape(record.key)}">',
        f'<rect class="lane" x="0" y="{_USER_Y}" width="{_WIDTH:.0f}" height="{_LANE_H}"/>',
        f'<rect class="lane" x="0" y="{_AGENT_Y}" width="{_WIDTH:.0f}" height="{_LANE_H}"/>',
    ]
    # Turns: where the user spoke (or typed), shaded behind both lanes, numbered on top.
    for turn in record.turns:
        start = turn.user_speech_start_ms
        end = turn.user_speech_end_ms
        if start is None and end is None:
            continue
        start = start if start is not None else end
        end = end if end is not None else start
        assert start is not None and end is not None
        label = f"turn {turn.index + 1} ({turn.kind})"
        if turn.said:
            label += f": {turn.said}"
        parts.append(
            f'<g class="turn"><rect x="{x(start):.1f}" y="{_USER_Y - 16}" '
            f'width="{max(x(end) - x(start), 2):.1f}" height="{_LANE_H + 16}"/>'
            f'<text x="{x(start) + 3:.1f}" y="{_USER_Y - 5}">T{turn.index + 1}</text>'
            f"{_t(label)}</g>"
        )
        if turn.response_latency_ms is not None and turn.first_agent_audio_ms is not None:
            x1, x2 = x(end), x(turn.first_agent_audio_ms)
            y = _AGENT_Y - 7
            parts.append(
                f'<g class="latency"><line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y}" y2="{y}"/>'
                f'<line x1="{x1:.1f}" x2="{x1:.1f}" y1="{y - 3}" y2="{y + 3}"/>'
                f'<line x1="{x2:.1f}" x2="{x2:.1f}" y1="{y - 3}" y2="{y + 3}"/>'
                f"{_t(f'turn {turn.index + 1}: answered after {turn.response_latency_ms:.0f} ms')}"
                "</g>"
            )
    if envelope is not None:
        width = x(envelope.duration_ms)
        parts.append(f'<path class="wave wave-user" {_lane_path(envelope.user, _USER_Y, width)}/>')
        parts.append(
            f'<path class="wave wave-agent" {_lane_path(envelope.agent, _AGENT_Y, width)}/>'
        )
    else:
        parts.append(
            f'<text class="empty" x="{_WIDTH / 2:.0f}" y="{_AGENT_Y:.0f}" '
            'text-anchor="middle">no recording</text>'
        )
    parts += _event_marks(record, x)
    parts += _axis(duration, x)
    # The lane names go on top of everything, with a halo (CSS): on a short first turn the
    # user's speech, its markers and the turn's shading all start where the label is.
    parts += [
        f'<text class="lane-label" x="6" y="{_USER_Y + 13}">user</text>',
        f'<text class="lane-label" x="6" y="{_AGENT_Y + 13}">agent</text>',
    ]
    parts.append(
        f'<line class="playhead" x1="0" x2="0" y1="{_USER_Y - 16}" y2="{_AXIS_Y}" '
        'visibility="hidden"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _event_marks(record: ScenarioRecord, x: Callable[[float], float]) -> list[str]:
    parts: list[str] = []
    for event in record.timeline:
        at = x(event.t_ms)
        detail = event.detail
        match event.kind:
            case UserSpeechStarted.type | UserSpeechEnded.type:
                edge = "starts" if event.kind == UserSpeechStarted.type else "ends"
                parts.append(
                    f'<g class="ev ev-user"><line x1="{at:.1f}" x2="{at:.1f}" y1="{_USER_Y}" '
                    f'y2="{_USER_Y + _LANE_H}"/>'
                    f"{_t(f'{event.t_ms / 1000:.2f} s: user speech {edge} (server VAD)')}</g>"
                )
            case AgentSpeechStarted.type | AgentSpeechEnded.type:
                edge = "starts" if event.kind == AgentSpeechStarted.type else "ends"
                parts.append(
                    f'<g class="ev ev-agent"><line x1="{at:.1f}" x2="{at:.1f}" y1="{_AGENT_Y}" '
                    f'y2="{_AGENT_Y + _LANE_H}"/>'
                    f"{_t(f'{event.t_ms / 1000:.2f} s: agent audio {edge}')}</g>"
                )
            case Interrupted.type:
                played = detail.get("played_ms")
                text = f"{event.t_ms / 1000:.2f} s: barge-in — agent cut off"
                if isinstance(played, int | float):
                    text += f" after {played:.0f} ms of its reply"
                # Marked on the agent's lane, where its audio stops, under the turn's label.
                parts.append(
                    f'<g class="ev ev-interrupt"><line x1="{at:.1f}" x2="{at:.1f}" '
                    f'y1="{_USER_Y}" y2="{_AXIS_Y}"/><path d="M{at - 6:.1f} {_AGENT_Y}'
                    f'h12l-6 8z"/>{_t(text)}</g>'
                )
            case ErrorOccurred.type | TimelineEvent.TURN_TIMEOUT:
                text = f"{event.t_ms / 1000:.2f} s: {event.kind.replace('_', ' ')}"
                if "message" in detail:
                    text += f": {detail['message']}"
                parts.append(
                    f'<g class="ev ev-error"><circle cx="{at:.1f}" cy="{_AXIS_Y - 8}" r="5"/>'
                    f"{_t(text)}</g>"
                )
    for call in record.tool_calls:
        if call.t_ms is None:
            continue
        at = x(call.t_ms)
        css = "ok" if call.ok else "failed"
        y = _AGENT_Y + _LANE_H - 10
        parts.append(
            f'<g class="ev ev-tool {css}"><path d="M{at:.1f} {y - 7}l7 7l-7 7l-7-7z"/>'
            f"{_t(_call_label(call))}</g>"
        )
    return parts


def _axis(duration_ms: float, x: Callable[[float], float]) -> list[str]:
    step_s = _nice_step(duration_ms / 1000, 10)
    parts = [f'<line class="axis" x1="0" x2="{_WIDTH:.0f}" y1="{_AXIS_Y}" y2="{_AXIS_Y}"/>']
    tick = 0.0
    while tick * 1000 <= duration_ms + 1e-6:
        at = x(tick * 1000)
        anchor = "start" if tick == 0 else "end" if at > _WIDTH - 20 else "middle"
        parts.append(
            f'<line class="axis" x1="{at:.1f}" x2="{at:.1f}" y1="{_AXIS_Y}" y2="{_AXIS_Y + 4}"/>'
            f'<text class="tick" x="{at:.1f}" y="{_AXIS_Y + 17}" text-anchor="{anchor}">'
            f"{tick:g} s</text>"
        )
        tick += step_s
    return parts
