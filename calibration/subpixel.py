"""Sub-pixel corner positions by fitting a blurred X-junction to the pixels around it.

``cv2.cornerSubPix`` assumes every pixel in its window has a gradient pointing at
the corner; in noisy, soft thermal images the board's rim, shading and noise break
that assumption, and on the real coded-target images it leaves 0.37 px of RMS
reprojection error. Fitting an explicit model — two straight edges through the
corner, blurred, ``I = b + a · tanh(d₁/s) · tanh(d₂/s)`` — to a small disc of pixels
(a few pixels across) instead brought the same images to ≈ 0.22 px. The fit is a
Levenberg–Marquardt solve batched over all corners of a view (7 parameters each:
position, two edge angles, amplitude, offset, blur), so a view costs a few ms.

The fitted blur ``s`` (pixels) and amplitude ``|2a|`` (grey levels) come back too:
they are the detection's sharpness and contrast figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Smallest and largest disc radius (pixels) of the fit.
MIN_RADIUS = 2.5
MAX_RADIUS = 6.0
#: Disc radius as a fraction of the local square size.
RADIUS_FRACTION = 0.15
#: A junction whose dark/light step is not this many times the fit's residual is
#: noise (or flat ground), not a corner.
_MIN_CONTRAST_TO_RESIDUAL = 3.0


@dataclass
class CornerFit:
    """Per-corner results of :func:`fit_x_junctions`."""

    points: np.ndarray  # (N, 2) float64 refined positions (NaN where the fit failed)
    ok: np.ndarray  # (N,) bool
    blur: np.ndarray  # (N,) fitted edge blur s, pixels
    contrast: np.ndarray  # (N,) |2a|, grey levels of the input image
    params: np.ndarray  # (N, 7) x, y, angle 1, angle 2, a, b, s


def fit_radius(square_px: np.ndarray) -> np.ndarray:
    """The disc radius for corners whose squares are ``square_px`` pixels wide."""
    return np.clip(
        RADIUS_FRACTION * np.asarray(square_px, dtype=np.float64), MIN_RADIUS, MAX_RADIUS
    )


def _model(X: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model values (M, Q) and Jacobian (M, Q, 7) for parameters P (M, 7)."""
    px, py, t1, t2, a, b, s = (P[:, k : k + 1] for k in range(7))
    dx = X[..., 0] - px
    dy = X[..., 1] - py
    s1, c1, s2, c2 = np.sin(t1), np.cos(t1), np.sin(t2), np.cos(t2)
    d1 = -s1 * dx + c1 * dy
    d2 = -s2 * dx + c2 * dy
    T1 = np.tanh(d1 / s)
    T2 = np.tanh(d2 / s)
    f = b + a * T1 * T2
    g1 = a * (1.0 - T1 * T1) / s * T2  # ∂f/∂d1
    g2 = a * T1 * (1.0 - T2 * T2) / s  # ∂f/∂d2
    J = np.empty(X.shape[:2] + (7,))
    J[..., 0] = g1 * s1 + g2 * s2
    J[..., 1] = -g1 * c1 - g2 * c2
    J[..., 2] = g1 * (-c1 * dx - s1 * dy)
    J[..., 3] = g2 * (-c2 * dx - s2 * dy)
    J[..., 4] = T1 * T2
    J[..., 5] = 1.0
    J[..., 6] = -(g1 * d1 + g2 * d2) / s
    return f, J


def fit_x_junctions(
    image: np.ndarray,
    points: np.ndarray,
    axis_u: np.ndarray,
    axis_v: np.ndarray,
    radius: np.ndarray | float,
    iterations: int = 15,
    passes: int = 2,
) -> CornerFit:
    """Refine corners of a checker pattern by fitting an X-junction model to each.

    ``axis_u``/``axis_v`` are the board's local row and column directions in pixels
    (any length; they only seed the edge angles). ``radius`` is the disc radius per
    corner (see :func:`fit_radius`). The disc is re-centred on the fitted corner and
    the fit repeated ``passes`` times, so that the answer does not depend on where the
    disc started. A fit fails — ``ok`` False — when the disc leaves the image, the
    solution wanders off (more than half the radius from its start), the edges come
    out nearly parallel, the blur is implausible, or the step between dark and light is
    lost in the residual.
    """
    start = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    fit = _fit_once(image, start, axis_u, axis_v, radius, iterations)
    for _ in range(passes - 1):
        again = _fit_once(
            image,
            np.where(fit.ok[:, None], fit.points, start),
            axis_u,
            axis_v,
            radius,
            iterations,
            fit,
        )
        keep = fit.ok & again.ok
        again.points[~keep] = np.nan
        again.ok = keep
        fit = again
    return fit


