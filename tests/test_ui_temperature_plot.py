"""The temperature plot: curves per class, a cursor, clicks that pick a frame."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from app.analysis.curves import TemperatureCurves
from app.display import CLASS_RGB
from app.ui.review.temperature_plot import TemperaturePlot
from tests.screenshots import as_array

FPS, N = 10.0, 600


def _curves() -> TemperatureCurves:
    """A minute of two calves warming towards +2 °C with the pedal stroke's ripple;
    frames 200-239 rejected (NaN)."""
    t = np.arange(N) / FPS
    warm = 2.0 * (1 - np.exp(-t / 25.0))
    ripple = 0.3 * np.sin(2 * np.pi * t / 0.857)
    mean = np.stack([31.8 + warm + ripple, 32.3 + warm - ripple], axis=1)
    mean[200:240] = np.nan
    count = np.where(np.isnan(mean), 0, 9000)
    return TemperatureCurves(
        stream="thermal",
        classes=["left_calf", "right_calf"],
        time=t,
        frames=np.arange(N),
        mean=mean,
        median=mean - 0.05,
        max=mean + 1.6,
        count=count,
    )


@pytest.fixture
def plot(qtbot):
    widget = TemperaturePlot()
    qtbot.addWidget(widget, before_close_func=lambda w: w.dispose())
    widget.resize(900, 300)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_shows_one_mean_line_per_class_and_a_cursor(plot, qtbot, tmp_path):
    curves = _curves()
    plot.set_curves(curves)
    assert len(plot.mean_items) == 2 and len(plot.detail_items) == 4
    for k, item in enumerate(plot.mean_items):
        x, y = item.getData()
        assert np.array_equal(x, curves.time)
        assert np.array_equal(y, curves.mean[:, k], equal_nan=True)
        assert item.name() == curves.classes[k]
    assert not any(i.isVisible() for i in plot.detail_items)
    plot.details.setChecked(True)
    assert all(i.isVisible() for i in plot.detail_items)
    plot.set_current(250)
    assert plot.cursor.isVisible() and plot.cursor.value() == pytest.approx(25.0)
    assert plot.readout.text().startswith("frame 251, 25.0 s: left_calf "), "1-based"
    plot.set_current(210)
    assert "left_calf -" in plot.readout.text(), "a rejected frame has no value"
    qtbot.wait(50)
    grabbed = plot.grab()
    assert grabbed.save(str(tmp_path / "curves.png"))
    drawn = as_array(grabbed.toImage()).astype(int)
    for k in (1, 2):  # each class's line drawn in its colour
        near = np.abs(drawn - CLASS_RGB[k].astype(int)).max(axis=-1) <= 40
        assert near.sum() > 500, f"class {k}: {near.sum()} px of its colour"
    plot.set_curves(None)
    assert not plot.mean_items and not plot.cursor.isVisible()


def test_a_click_emits_the_nearest_frame(plot, qtbot):
    plot.set_curves(_curves())
    plot.set_current(0)
    vb = plot.plot.getPlotItem().vb
    qtbot.waitUntil(lambda: vb.viewRange()[0][1] > 59.0, timeout=2000)  # auto range, lazily
    scene = vb.mapViewToScene(QtCore.QPointF(31.04, 33.0))
    pos = plot.plot.mapFromScene(scene)
    with qtbot.waitSignal(plot.frame_clicked, timeout=2000) as signal:
        qtbot.mouseClick(plot.plot.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
    # A pixel is ~0.07 s wide here: the click lands within a frame of 31.0 s.
    assert abs(signal.args[0] - 310) <= 1
    assert plot.frame_at(31.04) == 310 and plot.frame_at(-5.0) == 0 and plot.frame_at(1e6) == N - 1
