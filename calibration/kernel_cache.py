"""The compiled kernels (label transfer, board search, the synthetic rig's board)
compiled ahead: ``python -c "from calibration.kernel_cache import warm_up; warm_up()"``
(``scripts/install`` runs it).

numba compiles a kernel for each kind of array it is handed, the first time, in several
seconds that hold the interpreter; a window whose first projected frame compiled them
dropped frames for that long. Compiled once into numba's cache beside the kernels, later
processes load them in a fraction of a second.
"""

from __future__ import annotations

import time

import numpy as np

from calibration.depth_kernels import fill_from_neighbours
from calibration.gridfit import homographies
from calibration.projection import Projector
from calibration.rig import Camera, Rig
from calibration.subpixel import fit_x_junctions
from drivers.synthetic import board_shading


def warm_up() -> float:
    """Compile the kernels for the arrays a transfer hands them (depth images
    writeable or read-only; strided views arrive copied) into numba's cache, on a small
    rig; seconds taken. Compiling holds the interpreter for several seconds, so
    ``scripts/install`` does it once, rather than the window at its first projected
    frame; from the cache it takes a fraction of a second."""
    t0 = time.perf_counter()

    def camera(w: int, h: int, x: float, dist: list[float]) -> Camera:
        T = np.eye(4)
        T[0, 3] = x
        K = [[0.8 * w, 0, w / 2], [0, 0.8 * w, h / 2], [0, 0, 1]]
        return Camera(w, h, K, dist, T)

    # Lenses of Brown's five coefficients and of OpenCV's rational model compile apart
    # (calibration.lens_kernels): both, on rigs of 400x400 depth pixels, enough that
    # the occlusion buffer decimates, as on a real rig.
    for dist in ([0.01, 0.0, 0.0, 0.0, 0.0], [0.01, 0.0, 0.0, 0.0, 0.0, 0.001, 0.0, 0.0]):
        rig = Rig(
            cameras={
                "depth": camera(400, 400, 0.0, dist),
                "thermal": camera(64, 48, 0.05, dist),
                "color": camera(96, 64, -0.05, dist),
            }
        )
        depth = np.full((400, 400), 1500, np.uint16)
        labels = np.zeros((64, 96), np.uint8)
        projector = Projector(rig, 0.001)
        projector.transfer_labels(depth, labels, 2)
        read_only = depth.copy()
        read_only.setflags(write=False)
        projector.transfer_labels(read_only, labels, 2)
        projector.dst_render.render_inf(read_only)  # as without flying-pixel removal
    # A few small holes filled, in a view of a renderer's buffer (this rig has none).
    buffer = np.ones((6, 6), np.float32)
    fill_from_neighbours(buffer[1:-1, 1:-1], np.array([0]))
    # The board search's fits: a corner's X-junction, a batch of local homographies.
    corner = np.zeros((16, 16), np.float32)
    corner[:8, :8] = corner[8:, 8:] = 200.0
    fit_x_junctions(
        corner, np.array([[8.0, 8.0]]), np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), 3.0
    )
    square = np.array([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]])
    homographies(square, 2.0 * square)
    # The synthetic rig's board (the demo's calibration scene).
    board_shading.warm_up()
    return time.perf_counter() - t0
