"""Preview benchmark: displayed frames/s with three views and overlays, longest GUI stall.

The work happens in ``app/ui/bench/preview.py`` (Qt lives only under app/ui).
"""

from __future__ import annotations

from app.bench import Result, benchmark


@benchmark("preview")
def bench_preview(quick: bool) -> list[Result]:
    from app.ui.bench.preview import run_preview_bench

    return run_preview_bench(quick)
