"""Compiled per-point kernels of the label transfer (numba): a camera's lens, and the
depth points into a z-buffer.

A z-buffer of camera X from the depth image is two loops over the depth pixels: each
projected through X's lens to its z-buffer pixel (:func:`project_points`), then per
pixel the nearest of the points landing there kept (:func:`splat_in_order`). The lens
and the nearest-pixel rule here serve the target side too
(:mod:`calibration.transfer_kernels`).

The kernels do the numpy path's float32 arithmetic operation for operation (products and
sums rounded to float32 one at a time, no fast-math; nearest pixels rounded half to even
as ``cv2.remap`` rounds them, :func:`nearest_flat`) but for the lens: they evaluate its model
(:func:`distorted`, within 1e-3 px of the exact float64 model) where the numpy path
bilinearly read a table of it (within ~0.02 px). So a point right on a pixel's edge
may fall on the other side: tests/test_projection_fast.py holds the transfer to the
first implementation's within a tolerance (depth on ≤ 0.2 % of pixels, labels and
reasons on ≤ 0.05 %, confidences within 1e-3; observed 0.02 %, 0.003 %, 1.2e-4).

Speed comes from LLVM turning the row loops into vector code: branch-free bodies in a
function of their own, scalars only in the inlined helpers (:func:`through_lens`),
contiguous row slices (:func:`row_rays`). The lens table's bilinear reads were gathers
that took half of the trace's time (3.9 → 2.0 ms a 1280×720 frame); the depth
projection, its ray arrays read through an inlined helper, was not vectorized at all
(1.16 → 0.69 ms, ``thermorig bench --only projection``). Compiled once per machine
(``cache=True``: seconds the first time, then loaded from numba's cache).
"""

from __future__ import annotations

import threading

import numba
import numba.extending
import numpy as np

_INF = np.float32(np.inf)

#: numba runs the parallel kernels on OpenMP where the system has it (libgomp, faster
#: here beside OpenCV's threads) and otherwise on its own pool ("workqueue"), which
#: aborts the process when two threads launch kernels at once (test_transfer_kernels
#: fails without this lock on it). The kernels use every core anyway: they take turns.
#: (GNU OpenMP is not safe in a process forked after it ran: thermorig's worker
#: processes are spawned, never forked.)
PARALLEL = threading.Lock()

#: Images up to this many pixels have every flat index exact in float32
#: (:func:`nearest_flat`); the kernels reading by it refuse larger ones.
FLAT_INDEX_LIMIT = 2**24


def _lens_terms(d, x, y, xx, yy, xy, r2, rr):
    """Distorted normalized coordinates (xd, yd) of (x, y) for the coefficients
    ``d``: compiled only, by its overload (:func:`_lens_terms_for`)."""
    raise NotImplementedError("compiled only (numba)")


@numba.extending.overload(_lens_terms, inline="always")
def _lens_terms_for(d, x, y, xx, yy, xy, r2, rr):
    """The lens terms for the kind of ``d``: Brown's five coefficients (k1, k2, p1, p2,
    k3, what most cameras and RealSense report) without the rational model's division
    and the thin prism's terms, which with those coefficients zero add nothing but
    their cost (the trace of every target pixel 1.37 → 1.13 ms a 1280×720 frame);
    OpenCV's twelve otherwise. Chosen when compiling, by the tuple's length
    (:func:`lens_model` gives five where the others are all zero)."""
    if len(d) == 5:

        def brown(d, x, y, xx, yy, xy, r2, rr):
            k1, k2, p1, p2, k3 = d
            radial = np.float32(1.0) + rr * (k1 + rr * (k2 + rr * k3))
            two = np.float32(2.0)
            xd = x * radial + two * p1 * xy + p2 * (r2 + two * xx)
            yd = y * radial + p1 * (r2 + two * yy) + two * p2 * xy
            return xd, yd

        return brown

    def opencv(d, x, y, xx, yy, xy, r2, rr):
        k1, k2, p1, p2, k3, k4, k5, k6, s1, s2, s3, s4 = d
        r4 = r2 * r2
        num = np.float32(1.0) + rr * (k1 + rr * (k2 + rr * k3))
        den = np.float32(1.0) + rr * (k4 + rr * (k5 + rr * k6))
        radial = num / den
        two = np.float32(2.0)
        xd = x * radial + two * p1 * xy + p2 * (r2 + two * xx) + s1 * r2 + s2 * r4
        yd = y * radial + p1 * (r2 + two * yy) + two * p2 * xy + s3 * r2 + s4 * r4
        return xd, yd

    return opencv


