"""Grouping frames of free-running cameras into FrameSets by timestamp.

The slowest stream is the pivot: each of its frames defines an instant, and every other
stream contributes its nearest frame within a tolerance (default half the pivot's
period). Pivoting on the slowest stream means each set has a fresh frame of every
stream and no stream's frame is reused, unless frames were dropped.

Two forms share one rule: :class:`Synchronizer` is fed frame by frame during capture
(constant work per frame, never waits for a stream that stalled), and
:func:`match_timestamps` does the same on whole timestamp arrays of a recorded
session (``thermorig info``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drivers.types import Frame, FrameSet, StreamSpec


def choose_pivot(streams: dict[str, StreamSpec]) -> str:
    """The slowest stream; ties go to thermal, the stream labels are made for."""
    order = {"thermal": 0, "depth": 1, "color": 2, "ir": 3}
    return min(streams, key=lambda n: (streams[n].fps or float("inf"), order.get(n, 9), n))


def default_tolerance(streams: dict[str, StreamSpec], pivot: str) -> float:
    fps = streams[pivot].fps
    return 0.5 / fps if fps > 0 else 0.05


@dataclass
class OffsetStats:
    """Running mean and spread of one stream's timestamp minus the pivot's."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        d = x - self.mean
        self.mean += d / self.n
        self.m2 += d * (x - self.mean)

    @property
    def std(self) -> float:
        return (self.m2 / (self.n - 1)) ** 0.5 if self.n > 1 else 0.0


@dataclass
class SyncStats:
    """What a person needs to trust the grouping: how many sets, what was lost, skew."""

    pivot: str
    tolerance: float
    sets: int = 0
    complete: int = 0
    matched: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    unmatched: dict[str, int] = field(default_factory=dict)
    duplicated: dict[str, int] = field(default_factory=dict)
    offsets: dict[str, OffsetStats] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pivot": self.pivot,
            "tolerance_s": self.tolerance,
            "sets": self.sets,
            "complete_sets": self.complete,
            "matched": dict(self.matched),
            "missing": dict(self.missing),
            "unmatched": dict(self.unmatched),
            "duplicated": dict(self.duplicated),
            "offset_ms": {
                n: {"mean": round(o.mean * 1e3, 3), "std": round(o.std * 1e3, 3)}
                for n, o in self.offsets.items()
            },
        }


class Synchronizer:
    """Online grouping: ``push`` each frame as it arrives, get finished FrameSets back.

    A pivot frame is finished once every other stream has delivered a frame later than
    ``pivot time + tolerance`` (no better partner can come) or once the pivot has moved
    on by ``max_wait`` seconds (that stream stalled: the set goes out without it).
    """

    def __init__(
        self,
        streams: dict[str, StreamSpec],
        pivot: str | None = None,
        tolerance: float | None = None,
        max_wait: float = 0.5,
    ):
        self.pivot = pivot or choose_pivot(streams)
        self.tolerance = default_tolerance(streams, self.pivot) if tolerance is None else tolerance
        self.max_wait = max_wait
        self.others = [n for n in streams if n != self.pivot]
        self._buffers: dict[str, deque[Frame]] = {n: deque() for n in self.others}
        self._used_last: dict[str, int] = {n: -1 for n in self.others}
        self._used: dict[str, set[int]] = {n: set() for n in self.others}
        self._latest: dict[str, float] = {n: -np.inf for n in self.others}
        self._pending: deque[Frame] = deque()
        self._count = 0
        self.stats = SyncStats(
            pivot=self.pivot,
            tolerance=self.tolerance,
            matched={n: 0 for n in self.others},
            missing={n: 0 for n in self.others},
            unmatched={n: 0 for n in self.others},
            duplicated={n: 0 for n in self.others},
            offsets={n: OffsetStats() for n in self.others},
        )

    def push(self, frame: Frame) -> list[FrameSet]:
        if frame.stream == self.pivot:
            self._pending.append(frame)
        elif frame.stream in self._buffers:
            self._buffers[frame.stream].append(frame)
            self._latest[frame.stream] = max(self._latest[frame.stream], frame.timestamp)
        else:
            return []
        return self._drain(final=False)

    def flush(self) -> list[FrameSet]:
        """Finish every pending pivot frame with what has arrived (end of a recording)."""
        out = self._drain(final=True)
        for name, buf in self._buffers.items():
            self.stats.unmatched[name] += sum(1 for f in buf if f.index not in self._used[name])
            buf.clear()
            self._used[name].clear()
        return out

    def _drain(self, final: bool) -> list[FrameSet]:
        out: list[FrameSet] = []
        newest_pivot = self._pending[-1].timestamp if self._pending else -np.inf
        while self._pending:
            head = self._pending[0]
            ready = final or all(
                self._latest[n] > head.timestamp + self.tolerance
                or newest_pivot - head.timestamp >= self.max_wait
                for n in self.others
            )
            if not ready:
                break
            self._pending.popleft()
            out.append(self._make_set(head))
        return out

    def _make_set(self, pivot_frame: Frame) -> FrameSet:
        t = pivot_frame.timestamp
        fs = FrameSet(index=self._count, timestamp=t, pivot=self.pivot)
        fs.frames[self.pivot] = pivot_frame
        self._count += 1
        stats = self.stats
        for name in self.others:
            buf = self._buffers[name]
            # Frames too old to partner this or any later pivot frame are done with.
            while buf and buf[0].timestamp < t - self.tolerance:
                old = buf.popleft()
                if old.index in self._used[name]:
                    self._used[name].discard(old.index)
                else:
                    stats.unmatched[name] += 1
            best = min(buf, key=lambda f: abs(f.timestamp - t), default=None)
            if best is None or abs(best.timestamp - t) > self.tolerance:
                stats.missing[name] += 1
                continue
            if best.index <= self._used_last[name]:
                stats.duplicated[name] += 1
            self._used_last[name] = max(self._used_last[name], best.index)
            self._used[name].add(best.index)
            fs.frames[name] = best
            stats.matched[name] += 1
            stats.offsets[name].add(best.timestamp - t)
        stats.sets += 1
        if len(fs.frames) == len(self.others) + 1:
            stats.complete += 1
        return fs


