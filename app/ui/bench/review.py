"""The review benchmark's Qt side (``app/bench/review.py`` registers it).

Runs the real review window offscreen at 1400×850 on a synthetic cycling session at
full size (thermal 640×512, RGB 1280×720) with projected-style labels, and measures
what a person waits for:

- frame switch: from "go to frame i" until the thermal view has repainted the new
  thermogram and mask, and until the RGB view beside it shows frame i's RGB partner
  too (read on the window's prefetch thread, drawn from the event loop), in two ways
  a person moves: *steps* (the arrow key held: one frame on, at a key repeat of
  30/s, so the neighbours read ahead are there) and *jumps* (7 frames on, strided so
  nothing read ahead or cached helps; the next jump once the window is idle again, as
  a person looks at the frame jumped to). Target for both: p95 <= 30 ms;
- brush stroke: each of ~20 mouse-move segments painted into the working copy and
  the overlay redrawn on screen; then the commit on release (LabelStore.set_mask,
  journal fsync'd, timeline and texts updated) — one undo step.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from app.bench import Result

TARGET_SWITCH_MS = 30.0
#: A held arrow key repeats about 30 times a second (25-33/s by OS default).
KEY_REPEAT_S = 1 / 30
TARGET_SEGMENT_MS = 16.0
SEGMENTS = 20


def _make_session(folder: Path, seconds: float) -> tuple[Path, Path]:
    """A full-size synthetic cycling session and a label file holding its true thermal
    masks as projected labels (what autolabel would write, without its minute)."""
    from app.labels.sidecar import SOURCE_PROJECTED
    from app.labels.sidecar_writer import LabelWriter
    from drivers.recorder import record
    from drivers.session import SessionReader
    from drivers.synthetic import open_synthetic

    session, labels = folder / "cycling.h5", folder / "cycling.labels.h5"
    driver = open_synthetic(
        "cycling", realtime=False, duration=seconds, hw_sync=True, phases_per_cycle=30
    )
    driver.open()
    try:
        record(driver, session, activity="cycling")
    finally:
        driver.close()
    with SessionReader(session) as s:
        n, shape = s.count("thermal"), s.streams["thermal"].shape[:2]
        with LabelWriter(labels, session=session, classes=s.truth["classes"]) as w:
            w.create_stream("thermal", n, shape, extras=("confidence",))
            for i in range(n):
                truth = s.frame("thermal", i).truth["labels"]
                conf = np.array([np.nan, 0.9 - 0.01 * i, 0.85], np.float32)
                w.write("thermal", i, truth, SOURCE_PROJECTED, confidence=conf)
    return session, labels


def _painted(view) -> bool:
    """pyqtgraph renders an image item's QImage in its paint(): None means not yet."""
    return view.image.qimage is not None


def _settle(app, window, i: int, limit_s: float = 2.0) -> bool:
    """Run the event loop until the RGB view beside shows frame ``i``'s partner, drawn
    (False if it did not within ``limit_s``)."""
    sides, want = window.sides, ("color", window.frames.partner("color", i))
    end = time.perf_counter() + limit_s
    while time.perf_counter() < end:
        app.processEvents()
        if sides._shown == want and sides._waiting is None and _painted(window.rgb):
            return True
        time.sleep(0.0002)
    return False


def _idle(app, window) -> None:
    """Let the prefetch thread finish reading ahead (a person looks at a frame)."""
    while window.sides.cache.pending():
        app.processEvents()
        time.sleep(0.001)


