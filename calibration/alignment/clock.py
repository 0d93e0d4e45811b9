"""A stream's clock offset against the depth camera's, from the moving legs.

Both cameras see the same motion; a wrong host timestamp shows as a phase lag between
them. Here the depth frames are rendered into the other camera (coarse grid, z-buffer:
:class:`~calibration.depth_render.DepthRenderer`) and turned into foreground masks;
the other camera gives its own masks (the thermal silhouette). For a trial offset
``tau`` every frame of the stream, stamped ``t``, is compared with the depth mask of
instant ``t - tau``, blended linearly from the two depth frames that bracket it (a
soft mask, so the cost varies smoothly below a frame period). The cost is the mean
absolute mask difference over the pixels that move in either stream; what does not
move (the bike, which depth sees and thermal does not) adds the same amount to every
trial and cannot pull the estimate. A coarse scan (every 4 ms over ±150 ms: under a
fifth of a pedal revolution, so the left and right legs are never confused) is
refined on a 0.5 ms grid and by a parabola through the three best points.

The sign: a positive offset means the stream's timestamps are *late*: its frames were
exposed ``tau`` before the time they carry (relative to the depth frames' stamps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Search range and grids (seconds).
SEARCH_S = 0.150
COARSE_STEP_S = 0.004
FINE_STEP_S = 0.0005
#: A pixel counts as moving when its mask changes by this much over the session.
_MOVING = 0.2


@dataclass
class ClockFit:
    offset_s: float
    cost: float  # mean absolute mask difference at the offset (0 = identical)
    contrast: float  # how much worse the worst trial offset is: 0 means no signal
    frames: int


def _depth_at(
    td: np.ndarray, masks: np.ndarray, t: np.ndarray, max_span: float
) -> tuple[np.ndarray, np.ndarray]:
    """Depth masks blended at instants ``t`` (rows), and which instants had a bracket."""
    j = np.searchsorted(td, t) - 1
    ok = (j >= 0) & (j + 1 < len(td))
    j = np.clip(j, 0, len(td) - 2)
    span = td[j + 1] - td[j]
    ok &= span <= max_span
    a = np.clip((t - td[j]) / np.where(span > 0, span, 1.0), 0.0, 1.0).astype(np.float32)
    blend = masks[j] * (1 - a)[:, None] + masks[j + 1] * a[:, None]
    return blend, ok


def fit_clock(
    t_stream: np.ndarray,
    stream_masks: np.ndarray,
    t_depth: np.ndarray,
    depth_masks: np.ndarray,
    ignore: np.ndarray | None = None,
) -> ClockFit:
    """The offset of the stream's clock (see module docstring). Masks are (N, H, W)
    floats in [0, 1] on one pixel grid; times in seconds, ascending. ``ignore`` (H, W)
    bool: pixels left out (a fixed heat source, warm whatever the legs do)."""
    n, h, w = stream_masks.shape
    s = stream_masks.reshape(n, -1).astype(np.float32)
    d = depth_masks.reshape(len(depth_masks), -1).astype(np.float32)
    moving = (np.ptp(s, axis=0) > _MOVING) | (np.ptp(d, axis=0) > _MOVING)
    if ignore is not None:
        moving &= ~ignore.reshape(-1)
    s, d = s[:, moving], d[:, moving]
    period = float(np.median(np.diff(t_depth))) if len(t_depth) > 1 else 1.0
    max_span = 1.5 * period
    if s.shape[1] == 0 or n < 3:
        return ClockFit(0.0, float("nan"), 0.0, 0)

    def cost(tau: float) -> float:
        blend, ok = _depth_at(t_depth, d, t_stream - tau, max_span)
        if not ok.any():
            return float("inf")
        return float(np.abs(blend[ok] - s[ok]).mean())

    coarse = np.arange(-SEARCH_S, SEARCH_S + 1e-9, COARSE_STEP_S)
    cc = np.array([cost(t) for t in coarse])
    best = float(coarse[int(np.argmin(cc))])
    fine = best + np.arange(-2 * COARSE_STEP_S, 2 * COARSE_STEP_S + 1e-9, FINE_STEP_S)
    fc = np.array([cost(t) for t in fine])
    k = int(np.argmin(fc))
    offset = float(fine[k])
    if 0 < k < len(fine) - 1:
        y0, y1, y2 = fc[k - 1], fc[k], fc[k + 1]
        den = y0 - 2 * y1 + y2
        if den > 0:
            offset += float(np.clip(0.5 * (y0 - y2) / den, -1, 1)) * FINE_STEP_S
    finite = cc[np.isfinite(cc)]
    contrast = float((finite.max() - fc[k]) / max(finite.max(), 1e-9)) if len(finite) else 0.0
    _, ok = _depth_at(t_depth, d, t_stream - offset, max_span)
    return ClockFit(offset, float(fc[k]), contrast, int(ok.sum()))
