"""Whether a rig's numbers can describe real cameras: checked where a rig is read.

A rig with a NaN, a zero focal length, a skewed rotation or a lens model that folds
over does not fail loudly downstream: label transfer runs, projects every label to the
wrong place and reports "8/8 frames labeled" (a non-orthonormal rotation even scored a
*higher* confidence than the true rig). So every rig read from a file, a session or a
device is checked here first, and a bad one is refused with one line naming the camera
and the number (:class:`calibration.rig.RigError`).

Thresholds and why:

- **Rotation** (``T_ref_cam[:3, :3]``): ``max |RᵀR − I| ≤ 1e-3`` and ``det R > 0``.
  Round trips of real rigs stay far below it (JSON and YAML keep 17 digits: 1e-16;
  float32 factory extrinsics: 1e-7; a rotation typed with 4 decimals: 3e-4), while the
  largest error it lets through shears a ray by 1e-3 rad — under a pixel at the edge of
  a 640-pixel image with a 500-pixel focal length.
- **Intrinsics**: focal lengths positive, at most :data:`MAX_FOCAL_SIDES` image sizes
  and giving the image border less than 76° off axis (the pinhole model's reach), skew
  at most a tenth of fx, the last row of K ``[0, 0, 1]``, the principal point within
  the image grown by half its size on each side (real lenses have it near the centre;
  a cropped sensor can move it, not off the image).
- **Translation**: finite and under :data:`MAX_BASELINE_M` from the reference camera
  (a rig spans centimetres to a metre; metres where millimetres were meant show up as
  kilometres).
- **Distortion** is "sane" when it is one of OpenCV's models and, over the image, one
  to one and of a plausible strength: every border pixel undistorts to a finite ray
  that projects back onto itself (within :data:`ROUND_TRIP_PX`), lies where the radial
  model still grows (:func:`calibration.camera_math.monotonic_r2`: inside 76° off axis;
  a pinhole model beyond that describes no lens) and sits at no more than
  :data:`MAX_RADIUS_FACTOR` times (or less than its inverse) the radius it has in the
  image — the strongest barrel distortion of a real wide-angle thermal lens moves its
  corners by about 1.5×, a huge coefficient (k1 = 1e6) by 60×.
- **Size**: whole positive pixel counts up to :data:`MAX_SIDE` (whether they fit the
  streams is :mod:`calibration.rig_streams`' question).
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

from calibration.camera_math import dist12, monotonic_r2, project_normalized, undistort_pixels
from drivers.errors import ThermorigError

#: Largest tolerated max |RᵀR − I| of a rotation (see the module docstring).
ROTATION_TOLERANCE = 1e-3
#: Largest distance (metres) of a camera from the reference camera.
MAX_BASELINE_M = 10.0
#: Largest image side a rig may describe (pixels).
MAX_SIDE = 65535
#: Largest round-trip error (pixels) of a border pixel through the lens model.
ROUND_TRIP_PX = 0.01
#: Largest factor between a border pixel's undistorted and distorted radius.
MAX_RADIUS_FACTOR = 3.0
#: Largest focal length, in image sizes (a 0.06° field of view: a telescope).
MAX_FOCAL_SIDES = 1000
#: Largest skew, as a fraction of fx (calibrations fix it at 0).
MAX_SKEW = 0.1
#: Largest normalized radius of the image border: tan 76°, beyond which the pinhole
#: model describes no lens (and the radius up to which monotonic_r2 looks).
MAX_RADIUS = 4.0
#: Border pixels sampled per image side for the distortion check.
_BORDER_SAMPLES = 16


def image_size(value: Any, what: str) -> int:
    """A whole, positive pixel count (``640`` or ``640.0``); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (Integral, Real)):
        raise ValueError(f"{what} must be a number of pixels, not {value!r}")
    if not math.isfinite(float(value)) or float(value) != int(value):
        raise ValueError(f"{what} must be a whole number of pixels, not {value!r}")
    if not 1 <= int(value) <= MAX_SIDE:
        raise ValueError(f"{what} must be 1 to {MAX_SIDE} pixels, not {int(value)}")
    return int(value)


