"""One camera's intrinsics from many views of a board, with outliers dropped and the
result checked on views it was not fitted to.

``cv2.calibrateCameraExtended`` fits the pinhole + distortion model and reports each
view's RMS reprojection error. A single bad view (motion blur, a corner caught on
the wrong edge) pulls the whole fit, so the worst view is dropped while it is far
above the median (more than ``reject_factor`` × the median and ``min_excess`` px
above it), and the fit repeated until no view stands out — what MATLAB's users do by
hand with the per-view bars. Training error flatters a model, so the result also
carries a held-out error: k-fold over the kept views, each fold's views posed (not
fitted) with intrinsics from the other folds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from calibration.detect import Detection
from calibration.outliers import refit_without_outliers
from calibration.rig import Camera
from drivers.errors import ThermorigError

#: Fewest views with the board a calibration accepts.
MIN_VIEWS = 5
_CRITERIA = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-9)


class CalibrationError(ThermorigError):
    """Not enough (good) views to calibrate, or views that do not belong together."""


@dataclass
class IntrinsicsResult:
    """A camera's calibration and how much to trust it.

    ``view_rms`` has one entry per input view: the error of the final model on it
    (posed with the final intrinsics for rejected views; NaN for views with too few
    corners to pose). ``rejected`` maps view index → reason.
    """

    K: np.ndarray
    dist: np.ndarray
    rms: float
    image_size: tuple[int, int]
    view_rms: np.ndarray
    used: list[int]
    rejected: dict[int, str]
    heldout_rms: float
    heldout_view_rms: np.ndarray
    sources: list[str] = field(default_factory=list)
    std_intrinsics: np.ndarray | None = None
    flags: int = 0
    points_used: int = 0

    def to_camera(self) -> Camera:
        """The rig camera (identity pose; extrinsics come from a stereo calibration)."""
        return Camera(width=self.image_size[0], height=self.image_size[1], K=self.K, dist=self.dist)

    def quality(self) -> dict[str, Any]:
        """Figures for the rig file's ``quality`` entry (JSON-ready)."""
        return {
            "rms": round(float(self.rms), 4),
            "heldout_rms": None
            if not np.isfinite(self.heldout_rms)
            else round(float(self.heldout_rms), 4),
            "views_used": len(self.used),
            "views_rejected": len(self.rejected),
            "points_used": int(self.points_used),
        }


def _pose_rms(obj: np.ndarray, img: np.ndarray, K: np.ndarray, dist: np.ndarray) -> float:
    """RMS error of one view posed (6 DoF only) under fixed intrinsics."""
    obj = np.asarray(obj, np.float64).reshape(-1, 3)
    img = np.asarray(img, np.float64).reshape(-1, 2)
    if len(obj) < 4:
        return float("nan")
    ok, rvec, tvec = cv2.solvePnP(obj, img, K, dist, flags=cv2.SOLVEPNP_IPPE)
    if not ok:
        ok, rvec, tvec = cv2.solvePnP(obj, img, K, dist)
    if not ok:
        return float("nan")
    rvec, tvec = cv2.solvePnPRefineLM(obj, img, K, dist, rvec, tvec)
    proj, _ = cv2.projectPoints(obj, rvec, tvec, K, dist)
    return float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img) ** 2, axis=1))))


def _fit(objs, imgs, size, flags, K=None, dist=None):
    if K is not None:
        flags |= cv2.CALIB_USE_INTRINSIC_GUESS
        K, dist = K.copy(), dist.copy()
    out = cv2.calibrateCameraExtended(objs, imgs, size, K, dist, flags=flags, criteria=_CRITERIA)
    rms, K, dist, _rv, _tv, std_int, _std_ext, per_view = out
    return float(rms), K, dist.ravel(), per_view.ravel(), std_int.ravel()


def _heldout(objs, imgs, size, flags, K, dist, folds: int) -> np.ndarray:
    """Per-view error of each view posed with intrinsics fitted without its fold."""
    n = len(objs)
    errs = np.full(n, np.nan)
    k = min(folds, n)
    if k < 2 or n - (n + k - 1) // k < MIN_VIEWS - 1:
        return errs
    for f in range(k):
        test = list(range(f, n, k))
        train = [i for i in range(n) if i % k != f]
        _, Kf, df, _, _ = _fit(
            [objs[i] for i in train], [imgs[i] for i in train], size, flags, K, dist
        )
        for i in test:
            errs[i] = _pose_rms(objs[i], imgs[i], Kf, df)
    return errs


def _pooled(view_rms: np.ndarray, counts: np.ndarray) -> float:
    ok = np.isfinite(view_rms)
    if not ok.any():
        return float("nan")
    return float(np.sqrt(np.sum(view_rms[ok] ** 2 * counts[ok]) / np.sum(counts[ok])))


def calibrate_intrinsics(
    detections: Sequence[Detection],
    flags: int = 0,
    reject_factor: float = 2.5,
    min_excess: float = 0.1,
    min_views: int = MIN_VIEWS,
    folds: int = 5,
) -> IntrinsicsResult:
    """Calibrate one camera from its detections (all of the same image size).

    ``flags`` are OpenCV calibration flags (e.g. ``cv2.CALIB_RATIONAL_MODEL``); the
    default model is k1, k2, p1, p2, k3.
    """
    dets = list(detections)
    if not dets:
        raise CalibrationError(
            "no views with the board; capture views where the whole board is sharp"
        )
    sizes = {tuple(d.image_size) for d in dets}
    if len(sizes) != 1:
        raise CalibrationError(
            f"views of different image sizes {sorted(sizes)}; calibrate each camera mode separately"
        )
    size = dets[0].image_size
    objs = [np.asarray(d.object_points, np.float32).reshape(-1, 1, 3) for d in dets]
    imgs = [np.asarray(d.image_points, np.float32).reshape(-1, 1, 2) for d in dets]
    counts = np.array([len(d) for d in dets], dtype=np.float64)
    rejected: dict[int, str] = {}
    used = [i for i in range(len(dets)) if counts[i] >= 6]
    for i in set(range(len(dets))) - set(used):
        rejected[i] = "fewer than 6 corners"
    if len(used) < min_views:
        raise CalibrationError(
            f"only {len(used)} usable views of the board (need at least {min_views}); "
            "capture more views, tilted and spread over the image"
        )

    def fit(views: list[int]) -> tuple[tuple, np.ndarray]:
        r = _fit([objs[i] for i in views], [imgs[i] for i in views], size, flags)
        return r, r[3]

    (rms, K, dist, _, std), per_view = refit_without_outliers(
        fit, used, rejected, reject_factor, min_excess, min_views
    )

    view_rms = np.full(len(dets), np.nan)
    view_rms[used] = per_view
    for i in rejected:
        view_rms[i] = _pose_rms(objs[i], imgs[i], K, dist)
    held = np.full(len(dets), np.nan)
    held[used] = _heldout(
        [objs[i] for i in used], [imgs[i] for i in used], size, flags, K, dist, folds
    )
    return IntrinsicsResult(
        K=K,
        dist=dist,
        rms=rms,
        image_size=(int(size[0]), int(size[1])),
        view_rms=view_rms,
        used=used,
        rejected=dict(sorted(rejected.items())),
        heldout_rms=_pooled(held, counts),
        heldout_view_rms=held,
        sources=[d.source for d in dets],
        std_intrinsics=std,
        flags=flags,
        points_used=int(counts[used].sum()),
    )
