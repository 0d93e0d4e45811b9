"""The same 3-D point in every camera of the rig: what the cursor marks across views.

A pixel plus its depth is a 3-D point; the rig places it in every other camera. The
preview marks that point in the other views while the cursor moves, so a person sees
at once whether the rig lines the cameras up (a misaligned rig shows the mark beside
the knee it should sit on). One point per mouse move: microseconds, no arrays.
"""

from __future__ import annotations

import numpy as np

from calibration.camera_math import project_normalized, undistort_pixels
from calibration.rig import Rig

#: Streams that are images of another camera (the ToF camera's IR image).
SAME_CAMERA = {"ir": "depth"}


class RigPoints:
    """Maps a pixel with known depth to pixels of the rig's other cameras."""

    def __init__(self, rig: Rig):
        self.rig = rig

    def camera_of(self, stream: str) -> str | None:
        name = SAME_CAMERA.get(stream, stream)
        return name if name in self.rig.cameras else None

    def to_reference(self, stream: str, x: float, y: float, z_m: float) -> np.ndarray | None:
        """The 3-D point (reference camera, metres) seen at pixel (x, y) — column, row,
        pixel centres at integers — at z-depth ``z_m``; None without a camera or depth."""
        name = self.camera_of(stream)
        if name is None or not (z_m > 0):
            return None
        cam = self.rig[name]
        xy = undistort_pixels(cam.K, cam.dist, np.array([[x, y]], np.float64))[0]
        p = np.array([xy[0] * z_m, xy[1] * z_m, z_m, 1.0])
        return (cam.T_ref_cam @ p)[:3]

    def project(self, point_ref: np.ndarray, stream: str) -> tuple[float, float] | None:
        """Pixel of ``stream``'s camera where the point appears; None if it is behind
        the camera or outside its image."""
        name = self.camera_of(stream)
        if name is None:
            return None
        cam = self.rig[name]
        p = cam.T_cam_ref @ np.append(point_ref, 1.0)
        if p[2] <= 1e-6:
            return None
        u, v = project_normalized(cam.K, cam.dist, p[0] / p[2], p[1] / p[2])
        u, v = float(u), float(v)
        if not (-0.5 <= u < cam.width - 0.5 and -0.5 <= v < cam.height - 0.5):
            return None
        return u, v

    def others(
        self, stream: str, x: float, y: float, z_m: float, streams: tuple[str, ...]
    ) -> dict[str, tuple[float, float]]:
        """Pixel of the point in each of ``streams`` other than ``stream`` that sees it."""
        point = self.to_reference(stream, x, y, z_m)
        if point is None:
            return {}
        out = {}
        for s in streams:
            if s != stream and (uv := self.project(point, s)) is not None:
                out[s] = uv
        return out
