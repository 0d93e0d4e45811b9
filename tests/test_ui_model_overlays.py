"""The bundled thermal segmenter as a live overlay: off at first, on from View ›
Overlays with its own rate in the status panel, off again without stopping the preview."""

import numpy as np

from app.ui.main.status_panel import short_title
from tests.ui_support import make_window, wait_frames


def _row(window, title: str) -> int:
    """The status row of the overlay ``title`` (it shows the title's short form, the
    whole title in its tooltip)."""
    table = window.status_panel.stages
    for row in range(table.rowCount()):
        item = table.item(row, 0)
        if item is not None and item.text() == short_title(title) and title in item.toolTip():
            return row
    raise AssertionError(f"no status row '{title}'")


def test_the_bundled_segmenter_overlay_toggles_on_the_thermal_view(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, "synthetic:cycling")
    wait_frames(qtbot, window, 3)
    actions = {a.objectName(): a for a in window.overlay_menu.actions()}
    seg, kp = actions["overlay-model-seg"], actions["overlay-model-kp"]
    assert actions["overlay-projected"].isChecked(), "projected labels stay the default"
    assert not seg.isChecked() and not kp.isChecked()
    assert seg.text() == "Thermal segmenter (bundled)" and kp.text() == "Keypoints (bundled)"
    thermal = window.preview.views["thermal"]
    title = seg.text()
    qtbot.waitUntil(lambda: window.status_panel.stages.rowCount() >= 4, timeout=3000)
    assert window.status_panel.stages.item(_row(window, title), 1).text() == "off"

    seg.trigger()
    qtbot.waitUntil(lambda: "model-seg" in window.live.runner.results(), timeout=15000)
    mask = window.live.runner.results()["model-seg"]
    assert mask.labels.shape == thermal.image_shape[:2]
    assert {1, 2} <= set(np.unique(mask.labels)), "both calves found"
    assert mask.rgba[mask.labels > 0, 3].min() > 0, "the calves are drawn"
    qtbot.waitUntil(lambda: sum(layer.isVisible() for layer in thermal.layers) == 2, timeout=5000)
    qtbot.waitUntil(
        lambda: (
            window.status_panel.stages.item(_row(window, title), 1).text().endswith("/s")
            and float(window.status_panel.stages.item(_row(window, title), 1).text()[:-2]) > 0
        ),
        timeout=5000,
    )
    stats = {s.name: s for s in window.live.runner.stats()}["model-seg"]
    assert stats.runs > 0 and stats.errors == 0 and stats.latency_ms > 0

    seg.trigger()
    assert "model-seg" not in window.live.runner.results()
    qtbot.waitUntil(lambda: sum(layer.isVisible() for layer in thermal.layers) == 1, timeout=5000)
    qtbot.waitUntil(
        lambda: window.status_panel.stages.item(_row(window, title), 1).text() == "off",
        timeout=3000,
    )
    wait_frames(qtbot, window, 5)  # the preview goes on
