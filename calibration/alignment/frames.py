"""The session's frames as the alignment check needs them, read once.

Every frame of the target stream (thermal) and of depth is read once, for the clock
estimate, and kept only as coarse masks (a quarter of the target's size per side:
what the phase of the legs needs). The full-resolution signed-distance images and
contour points of the rotation fit come from a few frames, read again when needed.
What is warm but not near the depth foreground (a radiator, a passer-by) is kept out
of both (:mod:`calibration.alignment.heat`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import cv2
import numpy as np

from calibration.alignment.heat import (
    FIXED_SHARE,
    explain_radius_px,
    near_region,
    person_threshold,
    unexplained,
)
from calibration.alignment.signals import (
    WARM_SHARE,
    ContourPoints,
    foreground_threshold,
    signed_distance,
    warm_mask,
    warm_threshold,
)
from calibration.depth_render import DepthRenderer, decimated_camera, scaled_camera
from calibration.rig import Rig
from drivers.types import StreamSpec


class FrameStore(Protocol):
    """What the check reads frames from: a session file (``drivers.session.SessionReader``)
    or frames kept in memory (the window's live check, ``app.live.rig_watch.KeptFrames``)."""

    path: Any  # named in messages
    streams: dict[str, StreamSpec]

    def count(self, stream: str) -> int: ...

    def timestamps(self, stream: str) -> np.ndarray: ...

    def frame(self, stream: str, i: int) -> Any: ...  # has ``.array``

    def require_timestamps(self, streams: Iterable[str], purpose: str) -> None: ...


#: Coarse mask grid for the clock (share of the target's size per side), and the grid
#: depth is rendered on before it is averaged down to it (soft edges).
MASK_SCALE = 0.25
RENDER_SCALE = 0.5
#: Frames read to set the thresholds.
_SAMPLE = 12


class SessionFrames:
    """Masks of every target and depth frame, and full-resolution reads on demand."""

    def __init__(
        self,
        session: FrameStore,
        target: str,
        rig: Rig,
        progress: Callable[[int, int], None] | None = None,
    ):
        self.session, self.target = session, target
        self.t_target = session.timestamps(target)
        self.t_depth = session.timestamps("depth")
        self.depth_scale = float(session.streams["depth"].depth_scale or 0.0)
        picks = np.linspace(0, len(self.t_depth) - 1, _SAMPLE).astype(int)
        self.near = foreground_threshold(
            [self.read("depth", int(i)) for i in picks], self.depth_scale
        )
        self._full = (rig[target].height, rig[target].width)
        self._render = self._renderer(rig, RENDER_SCALE)
        self.radius = max(1, round(explain_radius_px(float(rig[target].K[0, 0])) * RENDER_SCALE))
        self.warm, fixed = self._thresholds()
        self.target_masks = self._read_masks(progress)
        #: Coarse-grid pixels of fixed heat sources, which the clock leaves out.
        self.fixed_heat = self._coarse(fixed.astype(np.float32)) > 0

    def _renderer(self, rig: Rig, scale: float) -> DepthRenderer:
        """Depth (decimated by two) rendered into the target camera at ``scale``."""
        dcam = decimated_camera(rig[rig.reference], 2)
        tcam = scaled_camera(rig[self.target], scale)
        return DepthRenderer(
            dcam, tcam, rig.T_dst_src(rig.reference, self.target), self.depth_scale
        )

    def _half(self, i: int) -> np.ndarray:
        """Target frame ``i`` on the render grid."""
        h, w = self._render.cam.height, self._render.cam.width
        return cv2.resize(self.read(self.target, i), (w, h), interpolation=cv2.INTER_NEAREST)

    def _foreground(self, i: int) -> np.ndarray:
        """The near foreground of the depth frame nearest target frame ``i`` in time,
        on the render grid (0/1 uint8)."""
        j = int(np.argmin(np.abs(self.t_depth - self.t_target[i])))
        z = self._render.render_inf(self.read("depth", j)[::2, ::2])
        return (z < np.float32(self.near)).astype(np.uint8)

    def _thresholds(self) -> tuple[float, np.ndarray]:
        """The warm threshold and the fixed heat sources (render grid), from a sample of
        target frames and their depth foregrounds."""
        picks = np.linspace(0, len(self.t_target) - 1, _SAMPLE).astype(int)
        thermals = [self._half(int(i)) for i in picks]
        fgs = [self._foreground(int(i)) for i in picks]
        nears = [near_region(f, self.radius) for f in fgs]
        warm = person_threshold(thermals, fgs, nears, WARM_SHARE)
        if warm is None:  # no foreground in view: the room's and the warmest pixels
            warm = warm_threshold([self.read(self.target, int(i)) for i in picks])
        lone = [self._lone(t, f, warm) for t, f in zip(thermals, fgs, strict=True)]
        share = np.mean(lone, axis=0)
        fixed = share >= FIXED_SHARE
        h, w = self._full
        return warm, cv2.resize(fixed.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)

    def read(self, stream: str, i: int) -> np.ndarray:
        return np.asarray(self.session.frame(stream, i).array)

    def _read_masks(self, progress: Callable[[int, int], None] | None) -> np.ndarray:
        n_t, n_d = len(self.t_target), len(self.t_depth)
        total = n_t + n_d
        out = []
        for i in range(n_t):
            mask = warm_mask(self.read(self.target, i), self.warm).astype(np.float32)
            out.append(self._coarse(mask))
            if progress is not None and i % 10 == 0:
                progress(i, total)
        self._depth: list[np.ndarray] = []
        for i in range(n_d):
            self._depth.append(self.read("depth", i)[::2, ::2].copy())
            if progress is not None and i % 10 == 0:
                progress(n_t + i, total)
        if progress is not None:
            progress(total, total)
        return np.stack(out)

    def _coarse(self, mask: np.ndarray) -> np.ndarray:
        h, w = mask.shape
        size = (max(1, round(w * MASK_SCALE)), max(1, round(h * MASK_SCALE)))
        return cv2.resize(mask, size, interpolation=cv2.INTER_AREA)

    def depth_masks(self, rig: Rig) -> np.ndarray:
        """Every depth frame's near foreground as the target camera sees it through
        ``rig``, on the coarse mask grid."""
        renderer = self._renderer(rig, RENDER_SCALE)
        near = np.float32(self.near)
        out = []
        for d in self._depth:
            z = renderer.render_inf(d)
            fg = (z < near).astype(np.float32)
            h, w = self.target_masks.shape[1:]
            out.append(cv2.resize(fg, (w, h), interpolation=cv2.INTER_AREA))
        return np.stack(out)

    def _lone(self, thermal: np.ndarray, foreground: np.ndarray, warm: float) -> np.ndarray:
        """Near warmth the foreground does not explain (render grid, bool). Only the
        warm part of the foreground explains: a cold treadmill post in front of a
        radiator does not make the radiator the person's."""
        hot = warm_mask(thermal, warm)
        return unexplained(hot, near_region(foreground & hot, self.radius), self.radius)

    def target_sdf(self, i: int) -> np.ndarray:
        """Signed distance to the silhouette of target frame ``i`` (full resolution);
        NaN near warmth the depth foreground does not explain (a radiator, a fan)."""
        sdf = signed_distance(warm_mask(self.read(self.target, i), self.warm))
        lone = self._lone(self._half(i), self._foreground(i), self.warm)
        if lone.any():
            h, w = sdf.shape
            zone = cv2.resize(lone.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
            sdf[zone > 0] = np.nan
        return sdf

    def contour_points(self, contour: ContourPoints, j: int) -> np.ndarray:
        return contour(self.read("depth", j))
