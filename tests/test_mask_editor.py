"""The review tools' state (MaskEditor), the region-wise mask overlay and the frame
pairing of the review window, without Qt."""

from __future__ import annotations

import numpy as np
import pytest

from app.review import mask_tools as mt
from app.review.editor import MaskEditor
from app.review.frames import nearest_rows
from app.review.overlay import MaskOverlay, review_palette
from drivers.types import celsius_to_centikelvin


def _editor(tool: str, value: int = 1) -> MaskEditor:
    ed = MaskEditor()
    thermal = celsius_to_centikelvin(np.full((30, 40), 25.0))
    thermal[5:20, 5:15] = celsius_to_centikelvin(33.0)
    ed.load(np.full((30, 40), 255, np.uint8), thermal)
    ed.set_tool(tool)
    ed.value = value
    return ed


def test_a_stroke_is_one_edit_named_on_release_and_only_if_it_changed_something():
    ed = _editor("brush")
    expected = np.full((30, 40), 255, np.uint8)
    assert ed.press(5, 5).done == "" and ed.busy
    ed.move(12, 8)
    ed.move(20, 8)
    mt.brush(expected, [(5, 5), (12, 8), (20, 8)], ed.radius, 1)
    assert np.array_equal(ed.work, expected)
    assert ed.release().done == "brush" and not ed.busy
    ed.press(5, 5)  # the same place again: nothing changes, nothing to commit
    assert ed.release().done == ""


def test_eraser_polygon_flood_and_wand_through_the_editor():
    ed = _editor("wand")
    edit = ed.press(7, 7)
    region = mt.temperature_wand(ed.thermal, (7, 7), 33.0 - 0.5, 33.0 + 0.5)
    assert edit.done == "temperature wand" and np.array_equal(ed.work == 1, region)
    ed.set_tool("eraser")
    ed.press(7, 7)
    assert ed.release().done == "eraser" and ed.work[7, 7] == 255
    ed.set_tool("polygon")
    ed.value = 2
    for v in ((20, 2), (35, 2), (35, 12)):
        assert ed.press(*v).done == ""
    assert ed.close_polygon().done == "polygon" and ed.work[4, 33] == 2
    ed.set_tool("flood")
    ed.value = 0
    assert ed.press(39, 29).done == "flood fill" and ed.work[29, 0] == 0
    ed.set_tool("polygon")
    ed.press(1, 1)
    ed.cancel()
    assert ed.close_polygon().done == "" and not ed.busy


def test_brackets_size_the_brush_or_the_wand_within_limits():
    ed = _editor("brush")
    assert ed.grow(1) == "brush radius 7 px"
    for _ in range(50):
        ed.grow(-1)
    assert ed.radius == 1
    ed.set_tool("wand")
    assert ed.grow(1) == "wand ±0.62 °C"
    with pytest.raises(ValueError, match="unknown tool"):
        ed.set_tool("lasso")


def test_the_overlay_redrawn_by_regions_equals_a_full_redraw():
    rng = np.random.default_rng(1)
    start = rng.choice(np.array([0, 1, 2, 255], np.uint8), size=(40, 50))
    for contour in (False, True):
        mask = start.copy()
        part = MaskOverlay(mask.shape)
        part.set_look(150, contour)
        part.render(mask)
        box = mt.brush(mask, [(10, 10), (30, 20)], 4, 1)
        box = box.union(mt.erase(mask, [(40, 30)], 3))
        part.render(mask, box)
        whole = MaskOverlay(mask.shape)
        whole.set_look(150, contour)
        whole.render(mask)
        assert np.array_equal(part.rgba, whole.rgba)
    pal = review_palette(0, False)
    assert pal[:, 3].max() == 0, "opacity 0 hides fills and the unlabeled tint"


def test_frames_pair_with_the_nearest_in_time():
    pivot = np.array([0.0, 0.034, 0.066, 0.1])
    other = np.array([0.001, 0.05, 0.09])
    assert nearest_rows(pivot, other).tolist() == [0, 1, 1, 2]
    assert nearest_rows(pivot, np.array([])).tolist() == [-1] * 4
    assert nearest_rows(pivot, np.array([0.5])).tolist() == [0] * 4
