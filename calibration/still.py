"""Views of a board from a recorded session: where it stood still, seen by each camera.

Free-running cameras expose up to half a frame apart, so a board moving at 0.5 m/s
is centimetres away from where the other camera saw it: views of a moving board
bias a stereo calibration. Only *still* poses are used, and one view per camera per
pose is made by averaging a few frames (less noise, and one view per pose keeps the
held-out folds honest). Detecting the board costs 20-80 ms a frame, so not every
frame is searched:

1. motion scan — every detection stream is read at ~``scan_hz``, shrunk, and
   consecutive scanned frames differenced; pixels changing far beyond the noise
   mean the board (or anything) moved between them;
2. still intervals — the time between motions of any stream, minus a guard;
3. sampling — ``samples`` instants spread over each interval; in every camera the
   nearest frame is searched, and the detections of one pose must agree (median
   corner drift ≤ ``max_drift_px``: corner motion small between frames) before they
   are averaged into the pose's view.

A corner drifting by ``d`` px over the sampled span ``s`` moves ``d · Δt / s`` px in a
time offset ``Δt`` between cameras: 0.2 px over 0.7 s is < 0.01 px at 16 ms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from calibration.boards import Board, parse_board
from calibration.detect import Detection, detect, validate
from drivers.errors import ThermorigError
from drivers.session import SessionReader

#: Rig camera → the streams its board views may come from, in order of preference
#: (the depth camera sees a board only in its IR / amplitude image).
CAMERA_STREAMS: dict[str, tuple[str, ...]] = {
    "depth": ("ir",),
    "thermal": ("thermal",),
    "color": ("color",),
}

#: ``progress(stage, done, total)`` — called as work proceeds, so that a caller can
#: show that calibration is not hung.
Progress = Callable[[str, int, int], None]


class SessionViewsError(ThermorigError):
    """A session that lacks what a rig calibration needs."""


@dataclass
class StillPose:
    """An interval (host-clock seconds) during which nothing in view moved."""

    index: int
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class View:
    """One camera's view of one still pose: the detections of its frames, averaged.

    ``pose`` is the key that matches views of different cameras (same board pose);
    ``drift`` is the largest median corner displacement between its frames (px).
    """

    camera: str
    stream: str
    pose: int
    time: float
    detection: Detection
    frames: list[int]
    drift: float = 0.0


@dataclass
class SessionViews:
    """Every camera's views of every still pose, and why some are missing."""

    board: str
    streams: dict[str, str]
    poses: list[StillPose]
    views: dict[str, list[View]]
    rejected: dict[str, dict[int, str]] = field(default_factory=dict)
    frames_searched: int = 0
    hw_sync: bool = False


def camera_streams(available: Sequence[str], cameras: Sequence[str]) -> dict[str, str]:
    """Camera → the session stream its board views come from; error if one has none."""
    out = {}
    for cam in cameras:
        options = CAMERA_STREAMS.get(cam, (cam,))
        found = next((s for s in options if s in available), None)
        if found is None:
            if cam == "depth":
                raise SessionViewsError(
                    "the session has no 'ir' stream, so the depth camera cannot see the "
                    "board; record the depth camera's IR (amplitude) stream too"
                )
            raise SessionViewsError(
                f"the session has no '{options[0]}' stream for the {cam} camera "
                f"(it has {', '.join(sorted(available))}); record all cameras of the rig"
            )
        out[cam] = found
    return out


def _small(image: np.ndarray, width: int = 160) -> np.ndarray:
    """A frame shrunk (pixel-area average) to ``width`` columns, float32 gray."""
    img = np.asarray(image)
    if img.ndim == 3:
        img = cv2.cvtColor(img[:, :, :3], cv2.COLOR_RGB2GRAY)
    h, w = img.shape[:2]
    scale = min(1.0, width / w)
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    return cv2.resize(img.astype(np.float32), size, interpolation=cv2.INTER_AREA)


#: Intensity bins of the noise model (noise grows with the signal in IR and RGB).
_NOISE_BINS = 16


