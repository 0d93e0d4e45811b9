"""The live views say what they show: a legend of every overlay's marks, a tooltip
naming the mark under the cursor, and colour bars without numbers before any data."""

import numpy as np

from app.display import projected_rgba
from app.live.legend import CURSOR, PROJECTED_UNKNOWN, class_marks
from app.live.stages import Overlay, truth_labels_stage
from app.ui.main.preview import PreviewArea
from calibration.projection import NO_DEPTH, OCCLUDED, VALID
from drivers.truth import DEFAULT_CLASSES, UNKNOWN_LABEL
from drivers.types import Frame, FrameSet, StreamSpec
from tests.ui_support import make_window, wait_frames

H, W = 64, 80


def _preview(qtbot) -> PreviewArea:
    preview = PreviewArea()
    qtbot.addWidget(preview, before_close_func=lambda p: p.dispose())
    preview.resize(900, 600)
    preview.show()
    return preview


def _thermal_spec() -> dict[str, StreamSpec]:
    return {"thermal": StreamSpec("thermal", "thermal", (H, W), "uint16", "centikelvin", 30.0)}


def _frameset() -> FrameSet:
    labels = np.zeros((H, W), np.uint8)
    labels[10:30, 50:60] = 2
    truth = {"labels": labels, "keypoints": np.array([[55.0, 12.0]], np.float32)}
    frame = Frame("thermal", 0, 0.0, np.full((H, W), 30315, np.uint16), truth=truth)
    return FrameSet(0, 0.0, "thermal", {"thermal": frame})


def _projected() -> Overlay:
    labels = np.zeros((H, W), np.uint8)
    labels[5:25, 5:25] = 1
    reason = np.full((H, W), VALID, np.uint8)
    reason[35:60, 5:30] = OCCLUDED
    reason[35:60, 40:75] = NO_DEPTH
    labels[reason != VALID] = UNKNOWN_LABEL
    return Overlay(
        "thermal",
        labels=labels,
        rgba=projected_rgba(labels, reason),
        reason=reason,
        marks=class_marks(DEFAULT_CLASSES, "projected") + PROJECTED_UNKNOWN,
    )


def test_the_legend_lists_every_overlays_marks_and_the_tooltip_names_them(qtbot):
    preview = _preview(qtbot)
    preview.set_streams(_thermal_spec())
    legend = preview.legends["thermal"]
    assert not legend.isVisible() and legend.marks == (), "no overlay, no legend"
    fs = _frameset()
    preview.show_frameset(fs)
    truth = truth_labels_stage("thermal", outline=True)(fs)
    preview.show_overlays({"projected": _projected(), "truth": truth})
    shown = [m.key for m in legend.marks]
    expected = [m.key for m in _projected().marks] + [m.key for m in truth.marks]
    assert shown == expected
    assert legend.isVisible() and legend.height() > 0
    # Every chip can be pointed at: its tooltip is the mark's sentence.
    chips = legend._layout(legend.width())[0]
    assert [m.key for _, m in chips] == expected
    for rect, mark in chips:
        assert legend.rect().contains(rect), "every chip fits the strip"
        assert legend.mark_at(rect.center()) is mark

    tip = preview.views["thermal"].glw
    assert "left calf" in preview.explain_hover("thermal", 10.0, 10.0)
    assert tip.toolTip() == preview.explain_hover("thermal", 10.0, 10.0)
    assert preview.explain_hover("thermal", 12.0, 50.0) == PROJECTED_UNKNOWN[0].text
    assert preview.explain_hover("thermal", 60.0, 50.0) == PROJECTED_UNKNOWN[1].text
    assert preview.explain_hover("thermal", 55.0, 12.0) == truth.marks[-1].text  # keypoint
    assert preview.explain_hover("thermal", 35.0, 5.0) == "" and tip.toolTip() == ""

    # The cursor's cross joins the legend of a view once it has been drawn there.
    preview._mark({"thermal": (3.0, 4.0)})
    preview.show_overlays({"projected": _projected()})
    assert legend.marks[-1] == CURSOR and "truth" not in [m.key for m in legend.marks]
    preview.show_overlays({})
    assert [m.key for m in legend.marks] == [CURSOR.key]
    preview.clear("no source")
    assert legend.marks == () and not legend.isVisible()


def test_colour_bars_show_no_values_before_data_and_no_si_prefix(qtbot):
    preview = _preview(qtbot)
    bars = {s: preview.views[s].bar_axis for s in ("thermal", "depth")}
    for stream, units in (("thermal", "°C"), ("depth", "m")):
        axis = bars[stream]
        assert axis.style["showValues"] is False
        assert axis.labelString().count(units) == 1 and "x0.001" not in axis.labelString()
        assert not preview.views[stream].bar_image.isVisible()
    preview.set_streams(_thermal_spec())
    assert bars["thermal"].style["showValues"] is False, "a source, still no frame"
    preview.show_frameset(_frameset())
    axis = bars["thermal"]
    assert axis.style["showValues"] is True and preview.views["thermal"].bar_image.isVisible()
    lo, hi = preview.levels_c
    values = [v for _, level in axis.tickValues(lo, hi, 400) for v in level]
    assert values and all(lo - 1e-9 <= v <= hi + 1e-9 for v in values)
    assert "x0.001" not in axis.labelString() and "(" not in axis.labelString()
    assert bars["depth"].style["showValues"] is False, "no depth stream: nothing to scale"
    preview.clear("no source")
    assert axis.style["showValues"] is False


def _whole_image_in_view(view) -> bool:
    (x0, x1), (y0, y1) = view.vb.viewRange()
    return x0 <= 0.0 and x1 >= W and y0 <= 0.0 and y1 >= H


def test_a_view_refits_its_image_when_resized_unless_zoomed_by_hand(qtbot):
    preview = _preview(qtbot)
    preview.set_streams(_thermal_spec())
    preview.show_frameset(_frameset())
    view = preview.views["thermal"]
    qtbot.waitUntil(lambda: _whole_image_in_view(view), timeout=2000)
    # Very tall for a moment (the layout settling at start): the view's limits clip
    # the range; back to a normal shape, the whole image must be in view again.
    preview.resize(300, 1400)
    qtbot.wait(50)
    preview.resize(900, 600)
    qtbot.waitUntil(lambda: _whole_image_in_view(view), timeout=2000)
    view.vb.scaleBy((0.5, 0.5))
    view._zoomed_by_hand()  # what the ViewBox signals after a wheel or a drag
    preview.resize(1000, 650)
    qtbot.wait(50)
    (x0, x1), _ = view.vb.viewRange()
    assert not view.fitted and x1 - x0 < 0.75 * W, "a person's zoom is kept"
    view.reset_zoom()
    assert view.fitted and _whole_image_in_view(view)


def test_the_main_window_shows_the_whole_thermal_image_under_its_legend(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, "synthetic:cycling")
    window.resize(1000, 700)
    legend = window.preview.legends["thermal"]
    qtbot.waitUntil(lambda: legend.isVisible(), timeout=30000)
    assert [m.key for m in legend.marks][:4] == ["class-1", "class-2", "occluded", "unknown"]
    wait_frames(qtbot, window, 3)
    view = window.preview.views["thermal"]
    (x0, x1), (y0, y1) = view.vb.viewRange()
    h, w = view.image_shape[:2]
    assert x0 <= 0.0 and x1 >= w and y0 <= 0.0 and y1 >= h, "the legend did not zoom the view"
