"""The per-frame label transfer as it was before the fast path (commit 66a133a), kept
as an oracle: the fast :class:`~calibration.projection.Projector` must give the same
labels, reason codes, depths and confidences on the same frames.

Only the per-frame work is restated here, in its first, plainly written form (raster
order with a gathered render order, masks applied by boolean indexing, NaN-guarded
projection, ``np.bincount``); the rig-only tables (lens tables, reachable depth pixels,
render order, footprint) are taken from the projector, whose construction the fast
path did not change.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from calibration.depth_render import (
    _FAR,
    _ROW,
    MIN_Z_M,
    DepthRenderer,
    RayProjection,
    rays_of,
)
from calibration.projection import (
    EDGE,
    FILLED,
    NO_DEPTH,
    OCCLUDED,
    OUTSIDE,
    UNLABELED,
    VALID,
    Projector,
    Transfer,
    frame_confidence,
    time_gap_factor,
)
from drivers.truth import UNKNOWN_LABEL


def remove_flying_pixels(depth: np.ndarray, jump: int) -> np.ndarray:
    kernel = np.ones((3, 3), np.uint8)
    shifted = depth - np.uint16(1)
    zmin = cv2.erode(shifted, kernel, borderType=cv2.BORDER_REPLICATE)
    zmax = cv2.subtract(cv2.dilate(depth, kernel, borderType=cv2.BORDER_REPLICATE), 1)
    span = cv2.subtract(zmax, zmin)
    margin = np.maximum(span >> 3, 1)
    low = cv2.subtract(shifted, zmin)
    high = cv2.subtract(zmax, shifted)
    flying = (span > jump) & (low > margin) & (high > margin)
    out = depth.copy()
    out[flying] = 0
    return out


def coords(proj, d: np.ndarray, shape: tuple[int, int]):
    """RayProjection.coords as it was: NaN-guarded, masked writes, four clamps."""
    zx = proj.az * d
    zx += proj.tz
    ok = zx > MIN_Z_M
    ok &= d > 0
    if not proj.all_forward:
        ok &= proj.forward
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.reciprocal(zx)
        gx = proj.gx_c * w
        gx += proj.gx_inf
        gy = proj.gy_c * w
        gy += proj.gy_inf
    np.copyto(gx, _FAR, where=~ok)
    np.copyto(gy, np.float32(0.0), where=~ok)
    for g, hi in ((gx, proj.g_max[0]), (gy, proj.g_max[1])):
        np.minimum(g, hi, out=g)
        np.maximum(g, np.float32(0.0), out=g)
    return gx.reshape(shape), gy.reshape(shape), zx, ok


def render(ren: DepthRenderer, depth: np.ndarray) -> np.ndarray:
    """DepthRenderer.render as it was: raster-order points, the order gathered per frame."""
    subset = ren.subset  # raster order
    n_real = len(subset)
    rows = max(1, -(-n_real // _ROW))
    padded = np.zeros(rows * _ROW, np.intp)
    padded[:n_real] = subset
    key = "_reference_raster_projection"
    proj = getattr(ren, key, None)
    if proj is None:
        rays = rays_of(ren.depth_cam)[padded]
        proj = RayProjection(rays, ren.T_cam_depth, ren.table, ren.depth_scale)
        setattr(ren, key, proj)
    d = depth.reshape(-1)[padded]
    d[n_real:] = 0
    gx, gy, zx, _ = coords(proj, d, (rows, _ROW))
    args = (gx, gy, cv2.INTER_LINEAR, None, cv2.BORDER_REPLICATE)
    shift = np.float32(1.0 - ren.n / 2.0 + ren.pad)
    shifted = [
        np.clip(ren.table.u + shift, 0, ren.padded_width - ren.n),
        np.clip(ren.table.v + shift, 0, ren.padded_height - ren.n),
    ]
    u, v = cv2.remap(shifted[0], *args), cv2.remap(shifted[1], *args)
    lin = v.astype(np.int32)
    lin *= np.int32(ren.padded_width)
    lin += u.astype(np.int32)
    buf = np.full(ren.padded_height * ren.padded_width, np.inf, np.float32)
    order = ren.order
    buf[lin.reshape(-1)[order]] = zx[order]
    grid = buf.reshape(ren.padded_height, ren.padded_width)
    if ren.n > 1:
        grid = cv2.erode(
            grid,
            np.ones((ren.n, ren.n), np.uint8),
            anchor=(ren.n - 1, ren.n - 1),
            borderType=cv2.BORDER_CONSTANT,
            borderValue=np.inf,
        )
    p = ren.pad
    out = grid[p : p + ren.cam.height, p : p + ren.cam.width].copy()
    out[np.isinf(out)] = 0.0
    return out


def class_confidence(labels: np.ndarray, reason: np.ndarray, n_classes: int) -> np.ndarray:
    unknown = (labels == UNKNOWN_LABEL).view(np.uint8)
    sure = (reason == VALID) & ~cv2.dilate(unknown, np.ones((5, 5), np.uint8)).view(bool)
    counts = np.bincount(labels.ravel(), minlength=256)[:n_classes]
    good = np.bincount(np.where(sure, labels, np.uint8(UNKNOWN_LABEL)).ravel(), minlength=256)
    good = good[:n_classes]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, good / counts, np.nan).astype(np.float32)


def geometry(pr: Projector, depth: np.ndarray):
    """Projector.geometry as it was: depth (0 = none), source u and v, reason codes."""
    p = pr.params
    k3 = np.ones((3, 3), np.uint8)
    if p.flying_jump_m > 0:
        depth = remove_flying_pixels(depth, int(round(p.flying_jump_m / pr.depth_scale)))
    z = render(pr.dst_render, depth)
    hole = z == 0
    z_inf = np.where(hole, np.float32(np.inf), z)
    filled = np.zeros_like(hole)
    if p.fill_min_neighbours <= 8 and hole.any():
        have = cv2.boxFilter((~hole).view(np.uint8), cv2.CV_16U, (3, 3), normalize=False)
        filled = hole & (have >= p.fill_min_neighbours)
        if filled.any():
            near = cv2.erode(z_inf, k3, borderType=cv2.BORDER_REPLICATE)
            np.copyto(z, near, where=filled)
            np.copyto(z_inf, near, where=filled)
    step = pr._decimate
    occ = render(pr.src_render, depth[::step, ::step])
    occ[occ == 0] = np.inf
    occ_min = cv2.erode(occ, k3)
    np.copyto(occ, occ_min, where=np.isinf(occ))
    limit = np.minimum(occ + np.float32(p.occlusion_tol_m), occ_min + np.float32(p.edge_jump_m))
    h, w = z.shape
    gx, gy, zs, ok = coords(pr._to_src, z.reshape(-1), (h, w))
    args = (gx, gy, cv2.INTER_LINEAR, None, cv2.BORDER_REPLICATE)
    table = pr._src_table
    u, v = cv2.remap(table.u, *args), cv2.remap(table.v, *args)
    zs, ok = zs.reshape(h, w), ok.reshape(h, w)
    s, c = np.float32(pr._occ_scale), np.float32(0.5 * pr._occ_scale - 0.5)
    uo = u * s
    uo += c
    vo = v * s
    vo += c
    seen = cv2.remap(limit, uo, vo, cv2.INTER_NEAREST, None, cv2.BORDER_CONSTANT, np.nan)
    outside = np.isnan(seen)
    zs *= np.float32(1.0 - p.occlusion_tol_rel)
    hidden = zs > seen
    reason = np.full(z.shape, VALID, np.uint8)
    r = 2 * p.edge_radius_px + 1
    kernel = np.ones((r, r), np.uint8)
    zmax = cv2.dilate(z, kernel)
    zmin = cv2.erode(z_inf, kernel)
    reason[(zmax - zmin) > p.edge_jump_m] = EDGE
    reason[filled] = FILLED
    reason[hidden] = OCCLUDED
    reason[outside] = OUTSIDE
    reason[~ok] = NO_DEPTH
    return z, u, v, reason


def transfer_labels(
    pr: Projector, depth: np.ndarray, labels: np.ndarray, n_classes: int, gap: float = math.nan
) -> Transfer:
    z, u, v, reason = geometry(pr, depth)
    out = cv2.remap(
        labels, u, v, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=255
    )
    reason[(out == UNKNOWN_LABEL) & (reason <= FILLED)] = UNLABELED
    out[reason > FILLED] = UNKNOWN_LABEL
    conf = class_confidence(out, reason, n_classes)
    factor = time_gap_factor(gap, pr.params.time_gap_half_s)
    return Transfer(out, reason, z, conf, frame_confidence(conf) * factor, gap)
