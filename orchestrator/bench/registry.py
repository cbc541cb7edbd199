"""The benchmark registry, result model and rendering."""

from __future__ import annotations

import importlib
import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field
from rich.table import Table

__all__ = [
    "BENCHMARKS",
    "BenchResult",
    "Benchmark",
    "Figure",
    "percentile",
    "run_benchmarks",
]

# Modules that define benchmarks; imported lazily so `voxray eval` never pays for them.
_MODULES = (
    "voxray.bench.audio_path",
    "voxray.bench.barge_in",
    "voxray.bench.chaos",
    "voxray.bench.client",
    "voxray.bench.density",
    "voxray.bench.gateway_sip",
    "voxray.bench.gateway",
    "voxray.bench.simulator",
    "voxray.bench.startup",
    "voxray.bench.tools",
    "voxray.bench.wire",
)


class Figure(BaseModel):
    """One measured figure, with its target when the project has one."""

    name: str
    value: float
    unit: str
    target: str | None = None
    met: bool | None = None


class BenchResult(BaseModel):
    """What one benchmark measured."""

    name: str
    description: str
    figures: list[Figure]
    notes: list[str] = Field(default_factory=list)

    def table(self) -> Table:
        """The figures as a rich table."""
        table = Table(title=f"voxray bench {self.name}: {self.description}", title_justify="left")
        for column in ("figure", "value", "unit", "target", "met"):
            table.add_column(column, justify="right" if column == "value" else "left")
        for figure in self.figures:
            met = "" if figure.met is None else ("[green]yes[/green]" if figure.met else "[red]no")
            table.add_row(
                figure.name,
                f"{figure.value:,.3g}" if abs(figure.value) < 1000 else f"{figure.value:,.0f}",
                figure.unit,
                figure.target or "",
                met,
            )
        return table


@dataclass(frozen=True)
class Benchmark:
    """A named benchmark. ``run(quick)`` measures; ``quick`` trims it for smoke checks."""

    name: str
    description: str
    run: Callable[[bool], BenchResult]


BENCHMARKS: dict[str, Benchmark] = {}


def register(benchmark: Benchmark) -> Benchmark:
    """Add a benchmark to the registry (called at import of its module)."""
    BENCHMARKS[benchmark.name] = benchmark
    return benchmark


def _load_all() -> None:
    for module in _MODULES:
        importlib.import_module(module)


def run_benchmarks(
    names: Sequence[str], *, quick: bool = False, on_result: Callable[[BenchResult], None]
) -> list[BenchResult]:
    """Run the named benchmarks (all when ``names`` is empty), reporting each as it ends."""
    _load_all()
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise KeyError(f"unknown benchmark(s) {unknown}; known: {sorted(BENCHMARKS)}")
    results: list[BenchResult] = []
    for name in names or sorted(BENCHMARKS):
        result = BENCHMARKS[name].run(quick)
        results.append(result)
        on_result(result)
    return results


def write_json(results: Sequence[BenchResult], path: Path) -> None:
    """Write every result's figures to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {r.name: r.model_dump(mode="json") for r in results}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (0..1) of ``values``, interpolated."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return statistics.median(values)
