"""Is the rig still calibrated? A check from a few frames of the board held up.

Labels carried from RGB into thermal are only as good as the rig, and a bumped tripod
or a camera that shifted in its mount says nothing. A board held up for a few seconds
at the start of a session is enough to tell: in every frame set where it is seen, its
pose is estimated from one camera alone (:func:`calibration.stereo.board_pose`, IPPE
then Levenberg–Marquardt, the same fit ``thermorig calibrate`` uses), its corners are
carried through the rig into every other camera and compared with where that camera's
own detection (:func:`calibration.detect.detect`) put them. Each camera serves as the
source in turn, so a pair is reported both ways (``depth->thermal`` is measured in
thermal pixels, ``thermal->depth`` in depth pixels) and a turned camera shows in every
pair it belongs to and in no other. Only corners both cameras found are compared.

Frames are taken where the board stood still (:func:`calibration.still.still_poses`):
free-running cameras expose up to half a frame apart, and a board moving at 0.5 m/s
moves some 3 px between two exposures 16 ms apart — an error no rig could remove.
Without a still interval in the session the frames are spread over all of it, and a
board seen only while moving is refused rather than blamed on the rig.

Threshold. The ThermoCycleNet paper's rule is "> 5 px: recalibrate". Measured on a
synthetic calibration session (``thermorig simulate --scene calibration``; thermal
640×512 with f = 768 px, depth 640×480 f = 524 px, colour 1280×720 f = 918 px, board
0.8–1.6 m away), the median transfer error per pair was:

* true rig: ≤ 0.03 px in every pair; the rig ``thermorig calibrate`` fits: ≤ 0.04 px;
* thermal panned or tilted 0.5°: 6.7 px into thermal, 4.6–8.2 px in the other pairs;
* by 1°: 13.4 px into thermal (f·tan 1° = 13.4 px), 9.3 / 16.3 px out of it;
* by 2°: 26.8 px into thermal (f·tan 2° = 26.8 px), 18.6 / 32.7 px out of it;
* rolled (about the optical axis) by 1°: 1.6–2.8 px — a centred board sees a roll least.

:data:`THRESHOLD_PX` = 2 px on the median of every pair sits 50 times above what a good
rig gives (room for real corner noise of a few tenths of a pixel) and 2.3 times below
the least a half-degree pan or tilt gives, so neither noise nor a degree of drift lands
near it. It is stricter than the paper's 5 px because a pixel of transfer error is a
pixel of label boundary error in thermal on every frame (a 60 px calf shifted 2 px keeps
an IoU of ~0.94, 5 px ~0.85). The verdict uses the median (a turned camera moves every
corner; a few badly found corners move the 90th percentile only); the p90 is reported
beside it. The full table (pan, tilt, roll of 0.5–5°) is in docs/board-check.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from calibration.boards import Board, parse_board
from calibration.detect import Detection, detect
from calibration.intrinsics import CalibrationError
from calibration.rig import Rig
from calibration.rig_calibration import session_board
from calibration.stereo import board_pose
from calibration.still import CAMERA_STREAMS, Progress, camera_streams, still_poses
from drivers.errors import ThermorigError
from drivers.session import SessionReader
from drivers.types import Frame, FrameSet

#: Median transfer error (px) above which a pair says "recalibrate" (reasoning above).
THRESHOLD_PX = 2.0
#: The paper's rule, for comparison in reports.
PAPER_THRESHOLD_PX = 5.0
#: Fewest frame sets with the board seen by two cameras that a verdict rests on.
MIN_FRAMES = 3
#: Frame sets searched by default.
DEFAULT_FRAMES = 12
#: Fewest corners two cameras must share in a frame set for it to count.
MIN_COMMON = 8

#: Stream kind → the detector's preprocessing family (the depth camera sees the board
#: in its IR image).
_KIND = {"ir": "ir", "thermal": "thermal", "color": "color"}


class BoardCheckError(ThermorigError):
    """A session or frames a board check cannot judge a rig from (one line, exit 2)."""


@dataclass
class PairError:
    """Transfer error of one camera pair: the board posed from ``source`` and carried
    into ``target``, compared with ``target``'s own detection (px of ``target``)."""

    source: str
    target: str
    errors: np.ndarray
    frames: int

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"

    @property
    def median_px(self) -> float:
        return float(np.median(self.errors))

    @property
    def p90_px(self) -> float:
        return float(np.percentile(self.errors, 90))

    def to_dict(self) -> dict[str, Any]:
        return {
            "median_px": round(self.median_px, 3),
            "p90_px": round(self.p90_px, 3),
            "corners": int(len(self.errors)),
            "frames": self.frames,
        }


