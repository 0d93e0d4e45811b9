"""The calibration board's compiled shading agrees with the general numpy path.

The compiled path (``drivers.synthetic.board_shading``) repeats numpy's float32
arithmetic per pixel; the sums of three products may round differently (numpy's
matrix products may fuse or reorder them), so a final 8- or 16-bit value may differ
by one step, in a few pixels. Anything more is a bug in the kernel.
"""

from __future__ import annotations

import numpy as np
import pytest

import drivers.synthetic.render as render
from drivers.synthetic.config import SyntheticConfig
from drivers.synthetic.world import build_world

#: Board states of the calibration scene: held poses and moves between them.
_TIMES = (0.5, 1.9, 2.6, 3.4, 5.0)


class _NotABoard:
    """Stands in for Checker in the renderer's test, so every prim takes the general path."""


def _layers(board: str | None) -> dict:
    cfg = SyntheticConfig() if board is None else SyntheticConfig(board=board)
    _, scene, renderers = build_world("calibration", 0, cfg)
    return {
        (name, t): r.render(scene.dynamic_prims(t)) for name, r in renderers.items() for t in _TIMES
    }


@pytest.mark.parametrize("board", [None, "checker:9x6:40"])
def test_compiled_board_shading_matches_the_general_path(monkeypatch, board):
    fast = _layers(board)
    monkeypatch.setattr(render, "Checker", _NotABoard)
    general = _layers(board)
    assert fast.keys() == general.keys()
    board_pixels = 0
    for key, a in fast.items():
        b = general[key]
        assert a.rect == b.rect, key
        np.testing.assert_array_equal(a.labels, b.labels, err_msg=str(key))
        diff = np.abs(a.image.astype(np.int64) - b.image.astype(np.int64))
        assert diff.max() <= 1, key
        assert np.count_nonzero(diff) <= 1e-3 * diff.size, key
        if a.skin is not None:
            np.testing.assert_array_equal(a.skin, b.skin, err_msg=str(key))
        board_pixels += a.image.shape[0] * a.image.shape[1]
    assert board_pixels > 100_000  # the board was in view: the comparison compared
