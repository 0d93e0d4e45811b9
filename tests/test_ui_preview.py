"""How the preview draws overlay results: keypoints need no mask layer of their own."""

import numpy as np

from app.live.stages import Overlay
from app.ui.main.preview import PreviewArea
from drivers.types import Frame, FrameSet, StreamSpec

H, W = 48, 64


def _preview(qtbot) -> PreviewArea:
    preview = PreviewArea()
    qtbot.addWidget(preview, before_close_func=lambda p: p.dispose())
    spec = StreamSpec("thermal", "thermal", (H, W), "uint16", "centikelvin", 30.0)
    preview.set_streams({"thermal": spec})
    frame = Frame("thermal", 0, 0.0, np.full((H, W), 30315, np.uint16))
    preview.show_frameset(FrameSet(0, 0.0, "thermal", {"thermal": frame}))
    return preview


def _shown(view) -> np.ndarray:
    x, y = view.points.getData()
    return np.stack([x, y], axis=1)


def test_keypoints_without_a_layer_are_drawn(qtbot):
    preview = _preview(qtbot)
    view = preview.views["thermal"]
    points = np.array([[10.0, 20.0], [np.nan, np.nan], [30.0, 40.0]], np.float32)
    preview.show_overlays({"kp": Overlay("thermal", points=points, note="model kp: 3 ms")})
    assert view.points.isVisible()
    np.testing.assert_allclose(_shown(view), [[10, 20], [30, 40]])
    assert not any(layer.isVisible() for layer in view.layers), "no layer was given"
    preview.show_notes()
    assert view.note.toolTip() == "model kp: 3 ms"

    mask = np.zeros((H, W, 4), np.uint8)
    truth = np.array([[5.0, 6.0]])
    preview.show_overlays(
        {
            "seg": Overlay("thermal", rgba=mask, points=truth),
            "kp": Overlay("thermal", points=points),
        }
    )
    assert sum(layer.isVisible() for layer in view.layers) == 1
    np.testing.assert_allclose(_shown(view), [[5, 6], [10, 20], [30, 40]])

    preview.show_overlays({})
    assert not view.points.isVisible()
