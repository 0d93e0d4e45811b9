"""The true synthetic rig: three cameras with OpenCV lens models and their poses.

Rendering casts one ray per pixel through each camera's *distorted* model: the rays
come from inverting OpenCV's distortion once per camera (to ~1e-9 px) and are cached,
so every rendered image, label and keypoint agrees with the intrinsics and extrinsics
that calibration is expected to recover. All distortion coefficients are chosen so
that the radial model is monotonic, which keeps far off-image points off the image.
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from drivers.synthetic.ray_store import stored_rays
from drivers.types import Intrinsics

#: Creation stamp of the truth rig: fixed, so the truth is identical for every run.
TRUTH_CREATED = "1970-01-01T00:00:00+00:00"


def rotation(rx_deg: float = 0.0, ry_deg: float = 0.0, rz_deg: float = 0.0) -> np.ndarray:
    """Rotation matrix R = Rz @ Ry @ Rx from angles in degrees (camera axes)."""
    ax, ay, az = (math.radians(v) for v in (rx_deg, ry_deg, rz_deg))
    cx, sx, cy, sy, cz, sz = (
        math.cos(ax),
        math.sin(ax),
        math.cos(ay),
        math.sin(ay),
        math.cos(az),
        math.sin(az),
    )
    Rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return Rz @ Ry @ Rx


def transform(R: np.ndarray, t: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = t
    return T


def invert(T: np.ndarray) -> np.ndarray:
    R, t = T[:3, :3], T[:3, 3]
    out = np.eye(4)
    out[:3, :3] = R.T
    out[:3, 3] = -R.T @ t
    return out


#: ``T_ref_cam`` of the reference camera itself.
IDENTITY_POSE = tuple(tuple(float(v) for v in row) for row in np.eye(4))


@dataclass(frozen=True)
class CameraModel(Intrinsics):
    """One camera of the true rig: its intrinsics plus a name and its pose in the depth
    camera's frame."""

    name: str = ""
    T_ref_cam: tuple[tuple[float, ...], ...] = IDENTITY_POSE

    @property
    def pose(self) -> np.ndarray:
        """``T_ref_cam``: this camera's frame to the reference (depth) camera's frame."""
        return np.asarray(self.T_ref_cam, dtype=np.float64)

    @property
    def intrinsics(self) -> Intrinsics:
        """As a plain Intrinsics (what a StreamSpec carries)."""
        return Intrinsics(self.width, self.height, self.K, self.dist)

    def rig_entry(self) -> dict[str, Any]:
        return {**self.to_dict(), "T_ref_cam": [list(r) for r in self.T_ref_cam]}

    def distort(self, xn: np.ndarray, yn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalized undistorted coordinates to pixels (OpenCV's model, vectorized)."""
        k1, k2, p1, p2, k3 = self.dist[:5]
        r2 = xn * xn + yn * yn
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        xd = xn * radial + 2.0 * p1 * xn * yn + p2 * (r2 + 2.0 * xn * xn)
        yd = yn * radial + p1 * (r2 + 2.0 * yn * yn) + 2.0 * p2 * xn * yn
        (fx, _, cx), (_, fy, cy), _ = self.K
        return fx * xd + cx, fy * yd + cy

    def project(self, points: np.ndarray) -> np.ndarray:
        """Points (N,3) in this camera's frame to pixels (N,2); NaN behind the camera."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        out = np.full((len(pts), 2), np.nan)
        front = pts[:, 2] > 1e-6
        if front.any():
            p = pts[front]
            u, v = self.distort(p[:, 0] / p[:, 2], p[:, 1] / p[:, 2])
            out[front] = np.stack([u, v], axis=1)
        return out

    def in_image(self, uv: np.ndarray) -> np.ndarray:
        """True for pixel coordinates inside the image (pixel centres are integers)."""
        u, v = uv[..., 0], uv[..., 1]
        with np.errstate(invalid="ignore"):
            return (u >= -0.5) & (u < self.width - 0.5) & (v >= -0.5) & (v < self.height - 0.5)

    def rays(self) -> np.ndarray:
        """Unit ray directions (H, W, 3) float32 through every pixel centre (cached)."""
        return _rays(self.width, self.height, self.K, self.dist)

    def normalized_bounds(self) -> tuple[float, float, float, float]:
        """The undistorted normalized coordinates the image spans: (x0, x1, y0, y1)."""
        return _bounds(self.width, self.height, self.K, self.dist)


#: Points per piece of the pixel grid polished at a time: small enough for the dozen
#: temporaries of Newton's step to stay in the CPU cache (twice as fast as one pass over
#: a 1280x720 grid), and pieces run on two threads (numpy releases the interpreter).
#: Every point is computed alone, so the result is the same to the last bit whatever
#: the piece size (tests/test_synthetic_camera.py).
UNDISTORT_CHUNK = 32768
#: Pixels between the nodes where the lens is inverted exactly; pixels between them
#: start from a bilinear guess (~0.01 px off on the thermal lens) that two Newton steps
#: bring to ~1e-11 px: opening the demo's three cameras takes ~0.2 s instead of ~0.8 s.
UNDISTORT_NODE_STEP = 8
#: Newton steps from the bilinear guess (quadratic convergence: 1e-2, 1e-6, 1e-12 px).
POLISH_STEPS = 2


def _undistort_grid(
    width: int, height: int, K: tuple, dist: tuple, chunk: int = UNDISTORT_CHUNK
) -> np.ndarray:
    """Normalized undistorted (x, y) of every pixel centre, (H, W, 2) float64.

    OpenCV's iterative inverse seeds Newton's method on the full 5-coefficient model at
    a lattice of nodes (round trip ~1e-9 px even at the corners of a strongly distorted
    thermal lens; OpenCV's fixed-point iteration alone stops near 0.1 px); every pixel
    then starts from the bilinear blend of its four nodes and takes POLISH_STEPS.
    """
    cam = CameraModel(width, height, K, dist, name="tmp")
    step = UNDISTORT_NODE_STEP
    nu, nv = (width - 1) // step + 2, (height - 1) // step + 2
    nodes_u, nodes_v = np.meshgrid(np.arange(nu) * float(step), np.arange(nv) * float(step))
    nodes = np.stack([nodes_u.ravel(), nodes_v.ravel()], axis=1)
    exact = _newton(cam, nodes, _opencv_seed(cam, nodes), 6).reshape(nv, nu, 2)

    def piece(first: int) -> np.ndarray:
        flat = np.arange(first, min(first + chunk, width * height))
        target = np.stack([flat % width, flat // width], axis=1).astype(np.float64)
        return _newton(cam, target, _bilinear_seed(exact, target, step), POLISH_STEPS)

    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(piece, range(0, width * height, chunk)))
    return np.concatenate(done).reshape(height, width, 2)


def _bilinear_seed(exact: np.ndarray, target: np.ndarray, step: int) -> np.ndarray:
    """The bilinear blend, at pixels ``target`` (N, 2), of the nodes every ``step`` px."""
    j, i = (target // step).astype(np.intp).T
    fu, fv = (
        ((target[:, 0] - j * step) / step)[:, None],
        ((target[:, 1] - i * step) / step)[:, None],
    )
    top = exact[i, j] + (exact[i, j + 1] - exact[i, j]) * fu
    bottom = exact[i + 1, j] + (exact[i + 1, j + 1] - exact[i + 1, j]) * fu
    return top + (bottom - top) * fv


def _opencv_seed(cam: CameraModel, target: np.ndarray) -> np.ndarray:
    """OpenCV's fixed-point inverse of pixels ``target`` (N, 2): normalized (N, 2)."""
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 1e-12)
    xy = cv2.undistortPoints(target.reshape(-1, 1, 2), cam.matrix, cam.dist_coeffs, criteria=crit)
    return xy[:, 0, :]


def _newton(cam: CameraModel, target: np.ndarray, start: np.ndarray, steps: int) -> np.ndarray:
    """Newton's method on the lens model: normalized (x, y) whose pixels are ``target``."""
    x, y = start[:, 0].astype(np.float64), start[:, 1].astype(np.float64)
    k1, k2, p1, p2, k3 = cam.dist[:5]
    (fx, _, _), (_, fy, _), _ = cam.K
    for _ in range(steps):
        r2 = x * x + y * y
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dradial = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2)
        pu, pv = cam.distort(x, y)
        ex, ey = (pu - target[:, 0]) / fx, (pv - target[:, 1]) / fy
        jxx = radial + 2.0 * x * x * dradial + 2.0 * p1 * y + 6.0 * p2 * x
        jxy = 2.0 * x * y * dradial + 2.0 * p1 * x + 2.0 * p2 * y
        jyy = radial + 2.0 * y * y * dradial + 6.0 * p1 * y + 2.0 * p2 * x
        det = jxx * jyy - jxy * jxy  # the Jacobian is symmetric
        x -= (jyy * ex - jxy * ey) / det
        y -= (jxx * ey - jxy * ex) / det
    return np.stack([x, y], axis=1)


@functools.lru_cache(maxsize=8)
def _rays(width: int, height: int, K: tuple, dist: tuple) -> np.ndarray:
    key = (width, height, K, dist, UNDISTORT_NODE_STEP, POLISH_STEPS)
    out = stored_rays(key, (height, width, 3), lambda: _make_rays(width, height, K, dist))
    out.setflags(write=False)
    return out


def _make_rays(width: int, height: int, K: tuple, dist: tuple) -> np.ndarray:
    """Unit rays (H, W, 3) float32 through the undistorted pixel centres."""
    xy = _undistort_grid(width, height, K, dist)
    x, y = xy[..., 0], xy[..., 1]
    norm = np.sqrt(x * x + y * y + 1.0)
    out = np.empty((height, width, 3), np.float32)
    np.divide(x, norm, out=out[..., 0], casting="same_kind")
    np.divide(y, norm, out=out[..., 1], casting="same_kind")
    np.divide(1.0, norm, out=out[..., 2], casting="same_kind")
    return out


@functools.lru_cache(maxsize=8)
def _bounds(width: int, height: int, K: tuple, dist: tuple) -> tuple[float, float, float, float]:
    d = _rays(width, height, K, dist)
    x, y = d[..., 0] / d[..., 2], d[..., 1] / d[..., 2]
    return float(x.min()), float(x.max()), float(y.min()), float(y.max())


def pixel_roi(
    cam: CameraModel, lo: np.ndarray, hi: np.ndarray, margin: int = 2
) -> tuple[int, int, int, int] | None:
    """Pixel rectangle (r0, r1, c0, c1) that holds every ray hitting the box [lo, hi].

    The box is in camera coordinates. Perspective maps the box into the rectangle its
    corners span in normalized coordinates; the lens (monotonic, hence one-to-one)
    maps that rectangle's boundary onto the boundary of its image, so the bounding
    box of the distorted boundary (finely sampled, plus a margin) holds every ray.
    Returns None when the box lies wholly behind the camera or outside the view.
    """
    corners = np.array(np.meshgrid([lo[0], hi[0]], [lo[1], hi[1]], [lo[2], hi[2]])).reshape(3, -1).T
    if corners[:, 2].max() <= 1e-3:
        return None
    if corners[:, 2].min() <= 1e-3:
        return 0, cam.height, 0, cam.width
    xs, ys = corners[:, 0] / corners[:, 2], corners[:, 1] / corners[:, 2]
    bx0, bx1, by0, by1 = cam.normalized_bounds()
    pad = 0.02
    x0, x1 = max(xs.min(), bx0 - pad), min(xs.max(), bx1 + pad)
    y0, y1 = max(ys.min(), by0 - pad), min(ys.max(), by1 + pad)
    if x0 >= x1 or y0 >= y1:
        return None
    s = np.linspace(0.0, 1.0, 24)
    ex = np.concatenate(
        [x0 + (x1 - x0) * s, np.full_like(s, x1), x1 - (x1 - x0) * s, np.full_like(s, x0)]
    )
    ey = np.concatenate(
        [np.full_like(s, y0), y0 + (y1 - y0) * s, np.full_like(s, y1), y1 - (y1 - y0) * s]
    )
    u, v = cam.distort(ex, ey)
    c0 = max(0, int(math.floor(u.min())) - margin)
    c1 = min(cam.width, int(math.ceil(u.max())) + margin + 1)
    r0 = max(0, int(math.floor(v.min())) - margin)
    r1 = min(cam.height, int(math.ceil(v.max())) + margin + 1)
    if r0 >= r1 or c0 >= c1:
        return None
    return r0, r1, c0, c1


def _K(fx: float, fy: float, cx: float, cy: float) -> tuple[tuple[float, float, float], ...]:
    return ((fx, 0.0, cx), (0.0, fy, cy), (0.0, 0.0, 1.0))


def _as_tuple(T: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in T)


def true_cameras(sizes: dict[str, tuple[int, int]]) -> dict[str, CameraModel]:
    """The rig every synthetic scene is seen through (identical for every seed).

    Nominal designs at the nominal sizes, scaled to the requested sizes: a ToF depth
    camera (reference), a thermal camera 8 cm to its right with a strong barrel lens,
    and an RGB camera 6 cm to its left; both toe in slightly towards a subject ~1.4 m
    away. Baselines and rotations are what a hand-built rig bracket gives.
    """
    nominal = {
        "depth": ((640, 480), (524.0, 524.0, 321.3, 242.1), (-0.06, 0.03, 0.0004, -0.0002, 0.0)),
        "thermal": ((640, 512), (768.0, 766.0, 324.6, 249.2), (-0.30, 0.10, 0.0006, -0.0004, 0.0)),
        "color": ((1280, 720), (918.0, 917.0, 637.8, 362.5), (0.05, 0.01, 0.0003, 0.0002, 0.0)),
    }
    poses = {
        "depth": np.eye(4),
        "thermal": transform(rotation(0.9, -2.6, 0.6), (0.082, 0.011, -0.004)),
        "color": transform(rotation(-0.7, 1.8, -0.4), (-0.061, -0.008, 0.003)),
    }
    out: dict[str, CameraModel] = {}
    for name, ((w0, h0), (fx, fy, cx, cy), dist) in nominal.items():
        w, h = sizes[name]
        sx, sy = w / w0, h / h0
        K = _K(fx * sx, fy * sy, (cx + 0.5) * sx - 0.5, (cy + 0.5) * sy - 0.5)
        out[name] = CameraModel(w, h, K, dist, name=name, T_ref_cam=_as_tuple(poses[name]))
    return out


def rig_dict(cameras: dict[str, CameraModel], board: str | None) -> dict[str, Any]:
    """The true rig in the rig-JSON schema of docs/formats/rig.md (what calibration should find)."""
    return {
        "reference": "depth",
        "created": TRUTH_CREATED,
        "board": board,
        "cameras": {name: cam.rig_entry() for name, cam in cameras.items()},
        "quality": {},
    }
