"""The X-junction fit's Levenberg–Marquardt loop, compiled (numba), one corner at a time.

:mod:`calibration.subpixel` fits ``I = b + a · tanh(d₁/s) · tanh(d₂/s)`` to a disc of
pixels around each corner. In numpy the fit was batched over a view's corners: some
forty array operations an iteration on (corners × disc pixels × 7) stacks, each a
round trip through the interpreter, so a calibration view's fit held the interpreter
for tens of milliseconds — long enough for the calibration wizard's window to freeze
while a pose was searched in the background. Here each corner's fit runs to its end in
registers-sized arrays, without the interpreter (``nogil``).

The arithmetic is the numpy fit's, step for step (the same model and Jacobian, the same
damping ``A + λ·(diag A + 1e-9)``, the same acceptance and λ schedule, the step solved
by Gaussian elimination with partial pivoting as LAPACK's ``gesv`` does); only the
order of summation differs, so results agree to rounding (tests/test_subpixel.py holds
it to a reference copy of the numpy fit). A singular system ends that corner's fit,
where numpy's batched solve ended every corner's.
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: Smallest edge blur the fit may take, pixels.
MIN_BLUR = 0.3


@numba.njit(inline="always")
def _model_at(x, y, P, trig, J):
    """Model value at pixel (x, y) for parameters ``P`` (7,) (``trig`` = the sines and
    cosines of its edge angles); its gradient into ``J``."""
    px, py, a, b, s = P[0], P[1], P[4], P[5], P[6]
    s1, c1, s2, c2 = trig
    dx = x - px
    dy = y - py
    d1 = -s1 * dx + c1 * dy
    d2 = -s2 * dx + c2 * dy
    T1 = math.tanh(d1 / s)
    T2 = math.tanh(d2 / s)
    g1 = a * (1.0 - T1 * T1) / s * T2  # ∂f/∂d1
    g2 = a * T1 * (1.0 - T2 * T2) / s  # ∂f/∂d2
    J[0] = g1 * s1 + g2 * s2
    J[1] = -g1 * c1 - g2 * c2
    J[2] = g1 * (-c1 * dx - s1 * dy)
    J[3] = g2 * (-c2 * dx - s2 * dy)
    J[4] = T1 * T2
    J[5] = 1.0
    J[6] = -(g1 * d1 + g2 * d2) / s
    return b + a * T1 * T2


@numba.njit(inline="always")
def _evaluate(xs, ys, val, n, P, f, J):
    """Model and Jacobian over the disc's first ``n`` pixels; the squared residual."""
    trig = math.sin(P[2]), math.cos(P[2]), math.sin(P[3]), math.cos(P[3])
    err = 0.0
    for q in range(n):
        f[q] = _model_at(xs[q], ys[q], P, trig, J[q])
        r = val[q] - f[q]
        err += r * r
    return err


@numba.njit(inline="always")
def _solve(A, g, step):
    """``A · step = g`` for a 7×7 ``A`` (overwritten) by elimination with partial
    pivoting; False where a pivot is exactly zero (singular, as LAPACK reports it)."""
    n = 7
    for k in range(n):
        best = k
        for i in range(k + 1, n):
            if abs(A[i, k]) > abs(A[best, k]):
                best = i
        if A[best, k] == 0.0:
            return False
        if best != k:
            for j in range(n):
                A[k, j], A[best, j] = A[best, j], A[k, j]
            g[k], g[best] = g[best], g[k]
        for i in range(k + 1, n):
            m = A[i, k] / A[k, k]
            for j in range(k, n):
                A[i, j] -= m * A[k, j]
            g[i] -= m * g[k]
    for k in range(n - 1, -1, -1):
        acc = g[k]
        for j in range(k + 1, n):
            acc -= A[k, j] * step[j]
        step[k] = acc / A[k, k]
    return True


@numba.njit(nogil=True, cache=True, error_model="numpy")
def fit_corners(img, centre, start, radius, R, P, iterations, err_out, weight_out):
    """Fit each corner's X-junction model; ``P`` (n, 7) float64 in place.

    ``img`` float32 image; ``centre`` (n, 2) int64 the disc's pixel centre (the start
    rounded); ``start`` (n, 2) float64 where the disc is measured from; ``radius`` (n,)
    its radius, within the square of half-width ``R`` read around ``centre`` (which the
    caller keeps inside the image). ``P`` comes in with the position, edge angles and
    blur to start from; amplitude and offset are solved first by linear least squares
    for that geometry. Out: ``err_out`` the weighted squared residual, ``weight_out``
    the disc's pixel count.
    """
    side = 2 * R + 1
    Q = side * side
    xs = np.empty(Q)
    ys = np.empty(Q)
    val = np.empty(Q)
    f = np.empty(Q)
    fn = np.empty(Q)
    J = np.empty((Q, 7))
    Jn = np.empty((Q, 7))
    A = np.empty((7, 7))
    g = np.empty(7)
    step = np.empty(7)
    Pn = np.empty(7)
    for m in range(P.shape[0]):
        # The disc's pixels only: the numpy fit weighted the square's others by 0.
        cx, cy = centre[m, 0], centre[m, 1]
        n = 0
        for oy in range(-R, R + 1):
            for ox in range(-R, R + 1):
                x, y = cx + ox, cy + oy
                if math.hypot(x - start[m, 0], y - start[m, 1]) <= radius[m]:
                    xs[n] = x
                    ys[n] = y
                    val[n] = img[y, x]
                    n += 1
        p = P[m]
        # Amplitude and offset by linear least squares for the starting geometry.
        p[4], p[5] = 1.0, 0.0
        _evaluate(xs, ys, val, n, p, f, J)
        mt = 0.0
        mi = 0.0
        for q in range(n):
            mt += J[q, 4]
            mi += val[q]
        mt /= n
        mi /= n
        var = 0.0
        cov = 0.0
        for q in range(n):
            t = J[q, 4] - mt
            var += t * t
            cov += t * (val[q] - mi)
        p[4] = cov / max(var, 1e-9)
        p[5] = mi - p[4] * mt
        err = _evaluate(xs, ys, val, n, p, f, J)
        lam = 1e-3
        for _ in range(iterations):
            for i in range(7):
                acc = 0.0
                for q in range(n):
                    acc += J[q, i] * (val[q] - f[q])
                g[i] = acc
                for j in range(i + 1):
                    acc = 0.0
                    for q in range(n):
                        acc += J[q, i] * J[q, j]
                    A[i, j] = acc
                    A[j, i] = acc
            for i in range(7):
                A[i, i] += lam * (A[i, i] + 1e-9)
            if not _solve(A, g, step):
                break
            for i in range(7):
                Pn[i] = p[i] + step[i]
            if not Pn[6] >= MIN_BLUR:  # NaN stays NaN, as numpy's maximum keeps it
                Pn[6] = MIN_BLUR if Pn[6] == Pn[6] else Pn[6]
            errn = _evaluate(xs, ys, val, n, Pn, fn, Jn)
            better = math.isfinite(errn) and errn < err
            if better:
                p[:] = Pn
                f[:n] = fn[:n]
                J[:n] = Jn[:n]
                err = errn
                lam = max(lam / 3.0, 1e-7)
            else:
                lam = min(lam * 5.0, 1e7)
            if (better and max(abs(step[0]), abs(step[1])) < 1e-3) or lam >= 1e7:
                break
        err_out[m] = err
        weight_out[m] = n