@numba.njit(inline="always")
def distorted(model, gx, gy):
    """Pixel (u, v) of the point at lens-table column ``gx`` and row ``gy`` (in the
    table's range): OpenCV's lens model evaluated directly in float32, the radial
    factor held beyond the radius where it stops growing, as
    :func:`calibration.camera_math.distort` does; then shifted by ``shift`` and held
    to ``[lo, hi]`` (see :func:`lens_model`). No table is read: branch-free arithmetic
    LLVM vectorizes fully, where the table's bilinear reads were gathers that took
    most of a pass's time."""
    intrinsics, d, grid, bounds = model
    fx, skew, cx, fy, cy = intrinsics
    x0, y0, step, r2_max = grid
    su, sv, u_lo, u_hi, v_lo, v_hi = bounds
    x = x0 + gx * step
    y = y0 + gy * step
    xx = x * x
    yy = y * y
    xy = x * y
    r2 = xx + yy
    rr = min(r2, r2_max)
    xd, yd = _lens_terms(d, x, y, xx, yy, xy, r2, rr)
    u = fx * xd + skew * yd + cx + su
    v = fy * yd + cy + sv
    # Held NaN-safe, as _clamped: the z-buffer makes indices of them.
    u = u if u > u_lo else u_lo
    v = v if v > v_lo else v_lo
    return (u if u < u_hi else u_hi), (v if v < v_hi else v_hi)


def lens_model(table, shift: float = 0.0, bounds: tuple[float, float, float, float] | None = None):
    """The kernels' form of a :class:`~calibration.camera_math.DistortionTable`'s lens
    (its K, distortion and grid, as float32 tuples; the distortion as five
    coefficients where OpenCV's other seven are zero, see :func:`_lens_terms_for`):
    pixels come out ``shift`` added and held to ``bounds`` = (u_lo, u_hi, v_lo, v_hi)
    (none: unbounded)."""
    from calibration.camera_math import monotonic_r2

    f32 = np.float32
    K, d = table.K, table.dist
    intrinsics = (f32(K[0, 0]), f32(K[0, 1]), f32(K[0, 2]), f32(K[1, 1]), f32(K[1, 2]))
    grid = (f32(table.x0), f32(table.y0), f32(table.step), f32(monotonic_r2(tuple(d))))
    lo_hi = (-np.inf, np.inf, -np.inf, np.inf) if bounds is None else bounds
    coefficients = tuple(f32(c) for c in d)
    if not any(coefficients[5:]):
        coefficients = coefficients[:5]
    return (
        intrinsics,
        coefficients,
        grid,
        (f32(shift), f32(shift)) + tuple(f32(b) for b in lo_hi),
    )


@numba.njit(inline="always")
def table_coords(d, az, tz, gx_c, gx_inf, gy_c, gy_inf, gx_max, gy_max, min_z):
    """A point at scaled depth ``d`` on one ray → its depth in X and its lens-table
    column and row, clamped to the table (``RayProjection.raw_coords`` for one point)."""
    zx = np.float32(az * d)
    zx = np.float32(zx + tz)
    w = np.float32(1.0) / max(zx, min_z)
    gx = np.float32(np.float32(gx_c * w) + gx_inf)
    gy = np.float32(np.float32(gy_c * w) + gy_inf)
    return zx, _clamped(gx, gx_max), _clamped(gy, gy_max)


@numba.njit(inline="always")
def _clamped(v, hi):
    """``v`` held to [0, hi], NaN to 0 (``min``/``max`` pass NaN through, and a NaN
    coordinate would become a wild index in these unchecked reads and writes)."""
    v = v if v > np.float32(0.0) else np.float32(0.0)
    return v if v < hi else hi


