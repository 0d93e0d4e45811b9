"""``thermorig simulate`` and ``thermorig record``: a recording with a progress bar on
stderr and its one-line summary (the engine is :mod:`drivers.recording`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.progress import progress_bar
from drivers import stop_request
from drivers.recorder import RecordingSummary, record
from drivers.stop_request import Interrupted


def record_with_progress(
    driver: Any,
    out: Path,
    *,
    seconds: float | None,
    expected_seconds: float | None = None,
    quiet: bool = False,
    overwrite: bool = False,
    **meta: Any,
) -> RecordingSummary:
    """Record ``driver`` into ``out`` until ``seconds``, the source's end or a stop
    signal (then :class:`Interrupted` carries the summary line).

    ``expected_seconds`` sizes the bar when the source ends by itself (a simulation).
    """
    total = seconds or expected_seconds
    with progress_bar(total, desc=f"recording {out.name}", quiet=quiet) as bar:

        def on_progress(_: float, stats: dict) -> None:
            elapsed = stats["elapsed"]
            bar.n = min(elapsed, total) if total else elapsed
            bar.set_postfix_str(
                " ".join(f"{k}={v}" for k, v in stats.get("frames", {}).items()), refresh=False
            )
            bar.refresh()

        summary = record(
            driver, out, seconds=seconds, progress=on_progress, overwrite=overwrite, **meta
        )
    signum = stop_request.requested()
    if signum is not None:  # Ctrl-C or SIGTERM ended it: the file is closed and complete
        raise Interrupted(signum, format_summary(summary))
    return summary


def _gaps_note(gaps: list) -> str:
    """``, 1 gap (thermal for 5.1 s: why)``: the first outage, and how many more."""
    if not gaps:
        return ""
    first = gaps[0]
    span = "until the end" if first.end is None else f"for {first.end - first.start:.1f} s"
    more = f"; {len(gaps) - 1} more" if len(gaps) > 1 else ""
    plural = "s" if len(gaps) > 1 else ""
    return f", {len(gaps)} gap{plural} ({first.stream} {span}: {first.message}{more})"


def format_summary(summary: RecordingSummary) -> str:
    frames = ", ".join(f"{n} {c}" for n, c in summary.frames.items())
    dropped = (
        sum(summary.dropped.values()) if isinstance(summary.dropped, dict) else summary.dropped
    )
    raw = sum(summary.stored_raw.values())
    lost = sum(summary.source_dropped.values())
    notes = f", {raw} stored uncompressed (the machine was busy)" if raw else ""
    notes += f", {lost} lost at the source" if lost else ""
    notes += _gaps_note(summary.gaps)
    return (
        f"wrote {summary.path}: {frames} frames in {summary.seconds:.1f} s, "
        f"{summary.bytes / 1e6:.1f} MB, {dropped} dropped{notes}"
    )
