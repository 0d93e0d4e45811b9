"""Review benchmark: frame switch and brush-stroke latency of the label review window.

The work happens in ``app/ui/bench/review.py`` (Qt lives only under app/ui).
"""

from __future__ import annotations

from app.bench import Result, benchmark


@benchmark("review")
def bench_review(quick: bool) -> list[Result]:
    from app.ui.bench.review import run_review_bench

    return run_review_bench(quick)
