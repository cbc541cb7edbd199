"""How a comparison of two runs is shown: a terminal table, ``compare.html`` in the report's
style, and regressions added to a run's ``junit.xml`` as failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from rich.table import Table
from rich.text import Text
from voxray.evals.compare import CellComparison, Comparison, SideFigures
from voxray.evals.report_style import CSS

__all__ = [
    "COMPARE_PAGE",
    "add_regressions_to_junit",
    "comparison_notes",
    "comparison_table",
    "write_compare_page",
]

COMPARE_PAGE = "compare.html"


def _rate(side: SideFigures | None) -> str:
    if side is None:
        return "—"
    return f"{side.passed_runs}/{side.runs} [{side.pass_rate_low:.0%}-{side.pass_rate_high:.0%}]"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _signed(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:+.0f}{unit}"


def _latency(cell: CellComparison) -> str:
    if cell.a is None or cell.b is None:
        return "—"
    return (
        f"p50 {_ms(cell.a.latency_p50_ms)}→{_ms(cell.b.latency_p50_ms)} "
        f"p95 {_ms(cell.a.latency_p95_ms)}→{_ms(cell.b.latency_p95_ms)}"
    )


def _verdict(cell: CellComparison) -> tuple[str, str]:
    """(label, kind) with kind in pass/fail/skip, as the report's pills."""
    if cell.a is None:
        return "NEW", "skip"
    if cell.b is None:
        return "GONE", "skip"
    if cell.regressed:
        return "REGRESSED", "fail"
    if cell.pass_rate_change and cell.pass_rate_change < 0:
        return "noise", "skip"
    return "ok", "pass"


def _notes(cell: CellComparison) -> list[str]:
    notes = []
    if cell.newly_failing:
        notes.append("newly failing: " + ", ".join(cell.newly_failing))
    if cell.newly_passing:
        notes.append("fixed: " + ", ".join(cell.newly_passing))
    for tool, (a, b) in cell.tool_call_changes.items():
        notes.append(f"{tool} calls/run {a:g}→{b:g}")
    return notes


def comparison_table(comparison: Comparison) -> Table:
    """One row per scenario and condition: passed runs with 95 % intervals, the change and its
    p-value, latency p95, the verdict (:func:`comparison_notes` has what else changed)."""
    table = Table(
        title="voxray compare (A: baseline, B; passed runs [95% CI])", title_justify="left"
    )
    # A narrow terminal wraps cells rather than cutting them: a cut name or interval is lost.
    table.add_column("scenario", overflow="fold")
    table.add_column("A")
    table.add_column("B")
    table.add_column("change", justify="right")
    table.add_column("p95 ms")
    table.add_column("verdict", no_wrap=True, min_width=9)  # REGRESSED
    styles = {"fail": "bold red", "pass": "green", "skip": "yellow"}
    for cell in comparison.cells:
        label, kind = _verdict(cell)
        change = (
            "—"
            if cell.pass_rate_change is None
            else f"{cell.pass_rate_change * 100:+.0f}% p={cell.p_value:.3f}"
        )
        p95 = (
            "—"
            if cell.a is None or cell.b is None
            else f"{_ms(cell.a.latency_p95_ms)}→{_ms(cell.b.latency_p95_ms)}"
        )
        table.add_row(
            cell.name,
            _rate(cell.a),
            _rate(cell.b),
            change,
            p95,
            Text(label, style=styles[kind]),
        )
    return table


def comparison_notes(comparison: Comparison) -> list[str]:
    """What changed beyond the figures, one line per scenario: newly failing and fixed
    checks, tool calls per run."""
    return [
        f"{cell.name}: {'; '.join(notes)}" for cell in comparison.cells if (notes := _notes(cell))
    ]


def _row(cell: CellComparison) -> str:
    label, kind = _verdict(cell)
    change = (
        "—"
        if cell.pass_rate_change is None
        else f"{cell.pass_rate_change * 100:+.0f} pts<br><span class='desc'>p = "
        f"{cell.p_value:.3f}</span>"
    )
    notes = "".join(f"<li>{escape(note)}</li>" for note in _notes(cell))
    row_kind = "fail" if kind == "fail" else "pass"
    return (
        f'<tr class="{row_kind}"><td><b>{escape(cell.scenario)}</b></td>'
        f"<td>{escape(cell.condition)}</td>"
        f'<td class="num">{escape(_rate(cell.a))}</td><td class="num">{escape(_rate(cell.b))}</td>'
        f'<td class="num">{change}</td><td class="num">{escape(_latency(cell))}<br>'
        f'<span class="desc">Δp95 {escape(_signed(cell.latency_p95_change_ms, " ms"))}</span></td>'
        f'<td><span class="pill {kind}">{label}</span></td>'
        f'<td><ul class="kinds">{notes}</ul></td></tr>'
    )


def render_compare_page(comparison: Comparison) -> str:
    """``compare.html``: the comparison as one self-contained page."""
    regressions = comparison.regressions
    verdict = (
        f'<span class="verdict fail">{len(regressions)} REGRESSED</span>'
        if regressions
        else '<span class="verdict pass">NO REGRESSION</span>'
    )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta = (
        f"A (baseline) <code>{escape(comparison.run_a)}</code> · B <code>"
        f"{escape(comparison.run_b)}</code> · generated {generated}"
    )
    rules = (
        f"A regression is a pass-rate drop significant at p &lt; {comparison.alpha:g} "
        "(one-sided Fisher exact test on the runs each side), or a latency p95 that grew by "
        f"more than {comparison.latency_tolerance:.0%} and {comparison.latency_floor_ms:.0f} ms. "
        "Intervals are 95 % Wilson score intervals."
    )
    rows = "".join(_row(cell) for cell in comparison.cells)
    body = (
        f'<header class="top"><h1>voxray compare</h1>{verdict}'
        f'<div class="meta">{meta}</div></header>'
        f'<p class="desc">{rules}</p>'
        '<table class="results"><thead><tr><th>scenario</th><th>condition</th>'
        "<th>A pass [95% CI]</th><th>B pass [95% CI]</th><th>change</th><th>latency ms A→B</th>"
        f"<th>verdict</th><th>notes</th></tr></thead><tbody>{rows}</tbody></table>"
        "<footer>Written by voxray compare.</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>voxray compare</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def write_compare_page(comparison: Comparison, directory: Path) -> Path:
    """Write ``compare.html`` into ``directory``; returns its path."""
    target = directory / COMPARE_PAGE
    target.write_text(render_compare_page(comparison), encoding="utf-8")
    return target


def add_regressions_to_junit(junit: Path, comparison: Comparison) -> None:
    """Add one failing testcase per regression to ``junit`` (a run's ``junit.xml``), in a
    testsuite of its own named ``regressions``, so CI shows what got worse than the baseline
    even when every scenario passed its own checks."""
    regressions = comparison.regressions
    tree = ET.parse(junit)
    root = tree.getroot()
    suite = ET.SubElement(
        root,
        "testsuite",
        name="regressions",
        tests=str(len(comparison.cells)),
        failures=str(len(regressions)),
        errors="0",
        time="0",
    )
    for cell in comparison.cells:
        case = ET.SubElement(suite, "testcase", classname="regressions", name=cell.name)
        if cell.regressed:
            failure = ET.SubElement(case, "failure", type="regression")
            failure.set("message", f"regressed against {comparison.run_a}")
            failure.text = "\n".join(cell.reasons())
    ET.indent(root)
    tree.write(junit, encoding="utf-8", xml_declaration=True)