@dataclass
class BoardCheck:
    """What a board check found: per pair, and how many frame sets it rests on."""

    board: str
    pairs: dict[str, PairError]
    frames_used: int
    frames_searched: int
    threshold_px: float = THRESHOLD_PX
    detections: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(p.median_px <= self.threshold_px for p in self.pairs.values())

    def worst(self) -> PairError:
        return max(self.pairs.values(), key=lambda p: p.median_px)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "threshold_px": self.threshold_px,
            "board": self.board,
            "pairs": {n: p.to_dict() for n, p in self.pairs.items()},
            "frames_used": self.frames_used,
            "frames_searched": self.frames_searched,
            "detections": dict(self.detections),
        }


def stream_camera(stream: str) -> str:
    """The rig camera whose image ``stream`` is (``ir`` is the depth camera's)."""
    for cam, streams in CAMERA_STREAMS.items():
        if stream in streams:
            return cam
    return stream


def transfer_errors(
    source: Detection, target: Detection, cam_src: str, cam_dst: str, rig: Rig
) -> np.ndarray | None:
    """Per-corner distance (px of ``cam_dst``) between ``target``'s corners and the
    board posed from ``source`` carried through the rig; None when the two share
    fewer than :data:`MIN_COMMON` corners or the pose cannot be found."""
    _, i_src, i_dst = np.intersect1d(source.ids, target.ids, return_indices=True)
    if len(i_src) < MIN_COMMON:
        return None
    a = rig[cam_src]
    T_src_board = board_pose(source.object_points, source.image_points, a)
    if T_src_board is None:
        return None
    T = rig.T_dst_src(cam_src, cam_dst) @ T_src_board
    b = rig[cam_dst]
    obj = np.asarray(target.object_points, np.float64)[i_dst].reshape(-1, 1, 3)
    rvec = cv2.Rodrigues(T[:3, :3])[0]
    projected, _ = cv2.projectPoints(obj, rvec, T[:3, 3].reshape(3, 1), b.K, b.dist)
    found = np.asarray(target.image_points, np.float64)[i_dst]
    return np.linalg.norm(projected.reshape(-1, 2) - found, axis=1)


def check_detections(
    detections: Sequence[dict[str, Detection]],
    rig: Rig,
    board: str,
    frames_searched: int | None = None,
    min_frames: int = MIN_FRAMES,
    threshold_px: float = THRESHOLD_PX,
    cameras: Sequence[str] | None = None,
) -> BoardCheck:
    """The check from per-frame-set detections (camera → detection of one instant).

    A frame set counts when at least two cameras of the rig saw the board in it;
    BoardCheckError when fewer than ``min_frames`` do. ``cameras`` are those that had
    images to search (default: the rig's).
    """
    cams = [c for c in (cameras or rig.cameras) if c in rig.cameras]
    used = [d for d in detections if sum(c in d for c in cams) >= 2]
    searched = len(detections) if frames_searched is None else frames_searched
    seen = {c: sum(c in d for d in detections) for c in cams}
    if len(used) < min_frames:
        per_cam = ", ".join(f"{c} {n}" for c, n in seen.items())
        raise BoardCheckError(
            f"board {board} seen by two cameras in {len(used)} of {searched} frame sets "
            f"(needs {min_frames}; seen per camera: {per_cam}); hold the board up where "
            "all cameras see it, still, for a few seconds"
        )
    errors: dict[tuple[str, str], list[np.ndarray]] = {}
    for dets in used:
        for src in cams:
            for dst in cams:
                if src == dst or src not in dets or dst not in dets:
                    continue
                e = transfer_errors(dets[src], dets[dst], src, dst, rig)
                if e is not None:
                    errors.setdefault((src, dst), []).append(e)
    pairs = {
        f"{s}->{d}": PairError(s, d, np.concatenate(es), len(es)) for (s, d), es in errors.items()
    }
    if not pairs:
        raise BoardCheckError(
            f"no two cameras shared {MIN_COMMON} corners of board {board} in any frame set; "
            "hold the board where every camera sees all of it"
        )
    return BoardCheck(board, pairs, len(used), searched, threshold_px, seen)


def detect_frameset(
    frameset: FrameSet, board: Board, streams: dict[str, str] | None = None
) -> dict[str, Detection]:
    """Camera → the board found in its image of one frame set (cameras without it are
    left out). ``streams`` maps camera to stream (default: ir, thermal, color)."""
    streams = streams or {stream_camera(s): s for s in frameset.frames if s in _KIND}
    out = {}
    for cam, stream in streams.items():
        frame = frameset.frames.get(stream)
        if frame is None:
            continue
        det = detect(frame.array, board, kind=_KIND.get(stream, stream), source=stream)
        if det is not None:
            out[cam] = det
    return out


def check_framesets(
    framesets: Iterable[FrameSet],
    rig: Rig,
    board: Board | str,
    min_frames: int = MIN_FRAMES,
    threshold_px: float = THRESHOLD_PX,
    progress: Progress | None = None,
) -> BoardCheck:
    """The check from frame sets of a board held still (live or from a session).

    Frame sets without the board in two cameras are skipped; see
    :func:`check_detections` for the verdict.
    """
    board = parse_board(board) if isinstance(board, str) else board
    sets = list(framesets)
    seen = {stream_camera(s) for fs in sets for s in fs.frames if s in _KIND}
    cams = [c for c in rig.cameras if c in seen]
    detections = []
    for n, fs in enumerate(sets):
        detections.append(detect_frameset(fs, board))
        if progress is not None:
            progress("detecting", n + 1, len(sets))
    return check_detections(detections, rig, board.spec, len(sets), min_frames, threshold_px, cams)