@numba.njit(inline="always")
def through_lens(ray, d, lens):
    """A point on one ray at depth ``d`` (raw units × the rays' scale) → its depth in
    camera X, whether it is valid there (measured, ahead of X, beyond ``min_z``) and its
    (u, v) through X's lens. ``ray`` = that ray's constants (az, gx_c, gx_inf, gy_c,
    gy_inf, forward: ``RayProjection``'s, read by the caller); ``lens`` = (tz,
    zero_is_near, g_max, min_z, X's lens as :func:`lens_model` gives it).

    Scalars only: an array handed to an inlined function inside a loop costs a
    reference count taken and dropped on every pass, calls that keep LLVM from
    vectorizing the loop (which the rows' loops then lost, 2-3x slower). Its callers
    compile with numpy's error model: a division by zero gives inf, as in numpy, where
    Python's would add an exception exit to the loop."""
    az, gx_c, gx_inf, gy_c, gy_inf, forward = ray
    tz, zero_is_near, g_max, min_z, table = lens
    zx, gx, gy = table_coords(d, az, tz, gx_c, gx_inf, gy_c, gy_inf, g_max[0], g_max[1], min_z)
    valid = (zx > min_z) & ((d > 0) | zero_is_near) & forward
    u, v = distorted(table, gx, gy)
    return zx, valid, u, v


@numba.njit(inline="always")
def row_rays(rays, start, stop):
    """The ray constants of points ``start:stop`` (contiguous slices: plain vector
    loads in the loop over them, where ``array[y * w + x]`` became gathers)."""
    az, gx_c, gx_inf, gy_c, gy_inf, forward = rays
    return (
        az[start:stop],
        gx_c[start:stop],
        gx_inf[start:stop],
        gy_c[start:stop],
        gy_inf[start:stop],
        forward[start:stop],
    )


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _project_row(y, depth, lens, padded_width, at, at_z):
    """Row ``y`` of :func:`project_points`; a loop of its own function, so that LLVM
    vectorizes it (see :func:`_trace_row`)."""
    w = depth.shape[1]
    rays, tz, zero_is_near, g_max, min_z, table = lens
    az, gx_c, gx_inf, gy_c, gy_inf, forward = row_rays(rays, y * w, y * w + w)
    point_lens = (tz, zero_is_near, g_max, min_z, table)
    row_at, row_z, row_depth = at[y * w : y * w + w], at_z[y * w : y * w + w], depth[y]
    for x in range(w):
        ray = (az[x], gx_c[x], gx_inf[x], gy_c[x], gy_inf[x], forward[x])
        zx, valid, u, v = through_lens(ray, np.float32(row_depth[x]), point_lens)
        row_at[x] = np.int32(v) * padded_width + np.int32(u) if valid else np.int32(-1)
        row_z[x] = zx


@numba.njit(nogil=True, parallel=True, cache=True)
def _project_points(depth, lens, padded_width, at, at_z):
    """Each depth pixel → the buffer pixel at the top-left of its footprint in X
    (``at``, -1 when invalid) and its depth there (``at_z``), like
    ``RayProjection.raw_coords`` and the lens lookup of ``DepthRenderer.render_inf``;
    in raster order, rows in parallel.

    ``depth`` (H, W) uint16 raw units; ``lens`` as :func:`through_lens` takes it, with
    forward False where no point can reach X and X's lens shifted to the splat's
    top-left corner and held in the padded buffer; ``padded_width`` an int32.
    """
    # The parallel loop's body takes no tuple holding tuples: unpacked here, packed
    # again in the body.
    rays, tz, zero_is_near, g_max, min_z, (intrinsics, d, grid, bounds) = lens
    for y in numba.prange(depth.shape[0]):
        row_lens = (rays, tz, zero_is_near, g_max, min_z, (intrinsics, d, grid, bounds))
        _project_row(y, depth, row_lens, padded_width, at, at_z)


@numba.njit(nogil=True, cache=True)
def _splat_own(start, stop, lo, hi, points, ranks, buf, deferred):
    """Band ``lo:hi`` of the z-buffer reset, then points ``start:stop`` written
    into it; points landing outside the band are listed in ``deferred[start:]`` for
    the band's owner; returns how many."""
    at, at_z, rank = points
    buf[lo:hi] = _INF
    ranks[lo:hi] = 0
    span = np.uint32(hi - lo)
    n = 0
    for i in range(start, stop):
        a = at[i]
        if a < 0:
            continue
        if np.uint32(a - lo) < span:  # unsigned: one test for lo <= a < hi
            if rank[i] > ranks[a]:
                ranks[a] = rank[i]
                buf[a] = at_z[i]
        else:
            deferred[start + n] = i
            n += 1
    return n


