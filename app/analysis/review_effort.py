"""Annotation effort: review seconds per frame by the label source a person started from.

The figure that says whether pre-labels (projected from RGB, or a model's) save a
reviewer time over labeling from scratch: per stream and starting source, how many
frames people worked on and the median, mean and total active seconds per frame
(active as :mod:`app.review.effort` counts it). Read from label files' saved review
time (:mod:`app.labels.review_time`) plus any time a review journal holds that was
not saved yet (a killed window's), over one file or a whole study's.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import h5py
import numpy as np

from app.labels.recovery import SAVED, read_state
from app.labels.review_time import ReviewTimes
from app.labels.sidecar import SOURCE_NAMES, LabelReader, LabelsError
from app.review.effort import IDLE_CAP_S


def expand(paths: list[Path]) -> list[Path]:
    """``paths`` with glob patterns expanded (the shell does it on Unix, not on
    Windows); LabelsError for a name that matches nothing."""
    out: list[Path] = []
    for p in paths:
        if p.exists() or not glob.has_magic(str(p)):
            if not p.is_file():
                raise LabelsError(f"label file not found: {p}")
            out.append(p)
            continue
        hits = sorted(Path(h) for h in glob.glob(str(p)) if os.path.isfile(h))
        if not hits:
            raise LabelsError(f"no label file matches {p}")
        out += hits
    return list(dict.fromkeys(out))


def file_times(path: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], float]:
    """Per stream of one label file (seconds, starting source) per row, saved and
    journaled; and how many of those seconds are only in the journal."""
    with LabelReader(path, check_journal=False) as lr:
        streams, layout = lr.streams, lr.layout()
        generation, applied, n_classes = lr.generation, lr.journal_applied, len(lr.classes)
    times = ReviewTimes()
    with h5py.File(path, "r") as f:
        times.load(f, streams)
    state = read_state(path, generation, applied, layout, n_classes)
    unsaved = 0.0
    if state.origin != SAVED:
        for t in state.times:
            times.add(t)
            unsaved += t.seconds
    return {s: (times.seconds(s), times.sources(s)) for s in streams}, unsaved


def _figures(seconds: np.ndarray) -> dict:
    return {
        "frames": int(seconds.size),
        "median_s": round(float(np.median(seconds)), 2),
        "mean_s": round(float(seconds.mean()), 2),
        "total_s": round(float(seconds.sum()), 1),
    }


def review_time_report(paths: list[Path]) -> dict:
    """The report over ``paths``: per stream, per starting source, the frames with
    review time and their seconds; the files with none listed apart."""
    pooled: dict[str, dict[str, list[np.ndarray]]] = {}
    without, unsaved = [], 0.0
    for path in paths:
        rows, pending = file_times(path)
        unsaved += pending
        any_time = False
        for stream, (seconds, source) in rows.items():
            has = seconds > 0
            any_time |= bool(has.any())
            for code in np.unique(source[has]):
                name = SOURCE_NAMES[code] if code < len(SOURCE_NAMES) else "unknown"
                pooled.setdefault(stream, {}).setdefault(name, []).append(
                    seconds[has & (source == code)]
                )
        if not any_time:
            without.append(str(path))
    streams = {
        stream: {
            name: _figures(np.concatenate(parts))
            for name, parts in sorted(by.items(), key=lambda kv: _order(kv[0]))
        }
        for stream, by in sorted(pooled.items())
    }
    return {
        "files": [str(p) for p in paths],
        "idle_cap_s": IDLE_CAP_S,
        "unsaved_s": round(unsaved, 1),
        "streams": streams,
        "without_review_time": without,
    }


def _order(name: str) -> int:
    return SOURCE_NAMES.index(name) if name in SOURCE_NAMES else len(SOURCE_NAMES)


def report_lines(report: dict) -> list[str]:
    """The report as text: one table per stream; one line per file with no time."""
    lines = []
    for path in report["without_review_time"]:
        lines.append(
            f"{Path(path).name}: no review time recorded (never reviewed since it was measured)"
        )
    for stream, by in report["streams"].items():
        lines.append(
            f"{stream}: active review seconds per frame by the label source the reviewer started"
            f" from (gaps over {report['idle_cap_s']:g} s count {report['idle_cap_s']:g} s)"
        )
        lines.append(
            f"  {'started from':14s} {'frames':>6s} {'median s':>9s} {'mean s':>8s} {'total s':>9s}"
        )
        for name, fig in by.items():
            label = "scratch (none)" if name == "none" else name
            lines.append(
                f"  {label:14s} {fig['frames']:6d} {fig['median_s']:9.1f} {fig['mean_s']:8.1f}"
                f" {fig['total_s']:9.1f}"
            )
    if report["unsaved_s"]:
        lines.append(f"includes {report['unsaved_s']:g} s only in review journals (not saved yet)")
    return lines