def _fit_once(
    image: np.ndarray,
    points: np.ndarray,
    axis_u: np.ndarray,
    axis_v: np.ndarray,
    radius: np.ndarray | float,
    iterations: int,
    seed: CornerFit | None = None,
) -> CornerFit:
    """One fit with the disc centred on ``points`` (edge angles and blur from ``seed``)."""
    img = np.asarray(image, dtype=np.float32)
    p0 = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    n = len(p0)
    radius = np.broadcast_to(np.asarray(radius, dtype=np.float64), (n,)).copy()
    out = CornerFit(
        np.full((n, 2), np.nan),
        np.zeros(n, bool),
        np.full(n, np.nan),
        np.full(n, np.nan),
        np.full((n, 7), np.nan),
    )
    if n == 0:
        return out
    h, w = img.shape[:2]
    R = int(np.ceil(radius.max()))
    inside = (
        (p0[:, 0] - R >= 0)
        & (p0[:, 1] - R >= 0)
        & (p0[:, 0] + R <= w - 1)
        & (p0[:, 1] + R <= h - 1)
    )
    idx = np.flatnonzero(inside & np.all(np.isfinite(p0), axis=1))
    if idx.size == 0:
        return out
    p = p0[idx]
    oy, ox = np.mgrid[-R : R + 1, -R : R + 1]
    centre = np.rint(p).astype(np.int64)
    xs = centre[:, 0:1] + ox.ravel()[None, :]
    ys = centre[:, 1:2] + oy.ravel()[None, :]
    X = np.stack([xs, ys], axis=-1).astype(np.float64)
    val = img[ys, xs].astype(np.float64)
    W = (np.hypot(X[..., 0] - p[:, 0:1], X[..., 1] - p[:, 1:2]) <= radius[idx, None]).astype(
        np.float64
    )

    u = np.asarray(axis_u, dtype=np.float64).reshape(-1, 2)[idx]
    v = np.asarray(axis_v, dtype=np.float64).reshape(-1, 2)[idx]
    P = np.zeros((len(idx), 7))
    P[:, 0:2] = p
    P[:, 2] = np.arctan2(u[:, 1], u[:, 0])
    P[:, 3] = np.arctan2(v[:, 1], v[:, 0])
    P[:, 6] = 1.0
    if seed is not None:
        P[:, 2:4] = seed.params[idx, 2:4]
        P[:, 6] = np.clip(np.nan_to_num(seed.params[idx, 6], nan=1.0), 0.3, radius[idx])
    # Amplitude and offset by linear least squares for the seeded geometry.
    P[:, 4], P[:, 5] = 1.0, 0.0
    _, J0 = _model(X, P)
    T = J0[..., 4]
    sw = W.sum(1)
    mt = (W * T).sum(1) / sw
    mi = (W * val).sum(1) / sw
    var = (W * (T - mt[:, None]) ** 2).sum(1)
    P[:, 4] = (W * (T - mt[:, None]) * (val - mi[:, None])).sum(1) / np.maximum(var, 1e-9)
    P[:, 5] = mi - P[:, 4] * mt

    f, J = _model(X, P)
    err = (W * (val - f) ** 2).sum(1)
    lam = np.full(len(idx), 1e-3)
    eye = np.eye(7)
    active = np.ones(len(idx), bool)  # corners still moving; the rest are left alone
    for _ in range(iterations):
        a = np.flatnonzero(active)
        if a.size == 0:
            break
        JWt = (J[a] * W[a, :, None]).transpose(0, 2, 1)
        A = JWt @ J[a]
        g = (JWt @ (val[a] - f[a])[..., None])[..., 0]
        diag = np.einsum("mkk->mk", A)
        damp = A + (lam[a, None, None] * (diag[:, :, None] + 1e-9)) * eye
        try:
            step = np.linalg.solve(damp, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            break
        Pn = P[a] + step
        Pn[:, 6] = np.maximum(Pn[:, 6], 0.3)
        fn, Jn = _model(X[a], Pn)
        errn = (W[a] * (val[a] - fn) ** 2).sum(1)
        better = np.isfinite(errn) & (errn < err[a])
        b = a[better]
        P[b], f[b], J[b], err[b] = Pn[better], fn[better], Jn[better], errn[better]
        lam[a] = np.where(better, np.maximum(lam[a] / 3.0, 1e-7), np.minimum(lam[a] * 5.0, 1e7))
        converged = better & (np.abs(step[:, :2]).max(1) < 1e-3)
        active[a[converged | (lam[a] >= 1e7)]] = False

    moved = np.hypot(P[:, 0] - p[:, 0], P[:, 1] - p[:, 1])
    angle = np.abs(np.sin(P[:, 3] - P[:, 2]))
    resid = np.sqrt(err / np.maximum(W.sum(1), 1.0))
    ok = (
        np.all(np.isfinite(P), axis=1)
        & (2.0 * np.abs(P[:, 4]) > _MIN_CONTRAST_TO_RESIDUAL * resid)
        & (moved <= np.maximum(0.5 * radius[idx], 1.0))
        & (angle > np.sin(np.radians(20.0)))
        & (P[:, 6] < radius[idx])
    )
    out.points[idx] = np.where(ok[:, None], P[:, :2], np.nan)
    out.ok[idx] = ok
    out.blur[idx] = P[:, 6]
    out.contrast[idx] = 2.0 * np.abs(P[:, 4])
    out.params[idx] = P
    return out
