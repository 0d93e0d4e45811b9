"""Batched homographies agree with OpenCV's, per item and with masks."""

import cv2
import numpy as np

from calibration.gridfit import apply, homographies, neighbours


def test_batched_homographies_match_opencv_and_respect_masks():
    rng = np.random.default_rng(0)
    grid = np.array([(i, j) for j in range(4) for i in range(5)], float)
    Hs, dsts = [], []
    for _ in range(3):
        H = np.array([[30, 4, 100], [-3, 28, 80], [1e-3, 2e-3, 1]]) + rng.normal(
            0, [[1, 1, 5], [1, 1, 5], [1e-4, 1e-4, 0]]
        )
        Hs.append(H)
        dsts.append(cv2.perspectiveTransform(grid.reshape(-1, 1, 2), H).reshape(-1, 2))
    dst = np.stack(dsts)
    mask = np.ones((3, 20))
    dst[1, 7] += 50  # an outlier, masked out of item 1
    mask[1, 7] = 0
    got = homographies(np.broadcast_to(grid, (3, 20, 2)), dst, mask)
    for k in range(3):
        np.testing.assert_allclose(got[k] / got[k][2, 2], Hs[k] / Hs[k][2, 2], rtol=1e-6, atol=1e-8)
    p = apply(got, np.array([[1.5, 2.5]] * 3))
    ref = cv2.perspectiveTransform(np.array([[[1.5, 2.5]]]), Hs[2]).reshape(2)
    np.testing.assert_allclose(p[2], ref, atol=1e-6)


def test_neighbours_are_nearest_rings_first():
    grid = np.array([(i, j) for j in range(5) for i in range(5)], float)
    near = neighbours(grid, np.array([[2.0, 2.0]]), 9)[0]
    assert {tuple(grid[k]) for k in near} == {(i, j) for i in (1, 2, 3) for j in (1, 2, 3)}
