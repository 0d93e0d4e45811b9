"""The rotation of one camera that best lays depth contours onto its silhouettes.

Given contour points (3-D, in the camera's frame as the rig places them) and, for each
point, the signed-distance image it should land on, find the small rotation ``R`` of
the camera about its own centre that brings the projected points to distance zero.
Three parameters (and a fourth, the offset between the depth contour and the thermal
border: the contour pixel is the near side of the jump and the warm silhouette is
blurred by the lens, ~0.8 px on the synthetic rig; left free so that the few
horizontal borders, whose offset differs, do not tilt the camera), a robust Gauss-Newton (iteratively reweighted least squares with
Tukey's biweight) whose scale shrinks from coarse to fine: wide at first so that a
few degrees of error (tens of pixels) are pulled in by the signed distance's slope,
narrow at the end so that points with no thermal border of their own (the cold bike's
edges, shoes, a leg the other hides) stop counting. The Jacobian is numeric (three
extra projections per step; ``cv2.projectPoints`` with the camera's lens).

Translation is left alone: the person stands at one distance, where a few millimetres
of baseline move the image as much as a hundredth of a degree of rotation does, so
the frames cannot tell them apart (not observable); rotation is what a bumped tripod
changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from calibration.depth_render import MIN_Z_M

#: Tukey scales (pixels) of the Gauss-Newton passes, and steps per pass.
SCALES_PX = (8.0, 4.0, 2.0)
STEPS_PER_SCALE = 6
_EPS_RAD = 1e-4
#: The coarse search: image shifts up to this many pixels (both ways), turns about
#: the optical axis on this grid (degrees); points count by exp(-(d / sigma)^2).
SEARCH_PX = 48
ROLL_GRID_DEG = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
_SIGMA_PX = 2.0
_COARSE_SCALE = 0.5
#: The Gauss-Newton passes use at most this many contour points (spread evenly).
MAX_POINTS = 20000
#: The pixel figures above are for a thermal camera of this focal length (640x512, the
#: synthetic rig's); a camera of another resolution uses them scaled to its own focal
#: length, so that they span the same angles (a 160x120 Lepton: a quarter). Not below
#: a quarter: a border is about a pixel wide whatever the lens.
REFERENCE_FOCAL_PX = 768.0


def pixel_scale(K: np.ndarray) -> float:
    """The factor the pixel figures are scaled by for a camera of matrix ``K``."""
    return max(0.25, float(K[0, 0]) / REFERENCE_FOCAL_PX)


@dataclass
class PointSet:
    """Points of several frames: ``points`` (N, 3) in the camera's frame, ``frame`` (N,)
    which of ``images`` (signed distances, all one size) each point is compared with."""

    points: np.ndarray
    frame: np.ndarray
    images: list[np.ndarray]


@dataclass
class RotationFit:
    rotvec: np.ndarray  # (3,) radians, the correction: p_cam_new = R(rotvec) @ p_cam
    edge_error_px: float  # robust mean |distance| after the fit (points kept)
    edge_error_before_px: float  # the same for the rig as given
    inliers: int
    points: int

    @property
    def degrees(self) -> float:
        return float(np.degrees(np.linalg.norm(self.rotvec)))


def project(points: np.ndarray, rotvec: np.ndarray, K: np.ndarray, dist: np.ndarray):
    points = np.ascontiguousarray(points, np.float64)
    uv, _ = cv2.projectPoints(points, rotvec.astype(np.float64), np.zeros(3), K, dist)
    return uv.reshape(-1, 2).astype(np.float32)


def residuals(ps: PointSet, uv: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Signed distance at every projected point (bilinear); NaN outside the image."""
    out = np.full(len(uv), np.nan, np.float32)
    h, w = ps.images[0].shape
    ok = front & (uv[:, 0] >= 0) & (uv[:, 0] <= w - 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= h - 1)
    for k, img in enumerate(ps.images):
        sel = np.nonzero(ok & (ps.frame == k))[0]
        if not len(sel):
            continue
        m = uv[sel].reshape(1, -1, 2)
        out[sel] = cv2.remap(img, m[..., 0], m[..., 1], cv2.INTER_LINEAR).ravel()
    return out


def _tukey(r: np.ndarray, c: float) -> np.ndarray:
    w = np.zeros_like(r)
    ok = np.isfinite(r) & (np.abs(r) < c)
    w[ok] = (1.0 - (r[ok] / c) ** 2) ** 2
    return w


def robust_error(r: np.ndarray, c: float = SCALES_PX[-1]) -> tuple[float, int]:
    """Mean |r| over the points within ``c`` pixels, and how many they are."""
    a = np.abs(r[np.isfinite(r)])
    a = a[a < c]
    return (float(a.mean()) if len(a) else float("nan")), int(len(a))


