"""Compiled per-pixel kernels of the label transfer (numba), where numpy took many passes.

The transfer's per-frame work is two loops: over the depth pixels (project each into a
camera through its lens and find its z-buffer pixel: :func:`project_points`, then
keep the nearest of them per pixel: :func:`splat_in_order`) and over the target's pixels
(the edge test on their depths: :func:`depth_codes`; project each into the source camera
through its lens, test occlusion, name the reason: :func:`trace_targets`; look up
each one's label and settle labels and reasons: :func:`look_up_labels`). In numpy each
step was a pass over every point with a full-frame temporary, and the lens was four ``cv2.remap`` table lookups; here each
pixel is read once and its arithmetic stays in registers.

The kernels do the numpy path's float32 arithmetic operation for operation (products and
sums rounded to float32 one at a time, no fast-math; nearest pixels rounded half to even
as ``cv2.remap`` rounds them, :func:`_nearest`) but for the lens: they evaluate its model
(:func:`_distorted`, within 1e-3 px of the exact float64 model) where the numpy path
bilinearly read a table of it (within ~0.02 px). So a point right on a pixel's edge
may fall on the other side: tests/test_projection_fast.py holds the transfer to the
first implementation's within a tolerance (depth on ≤ 0.2 % of pixels, labels and
reasons on ≤ 0.05 %, confidences within 1e-3; observed 0.02 %, 0.003 %, 1.2e-4).

Speed comes from LLVM turning the row loops into vector code, which it does only for
branch-free loop bodies in a function of their own (see :func:`_trace_row`); the lens
table's bilinear reads were gathers that took half of the trace's time (3.9 → 2.0 ms
a 1280×720 frame, ``thermorig bench --only projection``).
Compiled once per machine (``cache=True``: seconds the first time, then loaded from
numba's cache).
"""

from __future__ import annotations

import threading

import numba
import numpy as np

from drivers.truth import UNKNOWN_LABEL

#: The reason codes of :mod:`calibration.projection` (named and explained there). The
#: kernels take them as compile-time constants: read from an array, a code could be
#: changed by any store into a uint8 output as far as the compiler can tell, which
#: keeps it from vectorizing the loop.
VALID, EDGE, FILLED, NO_DEPTH, OCCLUDED, OUTSIDE, UNLABELED = range(7)
_VALID, _EDGE, _FILLED, _NO_DEPTH, _OCCLUDED, _OUTSIDE, _UNLABELED = (np.uint8(c) for c in range(7))
_UNKNOWN = np.uint8(UNKNOWN_LABEL)

_INF = np.float32(np.inf)


@numba.njit(inline="always")
def _distorted(model, gx, gy):
    """Pixel (u, v) of the point at lens-table column ``gx`` and row ``gy`` (in the
    table's range): OpenCV's lens model evaluated directly in float32, the radial
    factor held beyond the radius where it stops growing, as
    :func:`calibration.camera_math.distort` does; then shifted by ``shift`` and held
    to ``[lo, hi]`` (see :func:`lens_model`). No table is read: branch-free arithmetic
    LLVM vectorizes fully, where the table's bilinear reads were gathers that took
    most of a pass's time."""
    intrinsics, d, grid, bounds = model
    fx, skew, cx, fy, cy = intrinsics
    k1, k2, p1, p2, k3, k4, k5, k6, s1, s2, s3, s4 = d
    x0, y0, step, r2_max = grid
    su, sv, u_lo, u_hi, v_lo, v_hi = bounds
    x = x0 + gx * step
    y = y0 + gy * step
    xx = x * x
    yy = y * y
    xy = x * y
    r2 = xx + yy
    r4 = r2 * r2
    rr = min(r2, r2_max)
    num = np.float32(1.0) + rr * (k1 + rr * (k2 + rr * k3))
    den = np.float32(1.0) + rr * (k4 + rr * (k5 + rr * k6))
    radial = num / den
    two = np.float32(2.0)
    xd = x * radial + two * p1 * xy + p2 * (r2 + two * xx) + s1 * r2 + s2 * r4
    yd = y * radial + p1 * (r2 + two * yy) + two * p2 * xy + s3 * r2 + s4 * r4
    u = fx * xd + skew * yd + cx + su
    v = fy * yd + cy + sv
    # Held NaN-safe, as _clamped: the z-buffer makes indices of them.
    u = u if u > u_lo else u_lo
    v = v if v > v_lo else v_lo
    return (u if u < u_hi else u_hi), (v if v < v_hi else v_hi)