def numbers(value: Any, shape: tuple[int, ...] | None, what: str) -> np.ndarray:
    """``value`` as float64 of ``shape`` (any shape when None); ValueError naming
    ``what`` when it is not numbers of that shape."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what} must be numbers") from None
    if shape is not None and a.size != int(np.prod(shape)):
        raise ValueError(f"{what} has {a.size} values, expected {int(np.prod(shape))}")
    return a.reshape(shape) if shape is not None else a.ravel()


def camera_problem(
    width: int, height: int, K: np.ndarray, dist: np.ndarray, T_ref_cam: np.ndarray
) -> str | None:
    """Why these numbers cannot describe a real camera (a phrase), or None."""
    for what, a in (("K", K), ("dist", dist), ("T_ref_cam", T_ref_cam)):
        if not np.isfinite(a).all():
            return f"{what} holds {'NaN' if np.isnan(a).any() else 'infinity'}"
    fx, fy = K[0, 0], K[1, 1]
    if fx <= 0 or fy <= 0:
        return f"focal length fx={fx:g}, fy={fy:g} must be positive"
    if max(fx, fy) > MAX_FOCAL_SIDES * max(width, height):
        return (
            f"focal length fx={fx:g}, fy={fy:g} is over {MAX_FOCAL_SIDES} times the image"
            " size: a field of view under 0.06°"
        )
    if abs(K[0, 1]) > MAX_SKEW * fx:
        return f"skew K[0][1]={K[0, 1]:g} is implausible (a camera's is 0 or nearly)"
    if np.abs(K[2] - (0.0, 0.0, 1.0)).max() > 1e-9 or K[1, 0] != 0:
        return f"K is not a camera matrix (its last row is {K[2].tolist()}, expected [0, 0, 1])"
    cx, cy = K[0, 2], K[1, 2]
    if not (-width / 2 <= cx <= 1.5 * width and -height / 2 <= cy <= 1.5 * height):
        return f"principal point ({cx:g}, {cy:g}) lies far outside the {width}x{height} image"
    if np.abs(T_ref_cam[3] - (0.0, 0.0, 0.0, 1.0)).max() > 1e-9:
        return f"T_ref_cam's last row is {T_ref_cam[3].tolist()}, expected [0, 0, 0, 1]"
    R = T_ref_cam[:3, :3]
    err = float(np.abs(R.T @ R - np.eye(3)).max())
    if err > ROTATION_TOLERANCE:
        return f"rotation is not orthonormal (|RᵀR − I| = {err:.3g})"
    if np.linalg.det(R) < 0:
        return "rotation is a mirror image (det R = −1)"
    baseline = float(np.linalg.norm(T_ref_cam[:3, 3]))
    if baseline > MAX_BASELINE_M:
        return (
            f"it is {baseline:g} m from the reference camera (more than {MAX_BASELINE_M:g} m;"
            " is T_ref_cam in millimetres? it is in metres)"
        )
    return distortion_problem(width, height, K, dist)


def _border(width: int, height: int) -> np.ndarray:
    """Pixel centres along the image's border, corners included, (N, 2)."""
    xs = np.linspace(0.0, width - 1.0, _BORDER_SAMPLES)
    ys = np.linspace(0.0, height - 1.0, _BORDER_SAMPLES)
    return np.concatenate(
        [
            np.stack([xs, np.zeros_like(xs)], 1),
            np.stack([xs, np.full_like(xs, height - 1.0)], 1),
            np.stack([np.zeros_like(ys), ys], 1),
            np.stack([np.full_like(ys, width - 1.0), ys], 1),
        ]
    )


def distortion_problem(width: int, height: int, K: np.ndarray, dist: np.ndarray) -> str | None:
    """Why ``dist`` is no plausible lens over a ``width``×``height`` image, or None."""
    try:
        d = dist12(dist)
    except ThermorigError as exc:
        return str(exc)
    uv = _border(width, height)
    yd = (uv[:, 1] - K[1, 2]) / K[1, 1]
    r_d = np.hypot((uv[:, 0] - K[0, 2] - K[0, 1] * yd) / K[0, 0], yd)
    if r_d.max() > MAX_RADIUS:
        deg = math.degrees(math.atan(r_d.max()))
        return (
            f"K gives the image border {deg:.1f}° off axis; a pinhole camera sees less than"
            f" {math.degrees(math.atan(MAX_RADIUS)):.0f}°"
        )
    if not d.any():
        return None
    with np.errstate(all="ignore"):
        xy = undistort_pixels(K, d, uv)
        u, v = project_normalized(K, d, xy[:, 0], xy[:, 1])
        back = np.hypot(u - uv[:, 0], v - uv[:, 1])
        r_u = np.hypot(xy[:, 0], xy[:, 1])
    coefficients = ", ".join(f"{c:g}" for c in np.asarray(dist, float).ravel())
    if not np.isfinite(xy).all() or not (back <= ROUND_TRIP_PX).all():
        return f"distortion ({coefficients}) cannot be inverted over the image"
    r_max = math.sqrt(monotonic_r2(tuple(d), MAX_RADIUS))
    if r_u.max() > r_max:
        deg = math.degrees(math.atan(r_max))
        return (
            f"distortion ({coefficients}) folds back inside the image (its radial model"
            f" stops growing {deg:.0f}° off axis)"
        )
    far = r_d > 0.25 * r_d.max()
    factor = r_u[far] / r_d[far]
    hi, lo = float(factor.max()), float(factor.min())
    if hi > MAX_RADIUS_FACTOR or lo < 1 / MAX_RADIUS_FACTOR:
        worst = hi if hi > MAX_RADIUS_FACTOR else lo
        return (
            f"distortion ({coefficients}) scales the image border's distance from the axis"
            f" by {worst:.3g}; no real lens does by more than {MAX_RADIUS_FACTOR:g}"
        )
    return None
