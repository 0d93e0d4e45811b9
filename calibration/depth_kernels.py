"""Compiled neighbourhood kernels on depth images (numba): time-of-flight flying pixels,
a z-buffer's points spread over their footprint (:func:`spread_footprints`), and the
small holes of a z-buffer to fill and their fill (:func:`holes_to_fill`,
:func:`fill_from_neighbours`; the rule is ``Projector``'s, the same pixels and values as
its OpenCV and numpy passes gave).

The flying-pixel rule (:func:`calibration.depth_render.remove_flying_pixels`) was a chain
of eight OpenCV filters and comparisons over the frame; here each pixel reads its 3×3
neighbourhood once. The edge pixel is replicated (clamped indices), as the filters read
it, so the result is the same bit for bit (tests/test_projection_fast.py). Rows run in
parallel; the inner columns in a loop of their own with plain neighbour indices, which
LLVM vectorizes (see :mod:`calibration.lens_kernels`).
"""

from __future__ import annotations

import numba
import numpy as np

from calibration.lens_kernels import PARALLEL

_INF = np.float32(np.inf)


@numba.njit(inline="always")
def _flying_at(above, here, below, x0, x, x1, jump):
    """Depth at column ``x`` of row ``here``, or 0 when it is a mixed pixel; ``above``,
    ``here``, ``below`` are the neighbourhood's three rows and ``x0``, ``x``, ``x1`` its
    columns (clamped at the image's edge), the rows 1-D slices taken once a row: the
    2-D image indexed in here kept LLVM from vectorizing the row's loop (0.31 -> 0.14 ms
    a 640x480 frame)."""
    return _mixed(
        (
            above[x0],
            above[x],
            above[x1],
            here[x0],
            here[x],
            here[x1],
            below[x0],
            below[x],
            below[x1],
        ),
        jump,
    )


@numba.njit(inline="always")
def _mixed(nine, jump):
    """The centre (``nine[4]``) of a 3×3 neighbourhood, or 0 when it is a mixed pixel."""
    # No measurement (0) wraps to 65535 so that it is never a minimum; every other
    # value moves down by one, and so does the maximum (saturating at 0).
    low = np.int32(65535)
    high = np.int32(0)
    for v in nine:
        d = np.int32(v)
        low = min(low, (d - 1) & 0xFFFF)
        high = max(high, d)
    high = max(high - 1, 0)
    d = np.int32(nine[4])
    shifted = (d - 1) & 0xFFFF
    span = max(high - low, 0)
    margin = max(span >> 3, 1)
    flying = (span > jump) & (max(shifted - low, 0) > margin) & (max(high - shifted, 0) > margin)
    return np.uint16(0) if flying else nine[4]


@numba.njit(nogil=True, cache=True)
def _flying_row(y, depth, jump, out):
    """Row ``y``: the inner columns with plain neighbour indices, the two edge columns
    apart."""
    h, w = depth.shape
    y = np.int64(y)  # the parallel loop's index may come unsigned
    above, here, below = depth[max(y - 1, 0)], depth[y], depth[min(y + 1, h - 1)]
    row = out[y]
    for x in range(1, w - 1):
        row[x] = _flying_at(above, here, below, x - 1, x, x + 1, jump)
    for x in (0, w - 1):
        row[x] = _flying_at(above, here, below, max(x - 1, 0), x, min(x + 1, w - 1), jump)


@numba.njit(nogil=True, parallel=True, cache=True)
def _drop_flying_pixels(depth, jump, out):
    for y in numba.prange(depth.shape[0]):
        _flying_row(y, depth, jump, out)


def drop_flying_pixels(depth: np.ndarray, jump: int) -> np.ndarray:
    """A copy of a uint16 depth image with its mixed pixels set to 0."""
    if depth.dtype != np.uint16:
        raise TypeError(f"depth images are uint16 depth units, got {depth.dtype}")
    depth = np.ascontiguousarray(depth)
    out = np.empty(depth.shape, np.uint16)
    if depth.size:
        with PARALLEL:
            _drop_flying_pixels(depth, np.int32(jump), out)
    return out


@numba.njit(nogil=True, cache=True)
def _fill_from_neighbours(z_inf, flat):
    h, w = z_inf.shape
    near = np.empty(flat.shape[0], np.float32)
    for k in range(flat.shape[0]):
        y, x = divmod(flat[k], w)
        best = np.float32(np.inf)
        for yy in range(max(y - 1, 0), min(y + 1, h - 1) + 1):
            for xx in range(max(x - 1, 0), min(x + 1, w - 1) + 1):
                best = min(best, z_inf[yy, xx])
        near[k] = best
    for k in range(flat.shape[0]):
        y, x = divmod(flat[k], w)
        z_inf[y, x] = near[k]


def fill_from_neighbours(z_inf: np.ndarray, flat: np.ndarray) -> None:
    """Set ``z_inf`` (float32, any layout) at the pixels of raster indices ``flat`` to
    the minimum of their 3×3 neighbourhood (the image's edge replicated, which adds
    nothing a minimum lacks), all read before any is written. A scalar loop over the
    few pixels a frame fills (~200): numpy's clipped gathers took 0.3 ms a frame."""
    flat = np.asarray(flat, np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= z_inf.size):
        raise ValueError("pixel indices outside the image")
    _fill_from_neighbours(z_inf, flat)