@numba.njit(nogil=True, cache=True)
def _splat_deferred(k, bands, points, ranks, buf, deferred, counts):
    """The points other chunks deferred that land in band ``k``, written into it."""
    starts, bounds = bands
    at, at_z, rank = points
    lo, hi = bounds[k], bounds[k + 1]
    span = np.uint32(hi - lo)
    for j in range(starts.shape[0] - 1):
        if j == k:
            continue
        for m in range(starts[j], starts[j] + counts[j]):
            i = deferred[m]
            a = at[i]
            if (np.uint32(a - lo) < span) and rank[i] > ranks[a]:
                ranks[a] = rank[i]
                buf[a] = at_z[i]


@numba.njit(nogil=True, parallel=True, cache=True)
def _splat_in_order(points, ranks, buf, bands, deferred, counts):
    starts, bounds = bands
    for k in numba.prange(starts.shape[0] - 1):
        counts[k] = _splat_own(
            starts[k], starts[k + 1], bounds[k], bounds[k + 1], points, ranks, buf, deferred
        )
    for k in numba.prange(starts.shape[0] - 1):
        _splat_deferred(k, (starts, bounds), points, ranks, buf, deferred, counts)


def splat_in_order(points, ranks, buf, bands, deferred) -> None:
    """Write the projected points' depths into the z-buffer ``buf`` as if in render
    order, the last write to a pixel winning (the order makes it the nearest point):
    each pixel keeps the point of the highest rank (its place in the render order,
    from 1; ``ranks`` holds the winner's so far). ``points`` = (buffer pixel, -1 for
    none; depth; rank) per point, in raster order, where neighbours land on
    neighbouring pixels: the render order went down the image's columns, a cache miss
    a point (1.19 → 0.76 ms for 406,000 points, ``thermorig bench --only projection``).

    The same result as writing in order, in parallel: ``bands`` = (``starts``: the
    points cut into one chunk per thread, ``bounds``: the buffer into as many bands,
    both int64 with the ends). Thread ``k`` resets band ``k`` and writes chunk ``k``'s
    points that land in it, listing the others in ``deferred`` (int32, one per point);
    then it writes the listed points of every other chunk that land in its band. No
    pixel is written by two threads, and the highest rank wins in any order. Chunks
    and bands cut where the rig maps one onto the other defer few points (none on
    the bench's rigs): 0.78 → 0.49 ms on two cores. One caller at a time
    (``PARALLEL``)."""
    counts = np.zeros(len(bands[0]) - 1, np.int64)
    with PARALLEL:
        _splat_in_order(points, ranks, buf, bands, deferred, counts)


def splat_bands(n_points: int, rows: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`splat_in_order`'s cuts for ``n_points`` points in raster order into a
    buffer of ``rows`` × ``width``: as many chunks and bands as numba has threads,
    equal shares of each, which for cameras side by side, upright, cut the points
    about where they land (each chunk's points mostly in its band)."""
    k = max(1, min(numba.get_num_threads(), rows))
    starts = np.linspace(0, n_points, k + 1).round().astype(np.int64)
    bounds = np.linspace(0, rows, k + 1).round().astype(np.int64) * width
    return starts, bounds


@numba.njit(inline="always")
def nearest_flat(shape, x, y):
    """The flat index of the pixel nearest to (x, y) in an image of ``shape`` (round
    half to even, as ``cv2.remap``'s INTER_NEAREST), clamped into the image, and
    whether it was inside. Unsigned, so the read needs no wrap-around test; formed and
    tested in float32 (the rounded values are whole numbers), exact below
    :data:`FLAT_INDEX_LIMIT` pixels, so that the loop's vector lanes stay 32 bits wide
    (64-bit indices halved them: the label lookup 0.48 against 0.73 ms a 1280×720
    frame)."""
    fx = np.rint(x)
    fy = np.rint(y)
    x_max = np.float32(shape[1] - 1)
    y_max = np.float32(shape[0] - 1)
    inside = (fx >= np.float32(0)) & (fy >= np.float32(0)) & (fx <= x_max) & (fy <= y_max)
    at = _clamped(fy, y_max) * np.float32(shape[1]) + _clamped(fx, x_max)
    return np.uint32(at), inside


def project_points(*args) -> None:
    """:func:`_project_points`, one caller at a time (see ``PARALLEL``)."""
    with PARALLEL:
        _project_points(*args)