def motion_intervals(
    reader: SessionReader,
    stream: str,
    scan_hz: float = 10.0,
    threshold: float = 8.0,
    min_fraction: float = 0.002,
    progress: Progress | None = None,
) -> list[tuple[float, float]]:
    """Time intervals between scanned frames of ``stream`` across which something moved.

    A scanned pair moved when more than ``min_fraction`` of the shrunk pixels changed
    by more than ``threshold`` × the typical change of pixels of their brightness —
    the median over all pairs, i.e. noise, since most of the time and most of the
    image are still. Noise is modelled per brightness bin because shot noise makes a
    white board noisier than a dark wall.
    """
    ts = reader.timestamps(stream)
    fps = reader.streams[stream].fps or (1.0 / np.median(np.diff(ts)) if len(ts) > 1 else 30.0)
    step = max(1, int(round(fps / scan_hz)))
    idx = list(range(0, len(ts), step))
    mids, diffs, prev = [], [], None
    for n, i in enumerate(idx):
        cur = _small(reader.frame(stream, i).array)
        if prev is not None:
            diffs.append(np.abs(cur - prev).ravel())
            mids.append(((cur + prev) * 0.5).ravel())
        prev = cur
        if progress is not None:
            progress(f"scanning {stream}", n + 1, len(idx))
    if not diffs:
        return []
    mid, diff = np.stack(mids), np.stack(diffs)
    edges = np.unique(
        np.quantile(mid[:: max(1, len(mid) // 20)], np.linspace(0, 1, _NOISE_BINS + 1)[1:-1])
    )
    bins = np.digitize(mid, edges)
    noise = np.array(
        [np.median(diff[bins == b]) if (bins == b).any() else 0.0 for b in range(len(edges) + 1)]
    )
    floor = max(float(np.median(diff)), 1e-6)
    limit = threshold * np.maximum(noise, 0.25 * floor)[bins]
    moved = np.mean(diff > limit, axis=1) > min_fraction
    return [(float(ts[idx[k]]), float(ts[idx[k + 1]])) for k in np.flatnonzero(moved)]


def still_poses(
    reader: SessionReader,
    streams: Sequence[str],
    scan_hz: float = 10.0,
    min_still_s: float = 0.4,
    progress: Progress | None = None,
) -> list[StillPose]:
    """Intervals in which no scanned stream saw motion, shrunk by a guard."""
    moving: list[tuple[float, float]] = []
    start, end, period = -math.inf, math.inf, 0.0
    for s in streams:
        ts = reader.timestamps(s)
        if len(ts) == 0:
            continue
        start, end = max(start, float(ts[0])), min(end, float(ts[-1]))
        fps = reader.streams[s].fps or 30.0
        period = max(period, 1.0 / fps)
        moving += motion_intervals(reader, s, scan_hz, progress=progress)
    if not math.isfinite(start) or end <= start:
        return []
    # Motion is known only to the scan step: keep a step plus a frame clear of it.
    guard = 1.0 / scan_hz + period
    moving.sort()
    poses, t = [], start
    for a, b in moving + [(end, end)]:
        lo, hi = (t + guard if t > start else t), a - guard
        if hi - lo >= min_still_s:
            poses.append(StillPose(len(poses), lo, hi))
        t = max(t, b)
    return poses


def _drift(a: Detection, b: Detection) -> float:
    """Median displacement (px) of two detections' common corners; infinite with fewer
    than 4 in common (a different labelling)."""
    common, ia, ib = np.intersect1d(a.ids, b.ids, return_indices=True)
    if len(common) < 4:
        return math.inf
    return float(np.median(np.linalg.norm(a.image_points[ia] - b.image_points[ib], axis=1)))


def agreeing(dets: list[Detection], max_drift_px: float) -> tuple[list[int], float]:
    """Indices of the largest majority of detections that agree with one of them, and
    the largest drift among all of them (px).

    A single odd detection (a flipped labelling, a frame caught as the board started
    to move) is outvoted; when no majority agrees the pose was not still: empty.
    """
    n = len(dets)
    D = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            D[i, j] = D[j, i] = _drift(dets[i], dets[j])
    worst = float(D.max()) if n > 1 else 0.0
    best: list[int] = []
    for i in range(n):
        near = [j for j in range(n) if D[i, j] <= max_drift_px]
        if len(near) > len(best) and all(D[j, k] <= 2 * max_drift_px for j in near for k in near):
            best = near
    return (best if 2 * len(best) > n else []), worst


def average(dets: list[Detection], board: Board, source: str) -> Detection | None:
    """One detection from several of a still board: corners seen in at least half of
    them, positions averaged (noise falls with the square root of their number)."""
    ids = np.concatenate([d.ids for d in dets])
    uniq, counts = np.unique(ids, return_counts=True)
    keep = uniq[counts * 2 >= len(dets)]
    if len(keep) < board.min_corners():
        return None
    pts = np.zeros((len(keep), 2))
    num = np.zeros(len(keep))
    for d in dets:
        common, ik, idet = np.intersect1d(keep, d.ids, return_indices=True)
        pts[ik] += d.image_points[idet]
        num[ik] += 1
    pts /= num[:, None]
    first = dets[0]
    return Detection(
        board=board.spec,
        ids=keep.astype(np.int32),
        image_points=pts.astype(np.float32),
        object_points=board.object_points(keep),
        image_size=first.image_size,
        preprocessing=first.preprocessing,
        contrast=float(np.mean([d.contrast for d in dets])),
        blur=float(np.mean([d.blur for d in dets])),
        noise=float(np.mean([d.noise for d in dets])) / math.sqrt(len(dets)),
        source=source,
    )


def views_at(
    reader: SessionReader,
    board: Board | str,
    groups: Sequence[tuple[int, Sequence[float], float]],
    streams: dict[str, str],
    max_drift_px: float = 0.25,
    progress: Progress | None = None,
) -> tuple[dict[str, list[View]], dict[str, dict[int, str]], int]:
    """Views at given instants: ``groups`` holds (pose key, instants, tolerance s).

    In every camera, the frame nearest each instant (within the tolerance) is
    searched; a pose's detections must agree (median corner drift ≤ ``max_drift_px``)
    and are averaged. Returns views and rejection reasons by camera, and the number
    of frames searched.
    """
    board = parse_board(board) if isinstance(board, str) else board
    views: dict[str, list[View]] = {c: [] for c in streams}
    rejected: dict[str, dict[int, str]] = {c: {} for c in streams}
    stamps = {s: reader.timestamps(s) for s in streams.values()}
    total = sum(len(times) for _, times, _ in groups) * len(streams)
    done = 0
    for key, times, tol in groups:
        for cam, stream in streams.items():
            ts = stamps[stream]
            frames: list[int] = []
            for t in times if len(ts) else ():
                i = int(np.argmin(np.abs(ts - t)))
                if abs(ts[i] - t) <= tol and i not in frames:
                    frames.append(i)
            dets = []
            for i in frames:
                kind = reader.streams[stream].kind or stream
                det = detect(
                    reader.frame(stream, i).array, board, kind=kind, source=f"{stream}#{i}"
                )
                if det is not None:
                    dets.append((i, det))
                done += 1
                if progress is not None:
                    progress("detecting", done, total)
            done += len(times) - len(frames)
            if not dets:
                continue
            keep, drift = agreeing([d for _, d in dets], max_drift_px)
            if not keep:
                rejected[cam][key] = (
                    f"board moved or detections disagree between frames ({drift:.2f} px drift)"
                )
                continue
            idx = [dets[k][0] for k in keep]
            used = [dets[k][1] for k in keep]
            drift = max((_drift(a, b) for a in used for b in used if a is not b), default=0.0)
            det = average(used, board, f"{stream}#{','.join(map(str, idx))}")
            if det is None or (why := validate(det, board)) is not None:
                rejected[cam][key] = "averaged view unusable" + (f": {why}" if det else "")
                continue
            views[cam].append(View(cam, stream, key, float(np.mean(ts[idx])), det, idx, drift))
    return views, rejected, done


def session_views(
    reader: SessionReader,
    board: Board | str,
    cameras: Sequence[str] = ("depth", "thermal", "color"),
    samples: int = 3,
    scan_hz: float = 10.0,
    min_still_s: float = 0.4,
    max_drift_px: float = 0.25,
    progress: Progress | None = None,
) -> SessionViews:
    """Every camera's averaged views of every still board pose in a session."""
    board = parse_board(board) if isinstance(board, str) else board
    streams = camera_streams(list(reader.streams), cameras)
    poses = still_poses(reader, list(streams.values()), scan_hz, min_still_s, progress)
    if not poses:
        raise SessionViewsError(
            f"the board never stands still for {min_still_s:g} s in {reader.path.name}; "
            "hold it still for a second or two at each pose"
        )
    period = max(1.0 / (reader.streams[s].fps or 30.0) for s in streams.values())
    groups = [
        (p.index, [p.start + (k + 0.5) * p.duration / samples for k in range(samples)], period)
        for p in poses
    ]
    views, rejected, searched = views_at(reader, board, groups, streams, max_drift_px, progress)
    return SessionViews(
        board=board.spec,
        streams=streams,
        poses=poses,
        views=views,
        rejected=rejected,
        frames_searched=searched,
        hw_sync=bool(reader.info.hw_sync),
    )
