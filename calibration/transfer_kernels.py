"""Compiled per-pixel kernels of the label transfer (numba), where numpy took many passes.

The transfer's per-frame work is two loops: over the depth pixels (project each into a
camera through its lens and find its z-buffer pixel: :func:`project_points`, then
write them in render order: :func:`splat_in_order`) and over the target's pixels
(project each into the source camera through its lens, test occlusion, name the reason:
:func:`trace_targets`). In numpy each step was a pass over every point with a
full-frame temporary, and the lens was four ``cv2.remap`` table lookups; here each
pixel is read once and its arithmetic stays in registers.

The kernels do the numpy path's float32 arithmetic operation for operation, so the
transfer's results are the same bit for bit (tests/test_projection_fast.py): products
and sums are rounded to float32 one at a time (no fast-math), and the lens tables are
read as OpenCV 5.1's ``cv2.remap`` reads them: bilinear as three fused lerps on float32
fractions (:func:`_bilinear_uv`), nearest as round half to even (:func:`_nearest`).

Speed comes from LLVM turning the row loops into vector code (gathers), which it does
only for branch-free loop bodies in a function of their own (see :func:`_trace_row`).
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
def _fma32(a, b, c):
    """``a * b + c`` rounded once to float32, as a fused multiply-add does: the float32
    product is exact in float64, and the float64 sum, rounded to float32, differs from a
    true fused multiply-add only where it falls exactly halfway between two float32s."""
    return np.float32(np.float64(a) * np.float64(b) + np.float64(c))


@numba.njit(inline="always")
def _lerp(table, iy, ix, iy1, ix1, ax, ay, ch):
    """One channel of a bilinear read (see :func:`_bilinear_uv`)."""
    a = table[iy, ix, ch]
    b = table[iy, ix1, ch]
    c = table[iy1, ix, ch]
    d = table[iy1, ix1, ch]
    top = _fma32(ax, np.float32(b - a), a)
    bottom = _fma32(ax, np.float32(d - c), c)
    return _fma32(ay, np.float32(bottom - top), top)


@numba.njit(inline="always")
def _bilinear_uv(table, x, y):
    """``cv2.remap(..., INTER_LINEAR, BORDER_REPLICATE)`` of both channels of a
    (rows, cols, 2) lens table at one in-range point (``0 <= x <= cols - 1``,
    ``0 <= y <= rows - 1``): OpenCV 5 lerps along x in both rows, then along y, each as
    one fused multiply-add on the float32 fractions. Both channels share cache lines."""
    rows, cols = table.shape[0], table.shape[1]
    fx = np.floor(x)
    fy = np.floor(y)
    ix = int(fx)
    iy = int(fy)
    ax = np.float32(x - np.float32(fx))
    ay = np.float32(y - np.float32(fy))
    ix1 = min(ix + 1, cols - 1)
    iy1 = min(iy + 1, rows - 1)
    return (
        _lerp(table, iy, ix, iy1, ix1, ax, ay, 0),
        _lerp(table, iy, ix, iy1, ix1, ax, ay, 1),
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
    ``min_z``) and its (u, v) read from X's lens table. ``lens`` = (ray constants of
    ``RayProjection``: az, gx_c, gx_inf, gy_c, gy_inf, forward; tz; zero_is_near;
    g_max; min_z; the (rows, cols, 2) lens table)."""
    rays, tz, zero_is_near, g_max, min_z, table = lens
    az, gx_c, gx_inf, gy_c, gy_inf, forward = rays
    zx, gx, gy = _table_coords(
        d, az[i], tz, gx_c[i], gx_inf[i], gy_c[i], gy_inf[i], g_max[0], g_max[1], min_z
    )
    valid = (zx > min_z) & ((d > 0) | zero_is_near) & forward[i]
    u, v = _bilinear_uv(table, gx, gy)
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
    in raster order (the lens table is read along its rows), rows in parallel.

    ``depth`` (H, W) uint16 raw units; ``lens`` as :func:`_through_lens` takes it, with
    forward False where no point can reach X and X's lens table shifted to the
    splat's top-left corner; ``padded_width`` an int32.
    """
    # The parallel loop's body takes no tuple holding a tuple of arrays: unpacked here,
    # packed again in the body.
    rays, tz, zero_is_near, g_max, min_z, table = lens
    for y in numba.prange(depth.shape[0]):
        row_lens = (rays, tz, zero_is_near, g_max, min_z, table)
        _project_row(y, depth, row_lens, padded_width, at, at_z)


@numba.njit(nogil=True, cache=True)
def splat_in_order(order, at, at_z, buf):
    """Write the projected points' depths into the z-buffer ``buf`` (filled with +inf
    first) in render order (``order``: positions in ``at``): the last write to a pixel
    wins, which the order makes the nearest point."""
    buf[:] = _INF
    for k in range(order.shape[0]):
        j = order[k]
        if at[j] >= 0:
            buf[at[j]] = at_z[j]


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


@numba.njit(nogil=True, cache=True)
def _trace_row(y, z, lens, occlusion, edge, filled, out):
    """One row of :func:`trace_targets`. A loop of its own function: inside the parallel
    loop's body, numba keeps the row loop's last values alive after it, which keeps
    LLVM from vectorizing it."""
    limit, occ_scale, occ_shift, keep_share = occlusion
    zmax, zmin, edge_jump = edge
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
        code = _EDGE if np.float32(zmax[y, x] - zmin[y, x]) > edge_jump else _VALID
        code = np.maximum(code, filled[y, x] * _FILLED)
        uo = np.float32(np.float32(u * occ_scale) + occ_shift)
        vo = np.float32(np.float32(v * occ_scale) + occ_shift)
        oy, ox, seen = _nearest(limit.shape, uo, vo)
        hidden = np.float32(zx * keep_share) > limit[oy, ox]
        code = np.maximum(code, np.uint8(hidden) * _OCCLUDED)
        code = code if seen else np.maximum(code, _OUTSIDE)
        reason[y, x] = code if ok else _NO_DEPTH


@numba.njit(nogil=True, parallel=True, cache=True)
def _trace_targets(z, lens, occlusion, edge, filled, out):
    """Per target pixel: its source pixel, whether the source sees it and its reason
    code (``Projector.geometry`` in one pass; rows in parallel).

    ``z`` (H, W) float32 target depth in metres (0 = none); ``lens`` the target rays into
    the source (:func:`_through_lens`); ``occlusion`` = the occlusion limit on the
    source's coarse grid, that grid's scale and shift, and the kept share of depth;
    ``edge`` = the neighbourhood maximum of z, its minimum (holes +inf) and the jump
    that makes an edge; ``filled`` (H, W) uint8 1 where depth was filled; ``out`` =
    the reason codes (uint8) and source columns and rows (float32) to write.
    """
    rays, tz, zero_is_near, g_max, min_z, table = lens  # see _project_points
    for y in numba.prange(z.shape[0]):
        row_lens = (rays, tz, zero_is_near, g_max, min_z, table)
        _trace_row(y, z, row_lens, occlusion, edge, filled, out)


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