def _switches(app, window, n_switches: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds until the thermal view shows frame i (repainted), and until the
    RGB view beside it does too; ``step`` 1: at the key repeat rate, else jumps."""
    n = window.frames.count
    thermal, both = [], []
    for k in range(n_switches + 3):
        i = (window.index + step) % n
        t0 = time.perf_counter()
        window.go_to(i)
        window.canvas.glw.viewport().repaint()  # synchronous: the thermal view is on screen
        t1 = time.perf_counter()
        painted = _painted(window.canvas)
        settled = _settle(app, window, i)
        t2 = time.perf_counter()
        if not (painted and settled):
            raise RuntimeError("the review views did not show the frame switched to")
        if k >= 3:  # the first switches warm caches and the lazily built widgets
            thermal.append(t1 - t0)
            both.append(t2 - t0)
        if step == 1:
            while time.perf_counter() - t0 < KEY_REPEAT_S:
                app.processEvents()
                time.sleep(0.001)
        else:
            _idle(app, window)
    return 1e3 * np.asarray(thermal), 1e3 * np.asarray(both)


def _strokes(app, window, n_strokes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-segment and per-commit milliseconds over ``n_strokes`` strokes."""
    canvas = window.canvas
    h, w = window.frames.shape
    segments, commits = [], []
    rng = np.random.default_rng(0)
    for s in range(n_strokes):
        window.go_to(s % window.frames.count)
        app.processEvents()
        x0, y0 = rng.uniform(0.2 * w, 0.6 * w), rng.uniform(0.2 * h, 0.8 * h)
        canvas.press(x0, y0)
        app.processEvents()
        for k in range(1, SEGMENTS + 1):
            t0 = time.perf_counter()
            canvas.move(x0 + 8.0 * k, y0 + 3.0 * np.sin(k / 3.0))
            app.processEvents()
            segments.append(time.perf_counter() - t0)
            if canvas.overlay.qimage is None:
                raise RuntimeError("the mask overlay did not repaint after a brush segment")
        t0 = time.perf_counter()
        canvas.release()
        app.processEvents()
        commits.append(time.perf_counter() - t0)
    return 1e3 * np.asarray(segments), 1e3 * np.asarray(commits)


def _figure(name: str, ms: np.ndarray, target: float, what: str, of: str = "") -> Result:
    """A row: the median, with p95 and max in the note and the target (``of``: which
    figure the target is for, e.g. "p95")."""
    p95 = np.percentile(ms, 95)
    met = ""
    if of == "p95":
        met = " (met)" if p95 <= target else " (not met)"
    return Result(
        "review",
        name,
        float(np.median(ms)),
        "ms",
        note=f"median; p95 {p95:.1f} ms, max {ms.max():.1f} ms over"
        f" {len(ms)} {what}; target {of + ' ' if of else ''}<= {target:g} ms{met}",
    )


def run_review_bench(quick: bool) -> list[Result]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.ui.app import make_app

    app = make_app()
    from app.labels.store import LabelStore
    from app.review.frames import ReviewFrames
    from app.ui.review.window import ReviewWindow

    with tempfile.TemporaryDirectory() as tmp:
        session, labels = _make_session(Path(tmp), 0.5 if quick else 1.0)
        frames = ReviewFrames(session)
        store = LabelStore.open(labels, session)
        window = ReviewWindow(frames, store, curves=False)
        try:
            window.resize(1400, 850)
            window.show()
            for _ in range(5):
                app.processEvents()
                time.sleep(0.01)
            steps = _switches(app, window, 15 if quick else 60, 1)
            jump = 7 if frames.count > 14 else 3
            jumps = _switches(app, window, 15 if quick else 50, jump)
            segments, commits = _strokes(app, window, 3 if quick else 10)
        finally:
            window.close()
            window.deleteLater()
            app.processEvents()
    size = f"{frames.shape[1]}x{frames.shape[0]}"
    return [
        _figure(
            f"frame step {size} (key held): thermal + mask read and repainted",
            steps[0], TARGET_SWITCH_MS, "steps", "p95",
        ),
        _figure(
            "frame step incl. the 1280x720 RGB frame beside it (read ahead)",
            steps[1], TARGET_SWITCH_MS, "steps", "p95",
        ),
        _figure(
            f"frame jump {size} ({jump} on, nothing cached): thermal + mask repainted",
            jumps[0], TARGET_SWITCH_MS, "jumps", "p95",
        ),
        _figure(
            "frame jump incl. the 1280x720 RGB frame beside it (read off the GUI thread)",
            jumps[1], TARGET_SWITCH_MS, "jumps", "p95",
        ),
        _figure(
            f"brush segment {size}: paint + overlay redrawn on screen",
            segments, TARGET_SEGMENT_MS, "segments",
        ),
        _figure(
            f"stroke commit ({SEGMENTS} segments): LabelStore.set_mask, journal fsync'd",
            commits, TARGET_SEGMENT_MS * 4, "strokes",
        ),
    ]  # fmt: skip
