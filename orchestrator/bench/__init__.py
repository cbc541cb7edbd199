"""``voxray bench``: benchmarks that print a table and, with ``--json``, write their figures.

Each benchmark is a module here that registers one :class:`Benchmark`. Speed goals live here,
never in tests: these machines are shared and noisy, so benchmarks compare ratios measured in
the same run and report medians and tail percentiles.
"""

from __future__ import annotations

from voxray.bench.registry import BENCHMARKS, Benchmark, BenchResult, Figure, run_benchmarks

__all__ = ["BENCHMARKS", "BenchResult", "Benchmark", "Figure", "run_benchmarks"]
