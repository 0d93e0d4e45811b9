"""The calibration scene: a heated board moved through poses, held still at each.

The board is a plain checkerboard, the MRT coded target (default) or a ChArUco board,
printed as the spec says (:func:`board_marks`); the coded target's marker fixes which
way up the board is in every camera, which a stereo calibration needs (a plain
checkerboard's labelling can turn 180° between cameras). Its geometry repeats the
one in ``calibration.boards`` (drivers do not import calibration; a test checks that
the two agree): the marker is 3.2 squares wide, centred on the centre corner, on a
white area of 4 x 4 squares, ArUco id 0 of ``extendDictionary(1, 3)``.

Poses cover each camera's field of view (centre, borders, corners, near and far) and
tilt the board by up to ~38 degrees about both axes; most are aimed inside the thermal
camera's view (the narrowest) so that all three cameras see the board most of the time.
"""

from __future__ import annotations

from collections.abc import Hashable

import cv2
import numpy as np

from drivers.errors import SourceError
from drivers.synthetic.camera import CameraModel, rotation, transform
from drivers.synthetic.config import BoardSpec, SyntheticConfig
from drivers.synthetic.materials import Checker, PrintMarks
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


#: Texels per square of a print's marks (a multiple of 25, so that the coded target's
#: 3.2-square marker is a whole number of texels per bit).
_TEXELS = 50
#: The coded target (Schramm et al. 2021), as ``calibration.boards.CodedBoard`` has it.
CODED_MARKER_SQUARES = 3.2
CODED_WHITE_SQUARES = 4


def board_marks(board: BoardSpec) -> PrintMarks | None:
    """What the board's print adds to a plain checkerboard; None for a plain one.

    The texture covers the pattern's ``cols + 1`` x ``rows + 1`` squares, starting at
    board coordinates (-square, -square); texel rows run along board y.
    """
    if board.kind == "checker":
        return None
    n = _TEXELS
    sx, sy = board.cols + 1, board.rows + 1
    jj, ii = np.mgrid[0:sy, 0:sx]
    checker = np.kron(((ii + jj) % 2 == 0).astype(np.float32), np.ones((n, n), np.float32))
    black = checker.copy()
    if board.kind == "coded":
        ci, cj, half = board.cols // 2, board.rows // 2, CODED_WHITE_SQUARES // 2
        black[
            (cj + 1 - half) * n : (cj + 1 + half) * n, (ci + 1 - half) * n : (ci + 1 + half) * n
        ] = 0
        bits = cv2.aruco.generateImageMarker(cv2.aruco.extendDictionary(1, 3), 0, 5, borderBits=1)
        side = int(round(CODED_MARKER_SQUARES * n))
        marker = np.kron(
            (bits < 128).astype(np.float32), np.ones((side // 5, side // 5), np.float32)
        )
        x0, y0 = (ci + 1) * n - side // 2, (cj + 1) * n - side // 2
        black[y0 : y0 + side, x0 : x0 + side] = marker
    else:  # charuco
        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, board.dictionary))
        cb = cv2.aruco.CharucoBoard((sx, sy), board.square, board.marker, dictionary)
        img = cb.generateImage((sx * n, sy * n), marginSize=0, borderBits=1)
        black = (img < 128).astype(np.float32)
        if black[n // 8, n // 8] != checker[n // 8, n // 8]:
            raise SourceError(
                f"board {board.spec}: OpenCV prints this ChArUco layout with a light first "
                "square; use another square count (e.g. 8x6)"
            )
    return PrintMarks(black - checker, board.square / n, -board.square, -board.square)


class CalibrationScene(Scene):
    """A heated board moved through poses and held still at each."""

    name = "calibration"

    def __init__(self, config: SyntheticConfig, seed: int, cameras: dict[str, CameraModel]):
        super().__init__(config, seed)
        self.T_world_ref = camera_pose((0.0, -1.55, 0.95), 0.0)
        self.board = config.board_spec
        b = self.board
        self.board_mat = self.add(
            Checker(
                "board", b.cols, b.rows, b.square, warm_c=35.0, cool_c=24.5, marks=board_marks(b)
            )
        )
        self.hold, self.move = config.board_hold_s, config.board_move_s
        roll = config.board_roll_deg
        self.poses = [
            self._pose(cameras, *p[:-1], p[-1] + (roll if i % 2 else 0.0))
            for i, p in enumerate(BOARD_POSES)
        ]
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
