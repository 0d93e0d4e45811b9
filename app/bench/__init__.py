"""``thermorig bench``: a registry of benchmarks that later capabilities extend.

Each benchmark is a function ``(quick: bool) -> list[Result]`` registered by name with
:func:`benchmark`. Results carry a figure, its unit and, where a peer was run side by
side (``rs.align``, h5py without compression, torch eager), the peer's figure, so the
table reports ratios measured on the same machine in the same run.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Result:
    group: str
    name: str
    value: float
    unit: str
    peer: str = ""
    peer_value: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Peer time over ours (> 1: we are faster) for time units; None without a peer."""
        if self.peer_value is None or not self.value:
            return None
        return self.peer_value / self.value

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ratio"] = None if self.ratio is None else round(self.ratio, 3)
        return d


BenchFn = Callable[[bool], list[Result]]

#: name -> function, filled by the modules in BENCH_MODULES when first needed.
BENCHMARKS: dict[str, BenchFn] = {}

#: Modules that register benchmarks; later issues append theirs.
BENCH_MODULES = (
    "app.bench.foundation",
    "app.bench.recording_load",
    "app.bench.calibration",
    "app.bench.preview",
    "app.bench.projection",
    "app.bench.models",
    "app.bench.review",
    "app.bench.rig_check",
    "app.bench.batch",
)


def benchmark(name: str) -> Callable[[BenchFn], BenchFn]:
    def deco(fn: BenchFn) -> BenchFn:
        BENCHMARKS[name] = fn
        return fn

    return deco


def load_benchmarks() -> dict[str, BenchFn]:
    for module in BENCH_MODULES:
        importlib.import_module(module)
    return BENCHMARKS


def time_calls(fn: Callable[[], object], repeat: int, warmup: int = 1) -> np.ndarray:
    """Seconds per call, ``repeat`` samples after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = np.empty(repeat)
    for i in range(repeat):
        t0 = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - t0
    return out


def format_value(value: float) -> str:
    """A figure as the table and README show it: three digits, whole above 10⁴."""
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"


def format_table(results: list[Result]) -> str:
    rows = [("group", "benchmark", "value", "unit", "peer", "peer value", "ratio", "note")]
    for r in results:
        rows.append(
            (
                r.group,
                r.name,
                format_value(r.value),
                r.unit,
                r.peer,
                "" if r.peer_value is None else f"{r.peer_value:.3g}",
                "" if r.ratio is None else f"{r.ratio:.2f}x",
                r.note,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
