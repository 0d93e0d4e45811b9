"""The X-junction fit's numpy form, as it was before the compiled loop
(:mod:`calibration.xjunction_kernel`), kept as an oracle: the fit must still give these
corners, blurs and contrasts to rounding.

The LM iteration is batched over all corners (stacks of corners × disc pixels × 7);
only the fit itself (:func:`fit`, in ``calibration.subpixel._fit``'s place) is restated
here: the passes, starting values and result checks around it are
:func:`calibration.subpixel.fit_x_junctions`'.
"""

from __future__ import annotations

import numpy as np


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


def fit(
    img: np.ndarray,
    centre: np.ndarray,
    start: np.ndarray,
    radius: np.ndarray,
    R: int,
    P: np.ndarray,
    iterations: int,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`calibration.subpixel._fit` batched in numpy: ``P`` fitted in place; each
    corner's squared residual and disc size."""
    oy, ox = np.mgrid[-R : R + 1, -R : R + 1]
    xs = centre[:, 0:1] + ox.ravel()[None, :]
    ys = centre[:, 1:2] + oy.ravel()[None, :]
    X = np.stack([xs, ys], axis=-1).astype(np.float64)
    val = img[ys, xs].astype(np.float64)
    W = (np.hypot(X[..., 0] - start[:, 0:1], X[..., 1] - start[:, 1:2]) <= radius[:, None]).astype(
        np.float64
    )
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
    lam = np.full(len(P), 1e-3)
    eye = np.eye(7)
    active = np.ones(len(P), bool)  # corners still moving; the rest are left alone
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
    return err, W.sum(1)
