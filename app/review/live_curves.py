"""Temperature curves kept current while a person edits, without saving (GUI-free).

The curves of a whole session are computed once, on a thread, from the label file
(:func:`app.analysis.curves.compute_curves`). An edit changes one frame's row; reading
the file again would need a save first — which the review window used to do behind a
person's back. Instead the window notes the frames each edit touched and, a moment
after the last edit, :func:`update_rows` recomputes just those rows from the store's
current masks and statuses, by the same rules: a frame counts when it is labeled and
not rejected, its masks eroded as in the full computation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from app.analysis.curves import TemperatureCurves, frame_stats
from app.labels.sidecar import SOURCE_NONE, STATUS_REJECTED
from drivers.types import centikelvin_to_celsius


def update_rows(
    curves: TemperatureCurves,
    frames: Iterable[int],
    thermal_of: Callable[[int], np.ndarray],
    mask_of: Callable[[int], np.ndarray],
    status: np.ndarray,
    source: np.ndarray,
) -> list[int]:
    """Recompute the rows of ``frames`` in place; the rows recomputed (in order)."""
    n_classes = len(curves.classes) + 1
    done = []
    for i in sorted({int(f) for f in frames}):
        if not 0 <= i < len(curves):
            continue
        if source[i] == SOURCE_NONE or status[i] == STATUS_REJECTED:
            row = np.full((n_classes - 1, 4), np.nan)
            row[:, 3] = 0
        else:
            celsius = centikelvin_to_celsius(thermal_of(i))
            row = frame_stats(celsius, mask_of(i), n_classes, curves.erode_px)
        curves.mean[i], curves.median[i], curves.max[i] = row[:, 0], row[:, 1], row[:, 2]
        curves.count[i] = row[:, 3].astype(np.int64)
        done.append(i)
    return done


def frames_in_history(history, stream: str = "thermal") -> set[int]:
    """Frames touched by the steps of a store's undo/redo history (a recovered journal's
    edits are there too: not yet in the file the full computation reads)."""
    records = list(history.undo) + list(history.redo)
    return {int(c.frame) for r in records for c in r.changes if c.stream == stream}