def fit_rotation(ps: PointSet, K: np.ndarray, dist: np.ndarray) -> RotationFit:
    """The correcting rotation (see module docstring); zero when there are no points."""
    keep = slice(None, None, max(1, -(-len(ps.points) // MAX_POINTS)))
    ps = PointSet(ps.points[keep], ps.frame[keep], ps.images)
    P = np.ascontiguousarray(ps.points, np.float64)
    front = P[:, 2] > MIN_Z_M
    x = np.zeros(3)
    uv0 = project(P, x, K, dist)
    k = pixel_scale(K)
    before, _ = robust_error(residuals(ps, uv0, front), SCALES_PX[-1] * k)
    if len(P) < 20:
        return RotationFit(x, before, before, 0, len(P))
    x = _coarse_start(ps, P, uv0, front, K, dist)
    border = 0.0  # where the silhouette's border lies against the contours (pixels)
    for c in (scale * k for scale in SCALES_PX):
        for _ in range(STEPS_PER_SCALE):
            r = residuals(ps, project(P, x, K, dist), front) - border
            J = np.empty((len(P), 4))
            for j in range(3):
                dx = np.zeros(3)
                dx[j] = _EPS_RAD
                shifted = residuals(ps, project(P, x + dx, K, dist), front) - border
                J[:, j] = (shifted - r) / _EPS_RAD
            J[:, 3] = -1.0
            w = _tukey(r, c)
            w[~np.all(np.isfinite(J), axis=1)] = 0.0
            if np.count_nonzero(w) < 20:
                break
            J = np.nan_to_num(J)
            Jw = J * w[:, None]
            A = Jw.T @ J
            b = Jw.T @ np.nan_to_num(r)
            A += 1e-3 * np.diag(np.diag(A))  # a little damping (Levenberg-Marquardt)
            step = -np.linalg.solve(A, b)
            x = x + step[:3]
            border += float(step[3])
            if np.linalg.norm(step[:3]) < 2e-6:
                break
    r = residuals(ps, project(P, x, K, dist), front)
    after, inliers = robust_error(r, SCALES_PX[-1] * k)
    return RotationFit(x, after, before, inliers, len(P))


def _coarse_start(
    ps: PointSet, P: np.ndarray, uv0: np.ndarray, front: np.ndarray, K: np.ndarray, dist
) -> np.ndarray:
    """A rotation near the global optimum, from an exhaustive search of image shifts
    (and a few turns about the optical axis): the points' histogram correlated with
    each frame's border likelihood ``exp(-(d / sigma)^2)`` by FFT, summed over frames.
    A camera turned by a few degrees moves the image nearly rigidly, so the best shift
    lies in the basin of the Gauss-Newton passes, which the wide, outlier-prone
    scales they would otherwise need could miss (the cold bike and the shoes pull)."""
    # On a grid half as fine: a fourth of the work, and 2 px is fine enough for a start.
    k = pixel_scale(K)
    f = min(1.0, _COARSE_SCALE / k)  # the same angular grid whatever the resolution
    sigma = max(1.0, _SIGMA_PX * k)
    h0, w0 = ps.images[0].shape
    h, w = round(h0 * f), round(w0 * f)
    reach = int(SEARCH_PX * k * f)
    pad = reach + 2
    H, W = h + 2 * pad, w + 2 * pad
    like = []
    for img in ps.images:
        big = np.zeros((H, W), np.float32)
        # NaN (no border known there: a heat source) is no likelihood, not a poisoned FFT.
        likelihood = np.nan_to_num(np.exp(-((img / sigma) ** 2)), nan=0.0)
        small = cv2.resize(likelihood, (w, h), interpolation=cv2.INTER_AREA)
        big[pad : pad + h, pad : pad + w] = small
        like.append(np.fft.rfft2(big))
    centre = K[:2, 2]
    best = (-1.0, 0.0, 0.0, 0.0)
    for roll in ROLL_GRID_DEG:
        a = np.radians(roll)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        uv = ((uv0 - centre) @ rot.T + centre + 0.5) * f - 0.5
        col = np.rint(uv[:, 0]).astype(np.int64) + pad
        row = np.rint(uv[:, 1]).astype(np.int64) + pad
        ok = front & (col >= 0) & (col < W) & (row >= 0) & (row < H)
        spectrum = np.zeros_like(like[0])
        for k, L in enumerate(like):
            sel = ok & (ps.frame == k)
            hist = np.bincount(row[sel] * W + col[sel], minlength=H * W).astype(np.float32)
            spectrum += np.conj(np.fft.rfft2(hist.reshape(H, W))) * L
        corr = np.fft.irfft2(spectrum, s=(H, W))
        shifts = np.r_[0 : reach + 1, -reach:0]
        window = corr[np.ix_(shifts % H, shifts % W)]
        i, j = np.unravel_index(int(np.argmax(window)), window.shape)
        if window[i, j] > best[0]:
            best = (float(window[i, j]), roll, float(shifts[j]) / f, float(shifts[i]) / f)
    _, roll, dx, dy = best
    a = np.radians(roll)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    goal = (uv0 - centre) @ rot.T + centre + np.array([dx, dy])
    return _rotation_to(P[front], goal[front], K, dist)


def _rotation_to(P: np.ndarray, goal: np.ndarray, K: np.ndarray, dist) -> np.ndarray:
    """The rotation that projects ``P`` nearest to ``goal`` (least squares, pixels)."""
    x = np.zeros(3)
    sub = slice(None, None, max(1, len(P) // 2000))
    P, goal = P[sub], goal[sub]
    for _ in range(5):
        r = (project(P, x, K, dist) - goal).ravel()
        J = np.empty((len(r), 3))
        for j in range(3):
            dx = np.zeros(3)
            dx[j] = _EPS_RAD
            J[:, j] = ((project(P, x + dx, K, dist) - goal).ravel() - r) / _EPS_RAD
        x = x - np.linalg.lstsq(J, r, rcond=None)[0]
    return x
