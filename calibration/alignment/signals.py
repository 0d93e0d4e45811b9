"""What every session shows, as images the alignment check can compare.

Three signals need no board: the person is warmer than the room (a *thermal
silhouette*: temperature above a threshold set between the background and the skin),
the person stands out of the background in depth (*depth contour points*: the near
side of a depth jump), and the legs move (so a wrong clock shows as a lag between the
silhouettes). The thermal silhouette is compared through its signed distance, in
pixels, positive outside: a contour point carried into the thermal image through a
good rig lands where it is about zero, and the sign says which way to move.
"""

from __future__ import annotations

import cv2
import numpy as np

from calibration.depth_render import rays_of
from calibration.rig import Camera

#: A thermal pixel belongs to the silhouette when it is warmer than the background by
#: this share of the background-to-skin span (background: the frame's median; skin:
#: its 99th percentile). Clothing on the synthetic rider sits at ~50 % of the span,
#: shoes and the bike below 30 %.
WARM_SHARE = 0.35
#: A depth pixel is a contour point when a neighbour lies this much farther (metres):
#: the person against the room, not one leg in front of the other (~0.1-0.3 m).
CONTOUR_JUMP_M = 0.4
#: Contour points within this many pixels of the depth image's border are dropped.
_BORDER_PX = 2


def warm_threshold(frames: list[np.ndarray]) -> float:
    """The temperature (raw units) that separates the warm person from the room, from
    a few thermal frames: robust to which frames, since the room is most of the image."""
    stack = np.concatenate([np.asarray(f, np.float32).ravel()[::7] for f in frames])
    background = float(np.median(stack))
    skin = float(np.percentile(stack, 99))
    return background + WARM_SHARE * (skin - background)


def warm_mask(frame: np.ndarray, threshold: float) -> np.ndarray:
    """0/1 uint8 silhouette of what is warmer than ``threshold``."""
    return (np.asarray(frame) > threshold).astype(np.uint8)


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """Float32 pixels to the silhouette's border, positive outside, negative inside;
    zero halfway between a border pixel and its outside neighbour, so that bilinear
    look-ups place the border to a fraction of a pixel on average."""
    inside = mask.astype(np.uint8)
    outside = 1 - inside
    d_out = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    d_in = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    sdf = d_out - d_in
    sdf -= np.float32(0.5) * outside.astype(np.float32)
    sdf += np.float32(0.5) * inside.astype(np.float32)
    return sdf


class ContourPoints:
    """3-D contour points of depth frames (reference camera, metres)."""

    def __init__(self, depth_cam: Camera, depth_scale: float):
        self.cam = depth_cam
        self.scale = float(depth_scale)
        self.rays = rays_of(depth_cam).reshape(depth_cam.height, depth_cam.width, 3)
        border = np.zeros((depth_cam.height, depth_cam.width), bool)
        b = _BORDER_PX
        border[b:-b, b:-b] = True
        self._inner = border

    def __call__(self, depth: np.ndarray) -> np.ndarray:
        """(N, 3) points on the near side of jumps of more than ``CONTOUR_JUMP_M``."""
        z = np.asarray(depth, np.float32) * np.float32(self.scale)
        zmax = cv2.dilate(z, np.ones((3, 3), np.uint8))
        edge = (z > 0) & (zmax - z > CONTOUR_JUMP_M) & self._inner
        rows, cols = np.nonzero(edge)
        return self.rays[rows, cols] * z[rows, cols, None]


def foreground_threshold(depths: list[np.ndarray], scale: float) -> float:
    """Depth (metres) between the near foreground (person, bike) and the room: halfway
    between the 10th and 90th percentiles of the measured depths."""
    z = np.concatenate([np.asarray(d).ravel()[::7] for d in depths]).astype(np.float32)
    z = z[z > 0] * np.float32(scale)
    if not len(z):
        return 0.0
    lo, hi = np.percentile(z, [10, 90])
    return float(0.5 * (lo + hi))
