"""The synthetic cameras' pixel rays: undistorting the grid piece by piece on threads
gives the same numbers, to the last bit, as one pass (renders must not change)."""

import numpy as np

from drivers.synthetic.camera import CameraModel, _undistort_grid
from drivers.synthetic.config import STREAM_ORDER, SyntheticConfig
from drivers.synthetic.world import true_cameras


def test_undistorting_in_pieces_is_bit_identical_to_one_pass():
    cams = true_cameras({s: SyntheticConfig().size(s) for s in STREAM_ORDER})
    thermal = cams["thermal"]  # the most distorted lens of the rig
    small = CameraModel(97, 61, thermal.K, thermal.dist, name="odd")  # pieces of odd sizes
    one = _undistort_grid(small.width, small.height, small.K, small.dist, chunk=10**9)
    for chunk in (1, 7, 1000):
        pieces = _undistort_grid(small.width, small.height, small.K, small.dist, chunk=chunk)
        assert pieces.dtype == np.float64 and np.array_equal(pieces, one), chunk
    # And it is the inverse of the lens: each pixel maps back onto itself.
    u, v = small.distort(one[..., 0], one[..., 1])
    grid_u, grid_v = np.meshgrid(np.arange(97.0), np.arange(61.0))
    assert np.abs(u - grid_u).max() < 1e-6 and np.abs(v - grid_v).max() < 1e-6
