"""The calibration scene: a heated checkerboard moved through poses, held at each.

Poses cover each camera's field of view (centre, borders, corners, near and far) and
tilt the board by up to ~38 degrees about both axes; most are aimed inside the thermal
camera's view (the narrowest) so that all three cameras see the board most of the time.
"""

from __future__ import annotations

from collections.abc import Hashable

import cv2
import numpy as np

from drivers.synthetic.camera import CameraModel, rotation, transform
from drivers.synthetic.config import SyntheticConfig
from drivers.synthetic.materials import Checker
from drivers.synthetic.raycast import Prim, Rect
from drivers.synthetic.scenes import Scene, camera_pose

#: Calibration poses: (camera aimed at, u, v as image fractions, distance m, tilt about
#: x, tilt about y, roll, degrees). Most are aimed inside the thermal camera's view (the
#: narrowest), a few at the RGB/depth borders outside it.
BOARD_POSES = (
    ("thermal", 0.50, 0.50, 1.20, 0, 0, 0),
    ("thermal", 0.50, 0.50, 0.85, 0, 0, 4),
    ("thermal", 0.31, 0.30, 1.55, 10, -15, 0),
    ("thermal", 0.69, 0.30, 1.55, 10, 15, 3),
    ("thermal", 0.69, 0.70, 1.55, -10, 15, 0),
    ("thermal", 0.31, 0.70, 1.55, -10, -15, -3),
    ("thermal", 0.50, 0.50, 1.10, 35, 0, 0),
    ("thermal", 0.50, 0.50, 1.10, -35, 0, 0),
    ("thermal", 0.50, 0.50, 1.10, 0, 35, 0),
    ("thermal", 0.50, 0.50, 1.10, 0, -38, 0),
    ("thermal", 0.28, 0.50, 1.40, 0, 25, 0),
    ("thermal", 0.72, 0.50, 1.40, 0, -25, 0),
    ("thermal", 0.50, 0.29, 1.40, -25, 0, 0),
    ("thermal", 0.50, 0.71, 1.40, 25, 0, 0),
    ("thermal", 0.50, 0.50, 1.65, 0, 0, -6),
    ("thermal", 0.45, 0.55, 1.30, 20, 22, 8),
    ("thermal", 0.55, 0.45, 1.30, -22, -20, -8),
    ("color", 0.18, 0.28, 1.50, 0, 20, 0),
    ("color", 0.82, 0.72, 1.50, 0, -20, 0),
    ("depth", 0.20, 0.78, 1.45, 15, 15, 0),
)


class CalibrationScene(Scene):
    """A heated checkerboard moved through poses and held still at each."""

    name = "calibration"

    def __init__(self, config: SyntheticConfig, seed: int, cameras: dict[str, CameraModel]):
        super().__init__(config, seed)
        self.T_world_ref = camera_pose((0.0, -1.55, 0.95), 0.0)
        self.board = config.board_spec
        b = self.board
        self.board_mat = self.add(
            Checker("board", b.cols, b.rows, b.square, warm_c=35.0, cool_c=24.5)
        )
        self.hold, self.move = config.board_hold_s, config.board_move_s
        self.poses = [self._pose(cameras, *p) for p in BOARD_POSES]
        self.period = len(self.poses) * (self.hold + self.move)

    def _pose(self, cams: dict[str, CameraModel], cam: str, fu, fv, dist, rx, ry, rz) -> np.ndarray:
        """T_ref_board with the board's centre at image fraction (fu, fv) of ``cam``."""
        c = cams[cam]
        ray = c.rays()[int(fv * (c.height - 1)), int(fu * (c.width - 1))].astype(np.float64)
        centre = ray * (dist / ray[2])
        b = self.board
        R = rotation(rx, ry, rz)
        c_board = np.array([(b.cols - 1) * b.square / 2, (b.rows - 1) * b.square / 2, 0.0])
        return c.pose @ transform(R, centre - R @ c_board)

    def static_prims(self) -> list[Prim]:
        return self.room(wall_y=1.6)

    def key(self, t: float) -> tuple[Hashable, float]:
        slot = self.hold + self.move
        i = int((t % self.period) // slot)
        base = t - (t % self.period) + i * slot
        r = t - base
        if r < self.hold:
            return ("hold", i), base
        step = int(round((r - self.hold) / 0.01))
        return ("move", i, step), base + self.hold + step * 0.01

    def states(self) -> list[tuple[Hashable, float]]:
        slot = self.hold + self.move
        return [(("hold", i), i * slot) for i in range(len(self.poses))]

    def ref_board(self, t: float) -> np.ndarray:
        """T_ref_board at ``t``: still during a hold, eased between poses."""
        slot = self.hold + self.move
        tau = t % self.period
        i = min(int(tau // slot), len(self.poses) - 1)
        r = tau - i * slot
        A = self.poses[i]
        if r <= self.hold + 1e-9:
            return A
        B = self.poses[(i + 1) % len(self.poses)]
        x = min(max((r - self.hold) / self.move, 0.0), 1.0)
        s = x * x * (3 - 2 * x)
        rel, _ = cv2.Rodrigues(A[:3, :3].T @ B[:3, :3])
        Rs, _ = cv2.Rodrigues(rel * s)
        return transform(A[:3, :3] @ Rs, (1 - s) * A[:3, 3] + s * B[:3, 3])

    def board_pose(self, t: float) -> np.ndarray:
        return self.T_world_ref @ self.ref_board(t)

    def dynamic_prims(self, t: float) -> list[Prim]:
        T = self.board_pose(t)
        b = self.board
        m = 0.6 * b.square
        ext = (-b.square - m, b.cols * b.square + m, -b.square - m, b.rows * b.square + m)
        return [Rect(self.board_mat, T[:3, 3], T[:3, 0], T[:3, 1], ext)]
