"""Extrinsics of one camera pair from views of the same board poses.

The intrinsics are fitted per camera first (from every view each camera has) and held
fixed here: a pair shares fewer views than either camera has, and letting
``stereoCalibrate`` move the intrinsics trades them against the extrinsics.

A view whose labelling is wrong in one camera (a plain checkerboard turned 180°,
ids shifted by a row) is self-consistent in that camera, so neither detection checks
nor the intrinsics fit can see it; but its board pose, transferred through the other
camera, puts the pair somewhere else. So every shared view's relative pose
(``T_b_board · T_a_board⁻¹``) is compared with the consensus of all of them, and
views that disagree are rejected before the fit; the fit then drops views whose error
stands far above the median, as the intrinsics do.

Held-out error: k-fold over views (each view is one board pose), each fold's views
posed — six degrees of freedom, both cameras at once — with extrinsics fitted without
them. Pairs that were not fitted (thermal–color, through the reference) are checked
the same way: the joint pose error of their shared views under the composed rig.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from calibration.detect import Detection
from calibration.intrinsics import CalibrationError
from calibration.outliers import refit_without_outliers
from calibration.rig import Camera

#: Fewest shared views a pair calibration accepts.
MIN_PAIR_VIEWS = 3
#: Fewest common corners for a shared view to count.
MIN_COMMON = 8
_CRITERIA = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-10)


@dataclass
class PairView:
    """One board pose seen by both cameras: corners both of them found."""

    key: int
    object_points: np.ndarray
    points_a: np.ndarray
    points_b: np.ndarray


@dataclass
class PairResult:
    """Extrinsics of camera ``b`` relative to camera ``a`` and how far to trust them.

    ``R``, ``T`` map points of ``a`` into ``b`` (``p_b = R p_a + T``, OpenCV's stereo
    convention). Per-view figures are keyed by view key (board pose); rejected views
    are evaluated under the final extrinsics too.
    """

    a: str
    b: str
    R: np.ndarray
    T: np.ndarray
    rms: float
    heldout_rms: float
    view_rms: dict[int, float]
    heldout_view_rms: dict[int, float]
    used: list[int]
    rejected: dict[int, str] = field(default_factory=dict)
    fitted: bool = True

    @property
    def T_b_a(self) -> np.ndarray:
        out = np.eye(4)
        out[:3, :3], out[:3, 3] = self.R, self.T.ravel()
        return out

    def quality(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return round(float(v), 4) if math.isfinite(v) else None

        return {
            "rms": num(self.rms),
            "heldout_rms": num(self.heldout_rms),
            "views_used": len(self.used),
            "views_rejected": len(self.rejected),
            "fitted": self.fitted,
        }


def shared_views(
    dets_a: dict[int, Detection], dets_b: dict[int, Detection], min_common: int = MIN_COMMON
) -> list[PairView]:
    """Views (by key) in which both cameras found at least ``min_common`` same corners."""
    out = []
    for key in sorted(set(dets_a) & set(dets_b)):
        a, b = dets_a[key], dets_b[key]
        common, ia, ib = np.intersect1d(a.ids, b.ids, return_indices=True)
        if len(common) < min_common:
            continue
        out.append(
            PairView(
                key,
                np.asarray(a.object_points, np.float64)[ia],
                np.asarray(a.image_points, np.float64)[ia],
                np.asarray(b.image_points, np.float64)[ib],
            )
        )
    return out


def board_pose(obj: np.ndarray, img: np.ndarray, cam: Camera) -> np.ndarray | None:
    """T_cam_board of one view under fixed intrinsics (IPPE, then LM refinement)."""
    obj = np.asarray(obj, np.float64).reshape(-1, 3)
    img = np.asarray(img, np.float64).reshape(-1, 2)
    ok, rvec, tvec = cv2.solvePnP(obj, img, cam.K, cam.dist, flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        return None
    rvec, tvec = cv2.solvePnPRefineLM(obj, img, cam.K, cam.dist, rvec, tvec)
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = cv2.Rodrigues(rvec)[0], tvec.ravel()
    return T


def _angle_deg(R: np.ndarray) -> float:
    return math.degrees(math.acos(float(np.clip((np.trace(R) - 1) / 2, -1.0, 1.0))))


def consensus(
    relative: dict[int, np.ndarray], max_rot_deg: float = 2.0, max_trans_m: float = 0.02
) -> tuple[np.ndarray, dict[int, str]]:
    """The relative pose most views agree on, and the views that disagree (key → why).

    The centre is the view's pose with the smallest median rotation difference to all
    others (a medoid: one wrong view cannot drag it) with the median translation; a
    view is out when its rotation or translation differs from the centre by more than
    the fixed limit or 5× the median difference, whichever is larger.
    """
    keys = list(relative)
    Rs = np.array([relative[k][:3, :3] for k in keys])
    ts = np.array([relative[k][:3, 3] for k in keys])
    ang = np.array([[_angle_deg(Ri.T @ Rj) for Rj in Rs] for Ri in Rs])
    centre = int(np.argmin(np.median(ang, axis=1)))
    t0 = np.median(ts, axis=0)
    d_rot = ang[centre]
    d_trans = np.linalg.norm(ts - t0, axis=1)
    rot_lim = max(max_rot_deg, 5 * float(np.median(d_rot)))
    trans_lim = max(max_trans_m, 5 * float(np.median(d_trans)))
    out = {}
    for k, dr, dt in zip(keys, d_rot, d_trans, strict=True):
        if dr > rot_lim or dt > trans_lim:
            out[k] = (
                f"pose disagrees with the rig consensus by {dr:.1f}° / {dt * 1000:.0f} mm "
                "(board labelled differently in the two cameras?)"
            )
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = Rs[centre], t0
    return T, out


def joint_pose_rms(view: PairView, cam_a: Camera, cam_b: Camera, T_b_a: np.ndarray) -> float:
    """RMS error (px, both cameras) of one view posed jointly under a fixed rig.

    Gauss–Newton on the board's pose in camera ``a``; camera ``b`` sees it through
    ``T_b_a`` (Jacobians from ``projectPoints`` and ``composeRT``).
    """
    obj = view.object_points.reshape(-1, 1, 3)
    T = board_pose(view.object_points, view.points_a, cam_a)
    if T is None:
        return float("nan")
    rvec, tvec = cv2.Rodrigues(T[:3, :3])[0], T[:3, 3].reshape(3, 1).copy()
    r_ab = cv2.Rodrigues(T_b_a[:3, :3])[0]
    t_ab = T_b_a[:3, 3].reshape(3, 1)
    target = np.concatenate([view.points_a.ravel(), view.points_b.ravel()])
    res = None
    for _ in range(20):
        pa, Ja = cv2.projectPoints(obj, rvec, tvec, cam_a.K, cam_a.dist)
        rb, tb, dr3dr1, dr3dt1, _, _, dt3dr1, dt3dt1, _, _ = cv2.composeRT(rvec, tvec, r_ab, t_ab)
        pb, Jb = cv2.projectPoints(obj, rb, tb, cam_b.K, cam_b.dist)
        Jb_pose = Jb[:, :3] @ np.hstack([dr3dr1, dr3dt1]) + Jb[:, 3:6] @ np.hstack([dt3dr1, dt3dt1])
        J = np.vstack([Ja[:, :6], Jb_pose])
        res = np.concatenate([pa.ravel(), pb.ravel()]) - target
        delta = np.linalg.lstsq(J, -res, rcond=None)[0]
        rvec += delta[:3].reshape(3, 1)
        tvec += delta[3:].reshape(3, 1)
        if np.linalg.norm(delta) < 1e-12:
            break
    pa, _ = cv2.projectPoints(obj, rvec, tvec, cam_a.K, cam_a.dist)
    rb, tb = cv2.composeRT(rvec, tvec, r_ab, t_ab)[:2]
    pb, _ = cv2.projectPoints(obj, rb, tb, cam_b.K, cam_b.dist)
    res = np.concatenate([pa.reshape(-1, 2) - view.points_a, pb.reshape(-1, 2) - view.points_b])
    return float(np.sqrt(np.mean(np.sum(res**2, axis=1))))


def _fit(
    views: Sequence[PairView], cam_a: Camera, cam_b: Camera, guess: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """stereoCalibrate with fixed intrinsics: (rms, R, T, per-view rms)."""
    obj = [v.object_points.astype(np.float32).reshape(-1, 1, 3) for v in views]
    ia = [v.points_a.astype(np.float32).reshape(-1, 1, 2) for v in views]
    ib = [v.points_b.astype(np.float32).reshape(-1, 1, 2) for v in views]
    R0, T0 = guess[:3, :3].copy(), guess[:3, 3].reshape(3, 1).copy()
    out = cv2.stereoCalibrateExtended(
        obj,
        ia,
        ib,
        cam_a.K,
        cam_a.dist,
        cam_b.K,
        cam_b.dist,
        (cam_a.width, cam_a.height),
        R0,
        T0,
        flags=cv2.CALIB_FIX_INTRINSIC | cv2.CALIB_USE_EXTRINSIC_GUESS,
        criteria=_CRITERIA,
    )
    rms, R, T, per_view = out[0], out[5], out[6], out[11]
    per_view = np.sqrt(np.mean(np.asarray(per_view, np.float64).reshape(len(views), 2) ** 2, 1))
    return float(rms), R, T.reshape(3), per_view


def _pooled(errs: dict[int, float], counts: dict[int, int]) -> float:
    ok = [k for k, e in errs.items() if math.isfinite(e)]
    if not ok:
        return float("nan")
    return math.sqrt(sum(errs[k] ** 2 * counts[k] for k in ok) / sum(counts[k] for k in ok))


def calibrate_pair(
    a: str,
    b: str,
    dets_a: dict[int, Detection],
    dets_b: dict[int, Detection],
    cam_a: Camera,
    cam_b: Camera,
    reject_factor: float = 2.5,
    min_excess: float = 0.1,
    folds: int = 5,
    min_views: int = MIN_PAIR_VIEWS,
) -> PairResult:
    """Extrinsics of ``b`` relative to ``a`` from their detections keyed by board pose."""
    views = shared_views(dets_a, dets_b)
    by_key = {v.key: v for v in views}
    counts = {v.key: 2 * len(v.object_points) for v in views}
    if len(views) < min_views:
        raise CalibrationError(
            f"cameras {a} and {b} saw the board together in only {len(views)} still poses "
            f"(need at least {min_views}); hold the board where both cameras see it"
        )
    relative = {}
    rejected: dict[int, str] = {}
    for v in views:
        Ta, Tb = (
            board_pose(v.object_points, v.points_a, cam_a),
            board_pose(v.object_points, v.points_b, cam_b),
        )
        if Ta is None or Tb is None:
            rejected[v.key] = "board pose not found in one camera"
            continue
        relative[v.key] = Tb @ np.linalg.inv(Ta)
    if len(relative) < min_views:
        raise CalibrationError(f"too few usable shared views of {a} and {b}")
    guess, disagree = consensus(relative)
    rejected.update(disagree)
    used = [k for k in by_key if k not in rejected]
    if len(used) < min_views:
        raise CalibrationError(
            f"cameras {a} and {b} disagree about the board in most shared views; "
            "check that the board's orientation is unambiguous (use a coded or ChArUco board)"
        )

    def fit(keys: list[int]) -> tuple[tuple, np.ndarray]:
        nonlocal guess  # Each refit starts from the previous fit.
        r = _fit([by_key[k] for k in keys], cam_a, cam_b, guess)
        guess = np.eye(4)
        guess[:3, :3], guess[:3, 3] = r[1], r[2]
        return r, r[3]

    (rms, R, T, _), per_view = refit_without_outliers(
        fit, used, rejected, reject_factor, min_excess, min_views
    )
    T_final = np.eye(4)
    T_final[:3, :3], T_final[:3, 3] = R, T
    view_rms = {k: float(e) for k, e in zip(used, per_view, strict=True)}
    for k in rejected:
        view_rms[k] = joint_pose_rms(by_key[k], cam_a, cam_b, T_final)
    held = _heldout([by_key[k] for k in used], cam_a, cam_b, T_final, folds)
    return PairResult(
        a,
        b,
        R,
        T,
        rms,
        _pooled(held, counts),
        dict(sorted(view_rms.items())),
        held,
        used,
        dict(sorted(rejected.items())),
    )


def _heldout(
    views: list[PairView], cam_a: Camera, cam_b: Camera, guess: np.ndarray, folds: int
) -> dict[int, float]:
    """Per-view joint-pose error under extrinsics fitted without the view's fold."""
    n = len(views)
    k = min(folds, n)
    out = {v.key: float("nan") for v in views}
    if k < 2 or n - (n + k - 1) // k < MIN_PAIR_VIEWS - 1:
        return out
    for f in range(k):
        train = [v for i, v in enumerate(views) if i % k != f]
        _, R, T, _ = _fit(train, cam_a, cam_b, guess)
        Tf = np.eye(4)
        Tf[:3, :3], Tf[:3, 3] = R, T
        for v in views[f::k]:
            out[v.key] = joint_pose_rms(v, cam_a, cam_b, Tf)
    return out


def evaluate_pair(
    a: str,
    b: str,
    dets_a: dict[int, Detection],
    dets_b: dict[int, Detection],
    cam_a: Camera,
    cam_b: Camera,
    T_b_a: np.ndarray,
) -> PairResult | None:
    """A pair's error under a rig it was not fitted to (None without shared views)."""
    views = shared_views(dets_a, dets_b)
    if not views:
        return None
    errs = {v.key: joint_pose_rms(v, cam_a, cam_b, T_b_a) for v in views}
    counts = {v.key: 2 * len(v.object_points) for v in views}
    rms = _pooled(errs, counts)
    return PairResult(
        a,
        b,
        T_b_a[:3, :3].copy(),
        T_b_a[:3, 3].copy(),
        rms,
        rms,
        errs,
        errs,
        [v.key for v in views],
        fitted=False,
    )