def lens_model(table, shift: float = 0.0, bounds: tuple[float, float, float, float] | None = None):
    """The kernels' form of a :class:`~calibration.camera_math.DistortionTable`'s lens
    (its K, distortion and grid, as float32 tuples): pixels come out ``shift`` added
    and held to ``bounds`` = (u_lo, u_hi, v_lo, v_hi) (none: unbounded)."""
    from calibration.camera_math import monotonic_r2

    f32 = np.float32
    K, d = table.K, table.dist
    intrinsics = (f32(K[0, 0]), f32(K[0, 1]), f32(K[0, 2]), f32(K[1, 1]), f32(K[1, 2]))
    grid = (f32(table.x0), f32(table.y0), f32(table.step), f32(monotonic_r2(tuple(d))))
    lo_hi = (-np.inf, np.inf, -np.inf, np.inf) if bounds is None else bounds
    return (
        intrinsics,
        tuple(f32(c) for c in d),
        grid,
        (f32(shift), f32(shift)) + tuple(f32(b) for b in lo_hi),
    )


@numba.njit(inline="always")
def _table_coords(d, az, tz, gx_c, gx_inf, gy_c, gy_inf, gx_max, gy_max, min_z):
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
def _through_lens(lens, i, d):
    """Point ``i`` of a grid of rays at depth ``d`` (raw units × the rays' scale) → its
    depth in camera X, whether it is valid there (measured, ahead of X, beyond
    ``min_z``) and its (u, v) through X's lens. ``lens`` = (ray constants of
    ``RayProjection``: az, gx_c, gx_inf, gy_c, gy_inf, forward; tz; zero_is_near;
    g_max; min_z; X's lens as :func:`lens_model` gives it)."""
    rays, tz, zero_is_near, g_max, min_z, table = lens
    az, gx_c, gx_inf, gy_c, gy_inf, forward = rays
    zx, gx, gy = _table_coords(
        d, az[i], tz, gx_c[i], gx_inf[i], gy_c[i], gy_inf[i], g_max[0], g_max[1], min_z
    )
    valid = (zx > min_z) & ((d > 0) | zero_is_near) & forward[i]
    u, v = _distorted(table, gx, gy)
    return zx, valid, u, v


@numba.njit(nogil=True, cache=True)
def _project_row(y, depth, lens, padded_width, at, at_z):
    """Row ``y`` of :func:`project_points`; a loop of its own function, so that LLVM
    vectorizes it (see :func:`_trace_row`)."""
    w = depth.shape[1]
    for x in range(w):
        i = y * w + x
        zx, valid, u, v = _through_lens(lens, i, np.float32(depth[y, x]))
        at[i] = np.int32(v) * padded_width + np.int32(u) if valid else np.int32(-1)
        at_z[i] = zx


