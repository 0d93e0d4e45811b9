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


def _numpy_dlt(src, dst, mask):
    """The normalised DLT as numpy's SVD solved it (the first implementation)."""

    def normalise(pts):
        n = np.maximum(mask.sum(1), 1)[:, None]
        mean = (pts * mask[..., None]).sum(1) / n
        d = np.hypot(*(pts - mean[:, None]).transpose(2, 0, 1)) * mask
        scale = np.sqrt(2.0) / np.maximum(d.sum(1) / n[:, 0], 1e-12)
        T = np.zeros((len(pts), 3, 3))
        T[:, 0, 0] = T[:, 1, 1] = scale
        T[:, :2, 2] = -scale[:, None] * mean
        T[:, 2, 2] = 1.0
        return (pts - mean[:, None]) * scale[:, None, None], T

    (s, Ts), (d, Td) = normalise(src), normalise(dst)
    x, y, u, v = s[..., 0], s[..., 1], d[..., 0], d[..., 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    r1 = np.stack([x, y, one, zero, zero, zero, -u * x, -u * y, -u], -1)
    r2 = np.stack([zero, zero, zero, x, y, one, -v * x, -v * y, -v], -1)
    A = np.concatenate([r1, r2], 1) * np.concatenate([mask, mask], 1)[..., None]
    Hn = np.linalg.svd(A.transpose(0, 2, 1) @ A)[2][:, -1].reshape(-1, 3, 3)
    H = np.linalg.inv(Td) @ Hn @ Ts
    return H / H[:, 2:3, 2:3]


def test_homographies_agree_with_the_svd_solution_on_noisy_points():
    rng = np.random.default_rng(1)
    grid = np.array([(i, j) for j in range(4) for i in range(4)], float)
    src = np.broadcast_to(grid, (40, 16, 2)).copy()
    H = np.array([[30, 4, 100], [-3, 28, 80], [1e-3, 2e-3, 1]])
    dst = cv2.perspectiveTransform(src.reshape(-1, 1, 2), H).reshape(40, 16, 2)
    dst += rng.normal(0, 0.5, dst.shape)  # no exact fit: the least-squares solution
    mask = (rng.random((40, 16)) > 0.2).astype(float)
    np.testing.assert_allclose(
        homographies(src, dst, mask), _numpy_dlt(src, dst, mask), rtol=1e-7, atol=1e-9
    )
