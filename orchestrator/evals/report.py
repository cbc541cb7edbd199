"""``report.html``: one self-contained page that shows a person how an eval run went.

It holds, top to bottom: the verdict and headline figures; a pass/fail table (pass rate over
repeats, latency, kinds of failure); the distribution of response latency; and, per scenario and
run, the checks, a timeline of both channels' waveforms with turns, events and tool calls
marked, and the transcript. Styles, script and charts are inline and nothing is fetched, so the
file can be mailed or archived as is; only the ``<audio>`` players refer to the run directory's
``recordings/`` (and simply stay silent when the page travels alone). With ``embed_audio`` (the
suite's ``report: {embed_audio: true}``) the recordings are inside the page too, as base64 WAV
(about 130 KB per second of conversation), so a report uploaded alone as a CI artifact plays.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from voxray.evals.condition_view import condition_section
from voxray.evals.outputs import RunDirectory
from voxray.evals.records import ScenarioRecord, ToolCallSummary, TurnRecord
from voxray.evals.report_style import CSS, SCRIPT
from voxray.evals.report_svg import histogram_svg, read_envelope, timeline_svg
from voxray.evals.scoring import Check
from voxray.evals.summary import RunSummary, ScenarioTally, summarize
from voxray.evals.wer import is_transcribed

__all__ = ["render_report", "write_report"]


def write_report(
    run_dir: RunDirectory,
    records: Sequence[ScenarioRecord],
    *,
    suite_name: str,
    backend: str = "sim",
    pass_threshold: float = 1.0,
    wall_s: float | None = None,
    planned_cost_usd: float | None = None,
    descriptions: Mapping[str, str] | None = None,
    embed_audio: bool = False,
) -> Path:
    """Write ``report.html`` into ``run_dir`` and return its path.

    ``descriptions`` maps scenario names to their descriptions; its order is the order in which
    scenarios are shown (the suite's), others follow by name. ``embed_audio`` puts the
    recordings inside the page (a self-contained file that still plays when moved alone).
    """
    summary = summarize(
        records,
        pass_threshold=pass_threshold,
        wall_s=wall_s,
        planned_cost_usd=planned_cost_usd,
    )
    html = render_report(
        run_dir.path,
        records,
        summary,
        suite_name=suite_name,
        backend=backend,
        descriptions=descriptions or {},
        embed_audio=embed_audio,
    )
    target = run_dir.report_path
    partial = target.with_suffix(".html.part")
    partial.write_text(html, encoding="utf-8")
    partial.replace(target)
    return target


def render_report(
    run_path: Path,
    records: Sequence[ScenarioRecord],
    summary: RunSummary,
    *,
    suite_name: str,
    backend: str,
    descriptions: Mapping[str, str],
    embed_audio: bool = False,
) -> str:
    """The report's HTML; recordings are read from ``run_path`` (and embedded if asked)."""
    latest = list({record.key: record for record in records}.values())
    # Scenarios with a judged run, then those whose runs all did not finish (never failures).
    shown = list(summary.per_scenario) + [
        run.scenario for run in summary.unfinished if run.scenario not in summary.per_scenario
    ]
    order = [name for name in descriptions if name in shown]
    order += sorted({name for name in shown if name not in descriptions})
    runs = {
        name: sorted((r for r in latest if r.scenario == name), key=_run_order) for name in order
    }
    failed = summary.scenarios_failed
    if failed:
        verdict = f'<span class="verdict fail">{failed} FAILED</span>'
    elif summary.runs_unfinished:
        verdict = f'<span class="verdict skip">{summary.runs_unfinished} NOT FINISHED</span>'
    elif summary.scenarios:
        verdict = '<span class="verdict pass">ALL PASSED</span>'
    else:
        verdict = '<span class="verdict fail">0 FAILED</span>'
    if summary.runs_unfinished:
        meta_unfinished = (
            f"{summary.runs_unfinished} run(s) did not finish (not run, interrupted or lost): "
            "not failures; <code>--resume</code> runs them"
        )
    else:
        meta_unfinished = ""
    budgets = sorted({r.latency_p95_budget_ms for r in latest if r.latency_p95_budget_ms})
    latencies = [ms for r in latest for ms in r.latency_ms if ms is not None]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta = [f"backend <b>{escape(backend)}</b>", f"generated {generated}"]
    if summary.wall_s is not None:
        meta.append(f"ran in {summary.wall_s:.1f} s")
    meta.append(f"pass threshold {summary.pass_threshold:.0%}")
    if meta_unfinished:
        meta.append(meta_unfinished)
    body = [
        '<header class="top">',
        f"<h1>voxray eval · {escape(suite_name)}</h1>{verdict}",
        f'<div class="meta">{" · ".join(meta)}</div></header>',
        _cards(summary, backend),
        condition_section(summary),  # the ablation table first: it is the run's headline
        '<h2 id="results">Results</h2>',
        '<div class="toolbar"><label><input type="checkbox" id="failures-only"> '
        "show failures only</label></div>",
        _results_table(order, summary.per_scenario, descriptions),
        '<h2 id="latency">Response latency</h2>',
        '<div class="panel">',
        histogram_svg(latencies, summary.latency_p50_ms, summary.latency_p95_ms, budgets),
        "</div>",
        '<h2 id="conversations">Conversations</h2>',
        _legend(),
    ]
    for name in order:
        body.append(
            _scenario_section(
                name,
                summary.per_scenario.get(name),
                runs[name],
                descriptions,
                run_path,
                embed_audio=embed_audio,
            )
        )
    where = (
        "the recordings are inside this file"
        if embed_audio
        else "needs the run's recordings/ folder beside this file"
    )
    body.append(
        "<footer>Written by voxray. Hover a marker for details; click a timeline to play the "
        f"recording from there ({where}).</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>voxray eval · {escape(suite_name)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main><script>{SCRIPT}</script></body></html>\n"
    )


def _run_order(record: ScenarioRecord) -> int:
    return record.repeat_index


def _anchor(name: str) -> str:
    return f"scenario-{name}"


def _pill(outcome: str, label: str | None = None) -> str:
    return f'<span class="pill {outcome}">{escape(label or outcome.upper())}</span>'


def _run_pill(record: ScenarioRecord) -> tuple[str, str]:
    """A run's css outcome and pill: unfinished runs are ``skip``, named by their status."""
    if not record.finished:
        return "skip", _pill("skip", record.status.replace("_", " ").upper())
    outcome = "pass" if record.passed else "fail"
    return outcome, _pill(outcome)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def _cards(summary: RunSummary, backend: str) -> str:
    # Red only for a failed scenario: runs that did not finish are not failures.
    scenario_css = "fail" if summary.scenarios_failed else "pass" if summary.all_passed else ""
    cost_label = "cost on xAI" if backend == "xai" else "would cost on xAI"
    cards = [
        (f"{summary.scenarios_passed}/{summary.scenarios}", "scenarios passed", scenario_css),
        (f"{summary.runs_passed}/{summary.runs}", "runs passed", ""),
        (_ms(summary.latency_p50_ms), "latency p50", ""),
        (_ms(summary.latency_p95_ms), "latency p95", ""),
        (
            f"{summary.audio_in_minutes + summary.audio_out_minutes:.1f} min",
            "audio, both ways",
            "",
        ),
        (f"${summary.cost_estimate_usd:.2f}", cost_label, ""),
    ]
    items = "".join(
        f'<div class="card"><div class="value {css}">{escape(value)}</div>'
        f'<div class="label">{escape(label)}</div></div>'
        for value, label, css in cards
    )
    return f'<div class="cards">{items}</div>'


def _results_table(
    order: Sequence[str], tallies: Mapping[str, ScenarioTally], descriptions: Mapping[str, str]
) -> str:
    rows = []
    for name in order:
        tally = tallies.get(name)
        if tally is None:  # no run of it finished
            rows.append(
                f'<tr class="skip"><td><a href="#{_anchor(name)}"><b>{escape(name)}</b></a></td>'
                f'<td>{_pill("skip", "NOT FINISHED")}</td><td class="num">0/0</td>'
                '<td class="num">—</td><td class="num">—</td><td></td></tr>'
            )
            continue
        outcome = "pass" if tally.passed else "fail"
        kinds = [
            f"<li>{escape(check)} &times;{count}</li>"
            for check, count in tally.failure_kinds.items()
        ]
        kinds += [
            f'<li class="fail">{escape(check.name)}: {escape(check.got)}</li>'
            for check in tally.scenario_checks
            if not check.passed
        ]
        kinds += [
            f'<li class="skipped">skipped: {escape(check)} &times;{count}</li>'
            for check, count in tally.skipped_checks.items()
        ]
        description = descriptions.get(name, "")
        rows.append(
            f'<tr class="{outcome}"><td><a href="#{_anchor(name)}"><b>{escape(name)}</b></a>'
            + (f'<div class="desc">{escape(description)}</div>' if description else "")
            + f"</td><td>{_pill(outcome)}</td>"
            f'<td class="num"><div class="rate"><span>{tally.passed_runs}/{tally.runs}</span>'
            f'<div class="bar" title="pass rate {tally.pass_rate:.0%}">'
            f'<span style="width:{tally.pass_rate * 100:.0f}%"></span></div></div></td>'
            f'<td class="num">{_ms(tally.latency_p50_ms)}</td>'
            f'<td class="num">{_ms(tally.latency_p95_ms)}</td>'
            f'<td><ul class="kinds">{"".join(kinds)}</ul></td></tr>'
        )
    return (
        '<table class="results"><thead><tr><th>scenario</th><th>result</th><th>runs passed</th>'
        "<th>latency p50</th><th>latency p95</th><th>failures</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _legend() -> str:
    items = [
        ("var(--user)", "user channel (left)"),
        ("var(--agent)", "agent channel (right)"),
        ("rgba(9,105,218,.25)", "user turn"),
        ("var(--pass)", "response latency"),
        ("var(--tool)", "tool call"),
        ("var(--fail)", "failed tool call, barge-in, error"),
    ]
    return (
        '<div class="legend">'
        + "".join(
            f'<span><i style="background:{color}"></i>{label}</span>' for color, label in items
        )
        + "</div>"
    )


def _scenario_section(
    name: str,
    tally: ScenarioTally | None,
    runs: Sequence[ScenarioRecord],
    descriptions: Mapping[str, str],
    run_path: Path,
    *,
    embed_audio: bool,
) -> str:
    if tally is None:  # no run of it finished
        head = [
            f'<section class="scenario skip" id="{_anchor(name)}"><header>',
            f"<h3>{escape(name)}</h3>{_pill('skip', 'NOT FINISHED')}",
            '<span class="desc">no run finished',
        ]
    else:
        outcome = "pass" if tally.passed else "fail"
        head = [
            f'<section class="scenario {outcome}" id="{_anchor(name)}"><header>',
            f"<h3>{escape(name)}</h3>{_pill(outcome)}",
            f'<span class="desc">{tally.passed_runs}/{tally.runs} runs passed',
        ]
        if tally.runs > 1:
            head.append(f" ({tally.pass_rate:.0%})")
    head.append("</span>")
    if descriptions.get(name):
        head.append(f'<span class="desc">— {escape(descriptions[name])}</span>')
    head.append("</header>")
    if tally is not None and tally.scenario_checks:
        head.append(
            f'<div class="panel" style="margin-bottom:12px">{_checks(tally.scenario_checks)}</div>'
        )
    for position, record in enumerate(runs):
        open_ = position == 0 or not record.passed
        head.append(_run(record, run_path, open_=open_, embed_audio=embed_audio))
    head.append("</section>")
    return "".join(head)


def _player(run_path: Path, recording: str, *, embed: bool) -> str:
    # preload="metadata": the player shows the recording's length before it is clicked (with
    # "none" it read 0:00 / 0:00), and the timeline's click-to-seek knows where it may go.
    source = escape(recording)
    if embed:
        try:
            data = (run_path / recording).read_bytes()
        except OSError:
            data = b""  # a missing file: the relative link stays, as without embedding
        if data:
            source = "data:audio/wav;base64," + base64.b64encode(data).decode("ascii")
    return f'<audio controls preload="metadata" src="{source}"></audio>'


def _run(record: ScenarioRecord, run_path: Path, *, open_: bool, embed_audio: bool) -> str:
    outcome, pill = _run_pill(record)
    facts = [f"{record.duration_ms / 1000:.1f} s"]
    measured = [ms for ms in record.latency_ms if ms is not None]
    if measured:
        facts.append("latency " + ", ".join(f"{ms:.0f}" for ms in measured) + " ms")
    if record.tool_calls:
        facts.append(
            f"{len(record.tool_calls)} tool call{'s' if len(record.tool_calls) > 1 else ''}"
        )
    envelope = read_envelope(run_path / record.recording) if record.recording else None
    parts = [
        f'<details class="run {outcome}"{" open" if open_ else ""} id="run-{escape(record.key)}">',
        f"<summary>{pill}<b>{escape(record.key)}</b>",
        f'<span class="facts">{escape(" · ".join(facts))}</span></summary>',
        '<div class="run-body">',
        timeline_svg(record, envelope),
    ]
    if record.recording:
        parts.append(_player(run_path, record.recording, embed=embed_audio))
    if record.error:
        parts.append(f'<div class="error-box">{escape(record.error)}</div>')
    parts += [
        '<div class="grid2"><div><h3>Checks</h3>',
        _checks(record.checks),
        "</div><div><h3>Transcript</h3>",
        _transcript(record),
        "</div></div></div></details>",
    ]
    return "".join(parts)


def _checks(checks: Sequence[Check]) -> str:
    items = []
    for check in checks:
        outcome = check.outcome
        items.append(
            f'<li class="{outcome}">{_pill(outcome)} <span class="name">{escape(check.name)}</span>'
            f'<span class="detail">expected {escape(check.expected)}</span>'
            f'<span class="detail">got {escape(check.got)}</span></li>'
        )
    return f'<ul class="checks">{"".join(items)}</ul>'


def _turn_start(turn: TurnRecord) -> float | None:
    return (
        turn.user_speech_start_ms
        if turn.user_speech_start_ms is not None
        else turn.user_speech_end_ms
    )


def _calls_by_turn(record: ScenarioRecord) -> list[list[ToolCallSummary]]:
    """Each tool call under the turn during which it finished."""
    starts = [_turn_start(turn) for turn in record.turns]
    grouped: list[list[ToolCallSummary]] = [[] for _ in record.turns]
    for call in record.tool_calls:
        index = len(record.turns) - 1
        if call.t_ms is not None:
            later = [i for i, start in enumerate(starts) if start is not None and start > call.t_ms]
            index = (later[0] - 1) if later else index
        grouped[max(index, 0)].append(call)
    return grouped


def _transcript(record: ScenarioRecord) -> str:
    if not record.turns:
        text = record.agent_transcript or "(nothing was said)"
        return (
            '<div class="transcript"><div class="msg agent"><span class="who">agent</span>'
            f"{escape(text)}</div></div>"
        )
    messages = []
    for turn, calls in zip(record.turns, _calls_by_turn(record), strict=True):
        messages.append(_user_message(turn))
        for call in calls:
            outcome = "ok" if call.ok else "failed"
            arguments = json.dumps(call.arguments, ensure_ascii=False)
            messages.append(
                f'<div class="msg tool {outcome}"><span class="who">tool · {outcome}'
                f'<span class="chip">{call.latency_ms:.1f} ms</span></span>'
                f"<code>{escape(call.name)}({escape(arguments)})</code>"
                + (
                    f'<span class="heard">→ {escape(call.output[:160])}</span>'
                    if call.output
                    else ""
                )
                + "</div>"
            )
        if turn.agent_transcript:
            chip = (
                f'<span class="chip">after {turn.response_latency_ms:.0f} ms</span>'
                if turn.response_latency_ms is not None
                else ""
            )
            messages.append(
                f'<div class="msg agent"><span class="who">agent{chip}</span>'
                f"{escape(turn.agent_transcript)}</div>"
            )
    return f'<div class="transcript">{"".join(messages)}</div>'


def _user_message(turn: TurnRecord) -> str:
    kind = turn.kind.replace("_", "-")
    if kind == "wait":
        return '<div class="msg wait">… the user stays silent …</div>'
    chips = ""
    if turn.interrupted_agent:
        stop = turn.barge_in_stop_ms
        text = "cut the agent off" + (f" — it stopped in {stop:.0f} ms" if stop is not None else "")
        chips = f'<span class="chip">{escape(text)}</span>'
    said = turn.said or ""
    heard = ""
    if is_transcribed(turn.user_transcript) and turn.user_transcript != said:
        heard = f'<span class="heard">heard: “{escape(turn.user_transcript or "")}”</span>'
    return (
        f'<div class="msg user"><span class="who">user · {escape(kind)}{chips}</span>'
        f"{escape(said)}{heard}</div>"
    )