@numba.njit(nogil=True, parallel=True, cache=True)
def _project_points(depth, lens, padded_width, at, at_z):
    """Each depth pixel → the buffer pixel at the top-left of its footprint in X
    (``at``, -1 when invalid) and its depth there (``at_z``), like
    ``RayProjection.raw_coords`` and the lens lookup of ``DepthRenderer.render_inf``;
    in raster order, rows in parallel.

    ``depth`` (H, W) uint16 raw units; ``lens`` as :func:`_through_lens` takes it, with
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
def splat_in_order(at, at_z, rank, ranks, buf):
    """Write the projected points' depths into the z-buffer ``buf`` as if in render
    order, the last write to a pixel winning (the order makes it the nearest point):
    each pixel keeps the point of the highest ``rank`` (its place in the render order,
    from 1; ``ranks`` holds the winner's so far). Same result as writing in that order,
    but the points are read in raster order, where neighbours land on neighbouring
    pixels: the render order went down the image's columns, a cache miss a point
    (1.19 → 0.76 ms for 406,000 points, ``thermorig bench --only projection``)."""
    buf[:] = _INF
    ranks[:] = 0
    for i in range(at.shape[0]):
        a = at[i]
        if a >= 0 and rank[i] > ranks[a]:
            ranks[a] = rank[i]
            buf[a] = at_z[i]


@numba.njit(inline="always")
def _nearest(shape, x, y):
    """Row and column of the pixel nearest to (x, y) (round half to even, as
    ``cv2.remap``'s INTER_NEAREST), clamped into the image, and whether it was inside.
    Tested in float32 (the rounded values are whole numbers), which keeps the loop's
    vector lanes 32 bits wide."""
    fx = np.rint(x)
    fy = np.rint(y)
    x_max = np.float32(shape[1] - 1)
    y_max = np.float32(shape[0] - 1)
    inside = (fx >= np.float32(0)) & (fy >= np.float32(0)) & (fx <= x_max) & (fy <= y_max)
    return np.int32(_clamped(fy, y_max)), np.int32(_clamped(fx, x_max)), inside


@numba.njit(inline="always")
def _spread_3(lo, hi, w):
    """``lo`` and ``hi`` (one row) to their minimum and maximum over each pixel and
    its left and right neighbours (the image's edge ignored), in place."""
    if w < 2:
        return
    prev_lo, prev_hi = lo[0], hi[0]
    lo[0], hi[0] = min(lo[0], lo[1]), max(hi[0], hi[1])
    for x in range(1, w - 1):
        a_lo, a_hi = lo[x], hi[x]
        lo[x] = min(min(prev_lo, a_lo), lo[x + 1])
        hi[x] = max(max(prev_hi, a_hi), hi[x + 1])
        prev_lo, prev_hi = a_lo, a_hi
    lo[w - 1], hi[w - 1] = min(prev_lo, lo[w - 1]), max(prev_hi, hi[w - 1])


@numba.njit(nogil=True, cache=True)
def _depth_code_row(y, grid, pad, radius, jump, filled, out):
    """Row ``y`` of :func:`depth_codes`: the column minimum and maximum over the rows
    within ``radius`` first (vector code over the row), then across the row."""
    codes, z = out
    h, w = codes.shape
    lo = np.full(w, _INF, np.float32)
    hi = np.zeros(w, np.float32)
    for yy in range(max(y - radius, 0), min(y + radius, h - 1) + 1):
        row = grid[yy + pad, pad : pad + w]
        for x in range(w):
            v = row[x]
            lo[x] = min(lo[x], v)
            hi[x] = max(hi[x], v if v < _INF else np.float32(0.0))
    for _ in range(radius):
        _spread_3(lo, hi, w)
    row = grid[y + pad, pad : pad + w]
    for x in range(w):
        code = _EDGE if np.float32(hi[x] - lo[x]) > jump else _VALID
        codes[y, x] = max(code, filled[y, x] * _FILLED)
        v = row[x]
        z[y, x] = v if v < _INF else np.float32(0.0)


@numba.njit(nogil=True, parallel=True, cache=True)
def _depth_codes(grid, pad, radius, jump, filled, out):
    codes, z = out  # see _project_points
    for y in numba.prange(codes.shape[0]):
        _depth_code_row(y, grid, pad, radius, jump, filled, (codes, z))


def depth_codes(z_inf: tuple[np.ndarray, int], radius: int, jump, filled, out) -> None:
    """Each target pixel's code from its depth alone, and its depth with 0 for none:
    ``out`` = (codes uint8, depth float32). The code is ``edge`` where the depths
    within ``radius`` px (a square; holes, ``z_inf`` = +inf, left out) span more than
    ``jump`` metres, ``filled`` where ``filled`` (uint8) is 1 (the larger code), else
    ``valid``. One pass over the depth for what were a ``cv2.dilate``, a ``cv2.erode``,
    a threshold and two full-frame float images the trace read; the same float32
    comparison, so the same codes. One caller at a time (``PARALLEL``).

    ``z_inf`` = (padded image, padding each side), the image being the crop of it (a
    renderer's buffer, read in place: on the cropped view, of no fixed layout to the
    compiler, the kernel was three times slower); (image, 0) for a plain one."""
    grid, pad = z_inf
    h, w = out[0].shape
    # The kernel reads unchecked: sizes that do not fit are refused here.
    if grid.shape[0] < h + 2 * pad or grid.shape[1] < w + 2 * pad or filled.shape != (h, w):
        raise ValueError(f"depth codes of {w}x{h} pixels need a depth and a mask that size")
    if out[1].shape != (h, w):
        raise ValueError(f"depth codes of {w}x{h} pixels come with a depth image that size")
    with PARALLEL:
        _depth_codes(grid, np.int64(pad), np.int64(radius), np.float32(jump), filled, out)


@numba.njit(nogil=True, cache=True)
def _trace_row(y, z, lens, occlusion, codes, out):
    """One row of :func:`trace_targets`. A loop of its own function: inside the parallel
    loop's body, numba keeps the row loop's last values alive after it, which keeps
    LLVM from vectorizing it."""
    limit, occ_scale, occ_shift, keep_share = occlusion
    reason, out_u, out_v = out
    w = z.shape[1]
    for x in range(w):
        zx, ok, u, v = _through_lens(lens, y * w + x, z[y, x])
        out_u[y, x] = u
        out_v[y, x] = v
        # Codes that override others are larger (edge < filled < occluded < outside),
        # so a running maximum applies them in order; without branches, and with every
        # read unconditional (indices clamped), so that LLVM vectorizes the loop. An
        # outside point's occlusion test reads a border pixel; the larger code wins.
        code = codes[y, x]
        uo = np.float32(np.float32(u * occ_scale) + occ_shift)
        vo = np.float32(np.float32(v * occ_scale) + occ_shift)
        oy, ox, seen = _nearest(limit.shape, uo, vo)
        hidden = np.float32(zx * keep_share) > limit[oy, ox]
        code = np.maximum(code, np.uint8(hidden) * _OCCLUDED)
        code = code if seen else np.maximum(code, _OUTSIDE)
        reason[y, x] = code if ok else _NO_DEPTH


@numba.njit(nogil=True, parallel=True, cache=True)
def _trace_targets(z, lens, occlusion, codes, out):
    """Per target pixel: its source pixel, whether the source sees it and its reason
    code (``Projector.geometry`` in one pass; rows in parallel).

    ``z`` (H, W) float32 target depth in metres (0 = none); ``lens`` the target rays into
    the source (:func:`_through_lens`); ``occlusion`` = the occlusion limit on the
    source's coarse grid, that grid's scale and shift, and the kept share of depth;
    ``codes`` (H, W) uint8 each pixel's code from its depth alone (:func:`depth_codes`);
    ``out`` = the reason codes (uint8) and source columns and rows (float32) to write.
    """
    rays, tz, zero_is_near, g_max, min_z, (intrinsics, d, grid, bounds) = lens  # as above
    for y in numba.prange(z.shape[0]):
        row_lens = (rays, tz, zero_is_near, g_max, min_z, (intrinsics, d, grid, bounds))
        _trace_row(y, z, row_lens, occlusion, codes, out)


@numba.njit(nogil=True, cache=True)
def _lookup_row(y, labels, u, v, reason, out):
    """Row ``y`` of :func:`look_up_labels`."""
    flat = labels.reshape(-1)
    width = np.uint64(labels.shape[1])
    for x in range(u.shape[1]):
        oy, ox, inside = _nearest(labels.shape, u[y, x], v[y, x])
        # Unsigned: the compiler then knows the index needs no wrap-around test.
        lab = flat[np.uint64(oy) * width + np.uint64(ox)]
        lab = lab if inside else _UNKNOWN
        r = reason[y, x]
        r = _UNLABELED if (lab == _UNKNOWN) & (r <= _FILLED) else r
        reason[y, x] = r
        out[y, x] = _UNKNOWN if r > _FILLED else lab


@numba.njit(nogil=True, parallel=True, cache=True)
def _look_up_labels(labels, u, v, reason, out):
    for y in numba.prange(u.shape[0]):
        _lookup_row(y, labels, u, v, reason, out)


def look_up_labels(labels, u, v, reason, out) -> None:
    """Each target pixel's label from the source's ``labels`` at its source pixel
    (``u``, ``v``; nearest, 255 outside: ``cv2.remap``'s INTER_NEAREST with a constant
    border), and the pair settled, ``reason`` in place: a labeled reason (valid, edge,
    filled) whose source pixel has no label becomes ``unlabeled``; every pixel whose
    reason is not labeled gets label 255. One pass where the remap (float maps, which
    OpenCV converts to integers block by block) and a settling pass were two. One
    caller at a time (``PARALLEL``)."""
    if not (u.shape == v.shape == reason.shape == out.shape) or labels.ndim != 2:
        # The kernel reads and writes unchecked: other sizes are refused here.
        raise ValueError(f"a label lookup needs one target size, not {u.shape} and others")
    with PARALLEL:
        _look_up_labels(labels, u, v, reason, out)


@numba.njit(inline="always")
def _or_3(row, w):
    """``row`` (uint8 0/1) to its maximum over each pixel and its left and right
    neighbours (the image's edge ignored), in place."""
    if w < 2:
        return
    prev = row[0]
    row[0] = max(row[0], row[1])
    for x in range(1, w - 1):
        here = row[x]
        row[x] = max(max(prev, here), row[x + 1])
        prev = here
    row[w - 1] = max(prev, row[w - 1])


@numba.njit(nogil=True, cache=True)
def _count_row(y, labels, reason, counts):
    """Row ``y`` of :func:`count_sure`."""
    h, w = labels.shape
    n = counts.shape[2]
    near = np.zeros(w, np.uint8)
    for yy in range(max(y - 2, 0), min(y + 2, h - 1) + 1):
        row = labels[yy]
        for x in range(w):
            near[x] = max(near[x], np.uint8(row[x] == _UNKNOWN))
    _or_3(near, w)
    _or_3(near, w)
    lab, why = labels[y], reason[y]
    sure = np.empty(w, np.uint8)
    for x in range(w):
        sure[x] = np.uint8((near[x] == 0) & (why[x] == _VALID))
    for c in range(n):
        total = 0
        good = 0
        for x in range(w):
            hit = np.int32(lab[x] == c)
            total += hit
            good += hit * np.int32(sure[x])
        counts[y, 0, c] = total
        counts[y, 1, c] = good


@numba.njit(nogil=True, parallel=True, cache=True)
def _count_sure(labels, reason, counts):
    for y in numba.prange(labels.shape[0]):
        _count_row(y, labels, reason, counts)


def count_sure(labels, reason, n_classes: int) -> np.ndarray:
    """Per class 0..n-1: its pixels in ``labels`` (uint8) and those of them that are
    sure — their reason ``valid`` and no unknown label (255) within 2 px (a 5×5
    square, the image's edge ignored); (2, n) int64. One pass (per row: the unknown
    pixels near it, then a count per class), where the OpenCV path made a dilated
    image, three masks and two compare-and-count passes per class. One caller at a
    time (``PARALLEL``)."""
    if labels.ndim != 2 or reason.shape != labels.shape:
        # The kernel reads unchecked: a reason image of another size is refused here.
        raise ValueError(f"labels {labels.shape} and reasons {reason.shape} must be one 2-D size")
    counts = np.empty((labels.shape[0], 2, n_classes), np.int32)
    with PARALLEL:
        _count_sure(labels, reason, counts)
    return counts.sum(axis=0, dtype=np.int64)


#: numba runs the parallel kernels on OpenMP where the system has it (libgomp, faster
#: here beside OpenCV's threads) and otherwise on its own pool ("workqueue"), which
#: aborts the process when two threads launch kernels at once (test_transfer_kernels
#: fails without this lock on it). The kernels use every core anyway: they take turns.
#: (GNU OpenMP is not safe in a process forked after it ran: thermorig's worker
#: processes are spawned, never forked.)
PARALLEL = threading.Lock()


def project_points(*args) -> None:
    """:func:`_project_points`, one caller at a time (see ``PARALLEL``)."""
    with PARALLEL:
        _project_points(*args)


def trace_targets(*args) -> None:
    """:func:`_trace_targets`, one caller at a time (see ``PARALLEL``)."""
    with PARALLEL:
        _trace_targets(*args)
