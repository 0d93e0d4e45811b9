"""The main window at a fixed size, on the full-size synthetic rig, compared loosely
with the screenshot the README shows (``resources/screenshot-main.png``).

Set ``THERMORIG_UPDATE_SCREENSHOT=1`` to write a new reference instead.
"""

import os
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui

from tests.ui_support import make_window, wait_frames

REFERENCE = Path(__file__).resolve().parents[1] / "resources" / "screenshot-main.png"
SIZE = (1440, 900)


def _array(image: QtGui.QImage) -> np.ndarray:
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    return raw[:, : w * 3].reshape(h, w, 3).copy()


def _region(window, widget) -> tuple[slice, slice]:
    top_left = widget.mapTo(window, QtCore.QPoint(0, 0))
    r = QtCore.QRect(top_left, widget.size())
    return slice(r.top(), r.bottom()), slice(r.left(), r.right())


def test_main_window_screenshot(qtbot, tmp_path):
    # Full-size images; a coarser motion cycle only makes the one-off render shorter.
    options = {"synthetic": {"phases_per_cycle": 30}}
    window = make_window(qtbot, tmp_path, "synthetic:cycling", source_options=options)
    window.resize(*SIZE)
    panel = window.record_panel
    panel.folder.setText("~/sessions")
    panel.subject.setText("S07")
    panel.notes.setText("ramp test, 150 W")
    wait_frames(qtbot, window, 3, timeout=60000)
    thermal = window.preview.views["thermal"]
    qtbot.waitUntil(lambda: thermal.overlay.isVisible(), timeout=10000)
    qtbot.wait(2500)  # let the rates and the status panel settle
    thermal.hovered.emit("thermal", 330.0, 300.0)  # a readout in the status bar
    qtbot.wait(100)
    grabbed = window.grab()
    path = tmp_path / "screenshot-main.png"
    assert grabbed.save(str(path))
    if os.environ.get("THERMORIG_UPDATE_SCREENSHOT") == "1":
        REFERENCE.parent.mkdir(exist_ok=True)
        assert grabbed.save(str(REFERENCE))

    shot = _array(grabbed.toImage())
    assert shot.shape == (SIZE[1], SIZE[0], 3)
    rows, cols = _region(window, thermal.glw)
    view = shot[rows, cols].reshape(-1, 3)
    colours = np.unique(view[::7], axis=0)
    assert len(colours) > 200 and view.std() > 20, "the thermal view is blank"
    rows, cols = _region(window, window.preview.views["color"].glw)
    assert shot[rows, cols].std() > 20, "the RGB view is blank"

    assert REFERENCE.exists(), f"{REFERENCE} missing: run with THERMORIG_UPDATE_SCREENSHOT=1"
    ref = QtGui.QImage(str(REFERENCE))
    assert (ref.width(), ref.height()) == SIZE
    # Loose: the legs move and the figures change, but the layout and colours stay.
    small = [_array(i.scaled(72, 45)).astype(float) for i in (grabbed.toImage(), ref)]
    assert np.abs(small[0] - small[1]).mean() < 25.0
