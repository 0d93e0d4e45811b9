"""Is the rig still calibrated? A targetless check from the session's own frames.

No board: a warm person in front of a cooler room, seen by the thermal camera, is
the same person the depth camera sees as a near foreground. Carried through a good
rig, the person's depth contour lands on the thermal silhouette's border and the
depth foreground's motion keeps time with the thermal silhouette's. So:

1. rotation: the target camera's rotation that lays the depth contours of a couple of
   dozen frames onto the thermal borders, each depth frame compared with the thermal
   silhouette *at its instant* (signed distances of the two bracketing thermal frames
   blended) (:mod:`calibration.alignment.rotation`), clocks taken as recorded;
2. clock: the target stream's host-time offset against depth, from the moving legs
   (:mod:`calibration.alignment.clock`), through the rig of step 1;
3. rotation again, with the frames paired at the corrected instants.

Thresholds ("ok") come from what an error costs the label transfer and from how much
the estimate wanders on a good rig. Measured on the synthetic cycling scene (10 s,
free-running clocks; mean calf IoU of ``autolabel --rgb-labels truth`` against truth,
unknown counted wrong; docs/rig-check.md): the true rig transfers at 0.958; the thermal
camera turned 0.5° about x at 0.893, about y (a sideways shift of the narrow calves) at
0.743 — 0.13 and 0.43 IoU per degree, steeper than the 0.1/degree of the ThermoCycleNet
paper's rule. On true rigs the estimate reads 0.05-0.12° (2-10 s sessions, three
seeds) and the clock 0.7-2.1 ms. ``ROTATION_LIMIT_DEG`` = 0.25° (~0.03 IoU lost about
x, ~0.1 about y; twice the largest reading on a true rig, four times on 10 s) and
``CLOCK_LIMIT_MS`` = 10 ms (about five times the largest reading; autolabel's
docstring measures ~0.03 IoU lost for 12 ms with the nearest frame) keep a good rig
from being called bad and catch the 2° / 40 ms of the issue with a wide margin.
Sessions shorter than ~5 s read noisier; 10 s is the intended length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from calibration.alignment.clock import fit_clock
from calibration.alignment.frames import FrameStore, SessionFrames
from calibration.alignment.rotation import (
    PointSet,
    RotationFit,
    fit_rotation,
    project,
    residuals,
    robust_error,
)
from calibration.alignment.signals import ContourPoints
from calibration.depth_render import MIN_Z_M
from calibration.rig import Camera, Rig, RigError
from drivers.errors import SessionError

#: A rig is drifted when the target camera is off by this much rotation ...
ROTATION_LIMIT_DEG = 0.25
#: ... or a stream's clock by this much (module docstring: why these figures).
CLOCK_LIMIT_MS = 10.0
#: The check judges only target cameras of this focal length or more: its figures are
#: measured at 768 px (640x512); at 320x256 a true rig reads 0.18-0.20° (near the
#: limit), at 160x128 degrees (contours too coarse). Not judging is better than calling
#: a good rig bad.
MIN_FOCAL_PX = 384.0
#: The clock estimate blends the depth masks of neighbouring frames; with frames
#: sparser than this many nominal periods apart (a busy machine dropping most of the
#: live preview's sets) the blend is no longer the legs' motion and the offset reads
#: wrong (+12 ms on a true rig at 4 sets/s), so the check does not judge.
MAX_GAP_PERIODS = 2.0
#: Depth frames whose contours feed the rotation fit.
ROTATION_FRAMES = 24
#: Why the colour camera (any camera but the target) is not checked yet.
NOT_ESTIMATED = (
    "not estimated: no silhouette of the person in RGB that holds without a model"
    " (clothes and room colours vary); its rotation and clock are taken as given"
)
#: A contour point within this many pixels of the border counts towards the score.
SCORE_PX = 3.0


@dataclass
class AlignmentResult:
    """What the check found. ``time_offset_ms``: by stream, positive = its host
    timestamps are late against depth's. ``per_camera``: rotation_deg, rotvec (the
    correction, radians, about the camera's own axes), edge_error_px before and after,
    and whether it was estimated. ``refined``: the rig with the corrections applied
    (rotations only; clock offsets are not part of a rig)."""

    ok: bool
    rotation_error_deg: float
    time_offset_ms: dict[str, float]
    score: float
    per_camera: dict[str, dict]
    refined: Rig
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "rotation_error_deg": round(self.rotation_error_deg, 3),
            "time_offset_ms": {k: round(v, 1) for k, v in self.time_offset_ms.items()},
            "score": round(self.score, 3),
            "per_camera": self.per_camera,
            "reasons": self.reasons,
            "limits": {"rotation_deg": ROTATION_LIMIT_DEG, "clock_ms": CLOCK_LIMIT_MS},
            "seconds": round(self.seconds, 2),
        }


def rotate_camera(rig: Rig, stream: str, rotvec: np.ndarray) -> Rig:
    """A copy of ``rig`` whose camera ``stream`` is turned about its own centre:
    points in the camera's frame become ``R(rotvec) @ p`` (so ``rotvec`` is the
    correction :func:`check_alignment` reports, and its negative a perturbation)."""
    import cv2

    R, _ = cv2.Rodrigues(np.asarray(rotvec, np.float64).reshape(3))
    out = Rig.from_dict(rig.to_dict())
    cam = out[stream]
    T = np.eye(4)
    T[:3, :3] = R.T
    cam.T_ref_cam = cam.T_ref_cam @ T
    return out


def _check_inputs(session: FrameStore, rig: Rig, target: str) -> None:
    for name in (rig.reference, target):
        if name not in session.streams or not session.count(name):
            raise SessionError(f"{session.path} has no {name} frames; the rig check needs them")
        rig[name]  # noqa: B018 - RigError naming the missing camera
    if not session.streams[rig.reference].depth_scale:
        raise SessionError(f"{session.path}: the depth stream has no depth scale")
    session.require_timestamps((rig.reference, target), "the rig check")
    if session.count(target) < 10 or session.count(rig.reference) < 10:
        raise SessionError(f"{session.path} is too short for the rig check (10 frames at least)")
    focal = float(rig[target].K[0, 0])
    if focal < MIN_FOCAL_PX:
        raise SessionError(
            f"the rig check is measured on {target} cameras of {MIN_FOCAL_PX:.0f} px focal"
            f" length or more (640x512 class); this one has {focal:.0f} px, where a good rig"
            " could read as drifted, so it is not judged (docs/rig-check.md, Limits)"
        )


class SparseFramesError(SessionError):
    """The frames are too sparse for the clock estimate (``MAX_GAP_PERIODS``): a live
    check collects again rather than give up."""


def _check_density(session: FrameStore, stream: str, t: np.ndarray) -> None:
    """SparseFramesError when the frames are too sparse for the clock (``MAX_GAP_PERIODS``)."""
    fps = float(session.streams[stream].fps or 0.0)
    gap = float(np.median(np.diff(t))) if len(t) > 1 else float("inf")
    if fps > 0 and gap * fps > MAX_GAP_PERIODS:
        raise SparseFramesError(
            f"{session.path}: the {stream} frames are {1 / gap:.1f} a second of its"
            f" {fps:g}, too sparse for the clock estimate (a busy machine drops frames);"
            " check again when it is less loaded"
        )


def _rotation_points(frames: SessionFrames, rig: Rig, target: str, offset_s: float) -> PointSet:
    """Contours of ``ROTATION_FRAMES`` depth frames in the target camera's frame, each
    with the target's signed distance at the depth frame's instant."""
    td, tt = frames.t_depth, frames.t_target
    contour = ContourPoints(rig[rig.reference], frames.depth_scale)
    T = rig.T_dst_src(rig.reference, target)
    picks = np.linspace(2, len(td) - 3, min(ROTATION_FRAMES, len(td) - 4)).astype(int)
    sdf_cache: dict[int, np.ndarray] = {}
    points, index, images = [], [], []
    for j in picks:
        t = td[j] + offset_s
        i = int(np.searchsorted(tt, t)) - 1
        if i < 0 or i + 1 >= len(tt) or tt[i + 1] - tt[i] <= 0:
            continue
        a = float((t - tt[i]) / (tt[i + 1] - tt[i]))
        for k in (i, i + 1):
            if k not in sdf_cache:
                sdf_cache[k] = frames.target_sdf(k)
        images.append((1 - a) * sdf_cache[i] + a * sdf_cache[i + 1])
        P = frames.contour_points(contour, int(j))
        points.append(P @ T[:3, :3].T + T[:3, 3])
        index.append(np.full(len(P), len(images) - 1))
    if not points:
        raise SessionError("no frames to compare: the depth and target frames do not overlap")
    return PointSet(np.concatenate(points), np.concatenate(index), images)


def check_alignment(
    session: FrameStore,
    rig: Rig,
    *,
    target: str = "thermal",
    progress: Callable[[int, int], None] | None = None,
) -> AlignmentResult:
    """Score how well ``rig`` aligns the session's streams, and estimate the target
    camera's rotation correction and its clock offset (module docstring). ``progress``
    is called with (done, total) while the frames are read (most of the time)."""
    import time

    t0 = time.perf_counter()
    _check_inputs(session, rig, target)
    for name in (rig.reference, target):  # before every frame is read
        _check_density(session, name, session.timestamps(name))
    frames = SessionFrames(session, target, rig, progress)
    cam = rig[target]
    # Rotation first (clocks taken as recorded): a turned camera shifts the masks the
    # clock compares, which would bias the clock; a wrong clock only blurs the
    # contours the rotation fit compares, which its coarse search tolerates.
    fit = fit_rotation(_rotation_points(frames, rig, target, 0.0), cam.K, cam.dist)
    refined = rotate_camera(rig, target, fit.rotvec)
    clock = fit_clock(
        frames.t_target,
        frames.target_masks,
        frames.t_depth,
        frames.depth_masks(refined),
        ignore=frames.fixed_heat,
    )
    ps = _rotation_points(frames, rig, target, clock.offset_s)
    fit = fit_rotation(ps, cam.K, cam.dist)
    refined = rotate_camera(rig, target, fit.rotvec)
    return _result(rig, refined, target, fit, clock.offset_s, ps, time.perf_counter() - t0)


def _result(
    rig: Rig,
    refined: Rig,
    target: str,
    fit: RotationFit,
    offset_s: float,
    ps: PointSet,
    seconds: float,
) -> AlignmentResult:
    r_before = np.abs(_score_residuals(ps, rig[target]))
    score = float(np.mean(r_before < SCORE_PX)) if len(r_before) else 0.0
    offset_ms = 1000.0 * offset_s
    reasons = []
    if fit.degrees > ROTATION_LIMIT_DEG:
        reasons.append(
            f"{target} camera turned by {fit.degrees:.2f} deg (limit {ROTATION_LIMIT_DEG})"
        )
    if abs(offset_ms) > CLOCK_LIMIT_MS:
        reasons.append(
            f"{target} clock off by {offset_ms:+.1f} ms against depth (limit {CLOCK_LIMIT_MS})"
        )
    ok = not reasons
    if ok:
        reasons.append(
            f"{target}: rotation {fit.degrees:.2f} deg, clock {offset_ms:+.1f} ms: within limits"
        )
    per_camera = {
        target: {
            "estimated": True,
            "rotation_deg": round(fit.degrees, 3),
            "rotvec": [round(float(v), 6) for v in fit.rotvec],
            "edge_error_px": round(fit.edge_error_before_px, 2),
            "edge_error_refined_px": round(fit.edge_error_px, 2),
            "contour_points": fit.points,
            "inliers": fit.inliers,
        }
    }
    for name in rig.cameras:
        if name not in (target, rig.reference):
            per_camera[name] = {"estimated": False, "reason": NOT_ESTIMATED}
    return AlignmentResult(
        ok=ok,
        rotation_error_deg=fit.degrees,
        time_offset_ms={target: offset_ms},
        score=score,
        per_camera=per_camera,
        refined=refined,
        reasons=reasons,
        seconds=seconds,
    )


def _score_residuals(ps: PointSet, cam: Camera) -> np.ndarray:
    """Signed distances of the contour points through the rig as given."""
    uv = project(ps.points, np.zeros(3), cam.K, cam.dist)
    r = residuals(ps, uv, ps.points[:, 2] > MIN_Z_M)
    return r[np.isfinite(r)]


__all__ = [
    "AlignmentResult",
    "RigError",
    "SparseFramesError",
    "check_alignment",
    "rotate_camera",
    "robust_error",
]
