"""Review time in a label file: how long people spent on each frame, and from what.

The annotation-effort question — do pre-labels (projected from RGB, or a model's) save
a reviewer time over labeling from scratch? — needs the time measured per frame, with
the label source the frame had when the person started on it. The review window
measures active seconds (:mod:`app.review.effort`), the store journals them as time
records (:class:`app.labels.journal.TimeSpent`) and saving writes per stream two
per-row datasets:

- ``review_seconds`` (N,) float64: active review seconds summed over every review;
- ``review_source`` (N,) uint8: the row's source code when review time was first
  recorded for it (0 none = from scratch, 1 projected, 2 model, 3 manual);
  :data:`NO_TIME` (255) where no time was ever recorded.

Files written before review time was measured have neither: they read as no time.
"""

from __future__ import annotations

import h5py
import numpy as np

from app.labels.journal import TimeSpent

SECONDS, SOURCE = "review_seconds", "review_source"
#: ``review_source`` of a row nobody spent review time on.
NO_TIME = 255


def read_rows(g: h5py.Group) -> tuple[np.ndarray, np.ndarray]:
    """A stream group's (seconds, starting source) per row; zeros and NO_TIME when
    the file has no review time."""
    n = g["masks"].shape[0]
    seconds = g[SECONDS][()].astype(np.float64) if SECONDS in g else np.zeros(n)
    source = g[SOURCE][()].astype(np.uint8) if SOURCE in g else np.full(n, NO_TIME, np.uint8)
    return seconds, source


class ReviewTimes:
    """The review time of one open label file: as saved, plus what this review added
    (journaled, not yet saved)."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        #: Time records since the last save, in order (a recovered journal's first).
        self.pending: list[TimeSpent] = []

    def load(self, f: h5py.File, streams: list[str]) -> None:
        """Start from the file's saved totals (after a save, or a stream added)."""
        self._rows = {s: read_rows(f[s]) for s in streams}
        self.pending = []

    def track(self, stream: str, g: h5py.Group) -> None:
        """A stream added to the open file (its rows start with no time)."""
        self._rows.setdefault(stream, read_rows(g))

    def add(self, t: TimeSpent) -> None:
        """Count ``t``: its seconds to its row; its source only if the row had no time
        yet (a frame keeps the source it had when a person first started on it)."""
        seconds, source = self._rows[t.stream]
        seconds[t.frame] += t.seconds
        if source[t.frame] == NO_TIME:
            source[t.frame] = t.source
        self.pending.append(t)

    def seconds(self, stream: str) -> np.ndarray:
        return self._rows[stream][0].copy()

    def sources(self, stream: str) -> np.ndarray:
        return self._rows[stream][1].copy()

    def write(self, f: h5py.File) -> None:
        """Write the totals of every stream that has any into ``f`` (open for writing)."""
        for stream, (seconds, source) in self._rows.items():
            if not seconds.any() and SECONDS not in f[stream]:
                continue  # never reviewed: an old file stays as it was
            put(f[stream], seconds, source)


def put(g: h5py.Group, seconds: np.ndarray, source: np.ndarray) -> None:
    """``g``'s review time datasets set to ``seconds`` and ``source`` (created if absent)."""
    for name, data in ((SECONDS, seconds.astype(np.float64)), (SOURCE, source.astype(np.uint8))):
        if name in g:
            g[name][...] = data
        else:
            g.create_dataset(name, data=data)


def carry(old: h5py.Group, new: h5py.Group) -> None:
    """A machine run rewriting a stream keeps its review time: what people spent is a
    fact about the past, whatever the rows hold now."""
    if SECONDS in old and old[SECONDS].shape[0] == new["masks"].shape[0]:
        put(new, *read_rows(old))