def spread(intervals: Sequence[tuple[float, float]], count: int) -> list[float]:
    """``count`` instants spread over ``intervals``, evenly spaced inside each: every
    interval gets a share in proportion to its length, at least one (the longest
    ``count`` intervals only, when there are more)."""
    if not intervals or count < 1:
        return []
    lengths = np.array([max(b - a, 0.0) for a, b in intervals])
    keep = sorted(int(i) for i in np.argsort(-lengths, kind="stable")[:count])
    sub = lengths[keep]
    want = count * sub / sub.sum() if sub.sum() > 0 else np.full(len(keep), count / len(keep))
    shares = np.maximum(1, np.floor(want)).astype(int)
    while shares.sum() < count:  # Largest remainders first.
        shares[int(np.argmax(want - shares))] += 1
    while shares.sum() > count:
        shares[int(np.argmax(np.where(shares > 1, shares - want, -np.inf)))] -= 1
    out = []
    for i, k in zip(keep, shares, strict=True):
        a, b = intervals[i]
        out += [float(a + (j + 0.5) * (b - a) / k) for j in range(int(k))]
    return out


def session_framesets(
    reader: SessionReader, streams: Sequence[str], instants: Sequence[float]
) -> list[FrameSet]:
    """A frame set per instant: each stream's nearest frame within one frame period."""
    stamps = {s: reader.timestamps(s) for s in streams}
    out = []
    for n, t in enumerate(instants):
        fs = FrameSet(index=n, timestamp=float(t), pivot=streams[0])
        for s in streams:
            ts = stamps[s]
            if not len(ts):
                continue
            i = int(np.argmin(np.abs(ts - t)))
            if abs(ts[i] - t) <= 1.0 / (reader.streams[s].fps or 30.0):
                fs.frames[s] = Frame(s, i, float(ts[i]), reader.frame(s, i).array)
        out.append(fs)
    return out


def rig_streams(reader: SessionReader, rig: Rig) -> dict[str, str]:
    """Camera → the session stream its board images come from, for the rig's cameras
    the session has images of (at least two, else BoardCheckError)."""
    cams = [c for c in CAMERA_STREAMS if c in rig.cameras]
    found = {}
    for cam in cams:
        stream = next((s for s in CAMERA_STREAMS[cam] if s in reader.streams), None)
        if stream is not None:
            found[cam] = stream
    if len(found) < 2:
        camera_streams(list(reader.streams), cams)  # Says which stream is missing.
        raise BoardCheckError("the rig's cameras share no two streams with the session")
    return found


def check_session(
    reader: SessionReader,
    rig: Rig,
    board: Board | str,
    frames: int = DEFAULT_FRAMES,
    min_frames: int = MIN_FRAMES,
    threshold_px: float = THRESHOLD_PX,
    progress: Progress | None = None,
) -> BoardCheck:
    """The check from ``frames`` frame sets of a session, taken where the board stood
    still (spread over the whole session when nothing ever stood still)."""
    board = parse_board(board) if isinstance(board, str) else board
    streams = rig_streams(reader, rig)
    reader.require_timestamps(list(streams.values()), "check the board")
    poses = still_poses(reader, list(streams.values()), progress=progress)
    still = bool(poses)
    if still:
        instants = spread([(p.start, p.end) for p in poses], frames)
    else:
        ts = [reader.timestamps(s) for s in streams.values()]
        start, end = max(float(t[0]) for t in ts), min(float(t[-1]) for t in ts)
        instants = spread([(start, max(start, end))], frames)
    sets = session_framesets(reader, list(streams.values()), instants)
    result = check_framesets(sets, rig, board, min_frames, threshold_px, progress)
    if not still:
        raise BoardCheckError(
            f"board {board.spec} seen in {result.frames_used} frame sets but never held "
            "still (nothing in view stood still for 0.4 s); a moving board cannot tell "
            "a drifted rig from cameras that expose apart — hold it still for a second"
        )
    return result


def board_for(reader: SessionReader, rig: Rig, spec: str | None = None) -> Board:
    """The board to look for: ``spec``, else the one the session names, else the one
    the rig was calibrated with; BoardCheckError when none says."""
    if spec:
        return parse_board(spec)
    try:
        return parse_board(session_board(reader))
    except CalibrationError:
        if rig.board:
            return parse_board(rig.board)
    raise BoardCheckError(
        f"neither {reader.path.name} nor the rig says which board to look for; pass "
        "--board SPEC (e.g. coded:11x9:40)"
    )