def match_timestamps(
    timestamps: dict[str, np.ndarray],
    fps: dict[str, float],
    pivot: str | None = None,
    tolerance: float | None = None,
) -> tuple[dict[str, np.ndarray], SyncStats]:
    """Offline grouping of recorded timestamps by the same rule as :class:`Synchronizer`.

    Returns, per stream, the index of the frame matched to each pivot frame (−1 where
    none was within tolerance), and the statistics.
    """
    specs = {
        n: StreamSpec(name=n, kind=n, shape=(1, 1), dtype="uint8", units="", fps=fps.get(n, 0.0))
        for n in timestamps
    }
    pivot = pivot or choose_pivot(specs)
    tol = default_tolerance(specs, pivot) if tolerance is None else tolerance
    tp = np.asarray(timestamps[pivot], dtype=np.float64)
    others = [n for n in timestamps if n != pivot]
    stats = SyncStats(pivot=pivot, tolerance=tol, sets=len(tp))
    matches: dict[str, np.ndarray] = {pivot: np.arange(len(tp))}
    complete = np.ones(len(tp), dtype=bool)
    for name in others:
        ts = np.asarray(timestamps[name], dtype=np.float64)
        idx = nearest_rows(tp, ts)
        ok = (idx >= 0) & (np.abs(ts[np.clip(idx, 0, None)] - tp) <= tol) if len(ts) else idx >= 0
        idx = np.where(ok, idx, -1)
        matches[name] = idx
        complete &= ok
        used = idx[ok]
        stats.matched[name] = int(ok.sum())
        stats.missing[name] = int((~ok).sum())
        stats.duplicated[name] = int(len(used) - len(np.unique(used)))
        stats.unmatched[name] = int(len(ts) - len(np.unique(used)))
        off = OffsetStats()
        for d in ts[used] - tp[ok]:
            off.add(float(d))
        stats.offsets[name] = off
    stats.complete = int(complete.sum())
    return matches, stats


def nearest_rows(query: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Index of the nearest element of sorted ``ts`` for each query (−1 if ``ts`` is
    empty; the earlier one on a tie)."""
    if len(ts) == 0:
        return np.full(len(query), -1, dtype=np.int64)
    right = np.clip(np.searchsorted(ts, query), 1, len(ts) - 1) if len(ts) > 1 else None
    if right is None:
        return np.zeros(len(query), dtype=np.int64)
    left = right - 1
    pick_left = np.abs(ts[left] - query) <= np.abs(ts[right] - query)
    return np.where(pick_left, left, right).astype(np.int64)
