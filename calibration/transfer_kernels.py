"""Compiled per-pixel kernels of the label transfer over the target's pixels (numba),
where numpy took many passes.

The transfer's per-frame work is two loops: over the depth pixels, into each z-buffer
(:mod:`calibration.lens_kernels`), and over the target's pixels, here: the edge test on
their depths (:func:`depth_codes`); each one into the source camera through its lens,
its occlusion test and reason (:func:`trace_targets`); its label looked up and labels
and reasons settled (:func:`look_up_labels`); the confidence counts
(:func:`count_sure`). In numpy each step was a pass over every pixel with a full-frame
temporary; here each pixel is read once and its arithmetic stays in registers, in the
same float32 operations (see :mod:`calibration.lens_kernels` for the lens and its
tolerance).

Speed comes from LLVM turning the row loops into vector code, which it does only for
branch-free loop bodies in a function of their own, reading no array through an
inlined helper and nothing at a computed index (see :func:`_trace_row`). Compiled once
per machine (``cache=True``: seconds the first time, then loaded from numba's cache).
"""

from __future__ import annotations

import numba
import numpy as np

from calibration.lens_kernels import (
    FLAT_INDEX_LIMIT,
    PARALLEL,
    nearest_flat,
    row_rays,
    through_lens,
)
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


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _trace_row(y, z, lens, occlusion, codes, out):
    """One row of :func:`trace_targets`, in two loops. The first (lens, codes) is
    vectorized by LLVM; the occlusion test's read, at an index computed per pixel,
    is in a second, scalar loop: in the first it kept the whole loop from vectorizing
    (the compiler cannot bound where such reads fall beside the loop's writes). A
    loop of its own function: inside the parallel loop's body, numba keeps the row
    loop's last values alive after it, which also keeps LLVM from vectorizing it."""
    limit, occ_scale, occ_shift, keep_share = occlusion
    reason, out_u, out_v = out
    w = z.shape[1]
    rays, tz, zero_is_near, g_max, min_z, table = lens
    az, gx_c, gx_inf, gy_c, gy_inf, forward = row_rays(rays, y * w, y * w + w)
    point_lens = (tz, zero_is_near, g_max, min_z, table)
    row_z, row_codes = z[y], codes[y]
    row_reason, row_u, row_v = reason[y], out_u[y], out_v[y]
    at = np.empty(w, np.uint32)  # each pixel's occlusion-buffer pixel
    z_kept = np.empty(w, np.float32)  # its depth times the kept share; -inf: no test
    for x in range(w):
        ray = (az[x], gx_c[x], gx_inf[x], gy_c[x], gy_inf[x], forward[x])
        zx, ok, u, v = through_lens(ray, row_z[x], point_lens)
        row_u[x] = u
        row_v[x] = v
        # Codes that override others are larger (edge < filled < no depth < occluded <
        # outside), so a running maximum applies them in order, without branches; every
        # read unconditional (indices clamped). An outside point's occlusion test reads
        # a border pixel; the larger code wins. A point without depth keeps its code.
        uo = np.float32(np.float32(u * occ_scale) + occ_shift)
        vo = np.float32(np.float32(v * occ_scale) + occ_shift)
        at[x], seen = nearest_flat(limit.shape, uo, vo)
        code = row_codes[x]
        code = code if seen else np.maximum(code, _OUTSIDE)
        row_reason[x] = code if ok else _NO_DEPTH
        z_kept[x] = np.float32(zx * keep_share) if ok else -_INF
    limit_flat = limit.reshape(-1)
    for x in range(w):
        hidden = z_kept[x] > limit_flat[at[x]]
        row_reason[x] = np.maximum(row_reason[x], np.uint8(hidden) * _OCCLUDED)


@numba.njit(nogil=True, parallel=True, cache=True)
def _trace_targets(z, lens, occlusion, codes, out):
    """Per target pixel: its source pixel, whether the source sees it and its reason
    code (``Projector.geometry`` in one pass; rows in parallel).

    ``z`` (H, W) float32 target depth in metres (0 = none); ``lens`` the target rays into
    the source (:func:`through_lens`); ``occlusion`` = the occlusion limit on the
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
    for x in range(u.shape[1]):
        at, inside = nearest_flat(labels.shape, u[y, x], v[y, x])
        lab = flat[at]
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
    if labels.size >= FLAT_INDEX_LIMIT:
        raise ValueError(f"label images of {FLAT_INDEX_LIMIT} pixels or more are looked up by cv2")
    with PARALLEL:
        _look_up_labels(labels, u, v, reason, out)


@numba.njit(inline="always")
def _or_3(row, w, out):
    """``row`` (uint8 0/1) to its maximum over each pixel and its left and right
    neighbours (the image's edge ignored), into ``out`` (out of place, as
    :func:`_spread_3`)."""
    if w < 2:
        out[:w] = row[:w]
        return
    out[0] = max(row[0], row[1])
    for x in range(1, w - 1):
        out[x] = max(max(row[x - 1], row[x]), row[x + 1])
    out[w - 1] = max(row[w - 2], row[w - 1])


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
    wider = np.empty(w, np.uint8)
    _or_3(near, w, wider)
    _or_3(wider, w, near)
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


def trace_targets(*args) -> None:
    """:func:`_trace_targets`, one caller at a time (see ``PARALLEL``)."""
    with PARALLEL:
        _trace_targets(*args)