@numba.njit(nogil=True, cache=True)
def _hole_row(y, grid, pad, min_have, fill, counts):
    """Row ``y`` of :func:`holes_to_fill`: each column's pixels with depth over the row
    and its neighbours (reflected at the image's edge, as OpenCV's box filter reads
    it), then across the row."""
    h, w = fill.shape
    up = y - 1 if y > 0 else min(1, h - 1)
    down = y + 1 if y < h - 1 else max(h - 2, 0)
    rows = (grid[up + pad, pad : pad + w], grid[y + pad, pad : pad + w])
    below = grid[down + pad, pad : pad + w]
    col = np.empty(w, np.int32)
    for x in range(w):
        col[x] = (
            np.int32(rows[0][x] < _INF) + np.int32(rows[1][x] < _INF) + np.int32(below[x] < _INF)
        )
    mid = rows[1]
    out = fill[y]
    n = 0
    # The first and last columns reflect; the others, branch-free, are vector code.
    for x in range(0, w, max(w - 1, 1)):  # 0 and w - 1
        left = col[x - 1] if x > 0 else col[min(1, w - 1)]
        right = col[x + 1] if x < w - 1 else col[max(w - 2, 0)]
        f = (mid[x] == _INF) & (left + col[x] + right >= min_have)
        out[x] = np.uint8(f)
        n += np.int32(f)
    for x in range(1, w - 1):
        f = (mid[x] == _INF) & (col[x - 1] + col[x] + col[x + 1] >= min_have)
        out[x] = np.uint8(f)
        n += np.int32(f)
    counts[y] = n


@numba.njit(nogil=True, parallel=True, cache=True)
def _holes_to_fill(grid, pad, min_have, fill, counts):
    for y in numba.prange(fill.shape[0]):
        _hole_row(y, grid, pad, min_have, fill, counts)


def holes_to_fill(
    z_inf: tuple[np.ndarray, int], min_neighbours: int, fill: np.ndarray
) -> np.ndarray:
    """The holes (+inf) of a z-buffer that have at least ``min_neighbours`` of their 8
    neighbours with depth: 1 in ``fill`` (uint8, the image's size); how many in each
    row (int32, for :func:`flat_holes`). ``z_inf`` = (padded buffer, padding), read in
    place. One pass for what were eight numpy and OpenCV passes (``isinf``, ``any``, a
    negation, a box filter, a compare, an ``and``, ``any``), the same pixels. One
    caller at a time (``PARALLEL``)."""
    grid, pad = z_inf
    h, w = fill.shape
    if grid.shape[0] < h + 2 * pad or grid.shape[1] < w + 2 * pad:
        raise ValueError(f"a {w}x{h} hole mask needs a buffer that size and its padding")
    counts = np.empty(h, np.int32)
    with PARALLEL:
        _holes_to_fill(grid, np.int64(pad), np.int32(min_neighbours), fill, counts)
    return counts


@numba.njit(nogil=True, cache=True)
def _flat_holes(fill, counts):
    w = fill.shape[1]
    flat = np.empty(counts.sum(), np.int64)
    k = 0
    for y in range(fill.shape[0]):
        if counts[y] == 0:
            continue
        row = fill[y]
        for x in range(w):
            if row[x]:
                flat[k] = y * w + x
                k += 1
    return flat[:k]


def flat_holes(fill: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Raster indices of the pixels set in ``fill`` (uint8), reading only the rows
    ``counts`` (:func:`holes_to_fill`'s) says have any: a frame fills a few hundred
    pixels, where ``np.flatnonzero`` read the whole mask (0.10 ms at 1280×720)."""
    if counts.shape != fill.shape[:1]:
        raise ValueError(f"{len(counts)} row counts for a mask of {fill.shape[0]} rows")
    return _flat_holes(fill, counts.astype(np.int64))


@numba.njit(nogil=True, cache=True)
def _footprint_row(y, raw, n, pad, grid):
    """Row ``y`` of :func:`spread_footprints`: the minimum over the ``n`` rows above
    first (into a row of its own), then over the ``n`` columns to the left; out of
    place, each loop vector code."""
    w = grid.shape[1] - 2 * pad
    r = y + pad
    c0 = pad - n + 1
    span = w + n - 1
    column_min = raw[r - n + 1, c0 : c0 + span].copy()
    for k in range(1, n):
        row = raw[r - n + 1 + k, c0 : c0 + span]
        for i in range(span):
            column_min[i] = min(column_min[i], row[i])
    out = grid[r, pad : pad + w]
    out[:] = column_min[:w]
    for j in range(1, n):
        for x in range(w):
            out[x] = min(out[x], column_min[x + j])


@numba.njit(nogil=True, parallel=True, cache=True)
def _spread_footprints(raw, n, pad, h, grid):
    for y in numba.prange(h):
        _footprint_row(y, raw, n, pad, grid)


def spread_footprints(raw: np.ndarray, n: int, pad: int, shape: tuple[int, int], grid) -> None:
    """The z-buffer image of ``shape`` = (h, w) inside the padded buffers: each pixel of
    ``grid`` the minimum of ``raw`` over the ``n`` × ``n`` pixels at and above-left of
    it (``cv2.erode`` with the anchor at the kernel's bottom-right), which spreads
    each point written at its footprint's top-left over the footprint. ``grid``'s
    padding is not written. The same values as the erode, where the erode, which also
    filled the padding and a new image each frame, took 0.45 against 0.18 ms a
    1280×720 frame. One caller at a time (``PARALLEL``)."""
    h, w = shape
    if (
        not (1 <= n <= pad + 1)
        or raw.shape != grid.shape
        or raw.shape != (h + 2 * pad, w + 2 * pad)
    ):
        raise ValueError(f"a {n}x{n} footprint of {w}x{h} pixels needs buffers padded by {n - 1}+")
    with PARALLEL:
        _spread_footprints(raw, np.int64(n), np.int64(pad), np.int64(h), grid)
