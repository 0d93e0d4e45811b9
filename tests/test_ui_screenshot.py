"""The main window at a fixed size, on the full-size synthetic rig, compared with the
screenshot the README shows (``resources/screenshot-main.png``).

Set ``THERMORIG_UPDATE_SCREENSHOT=1`` to write a new reference instead (the test is
then skipped: see tests/screenshots.py).
"""

from pathlib import Path

import numpy as np
import pytest

from tests.screenshots import as_array, compare_with_reference, region
from tests.ui_support import make_window, wait_frames

REFERENCE = Path(__file__).resolve().parents[1] / "resources" / "screenshot-main.png"
SIZE = (1440, 900)


@pytest.mark.slow
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
    qtbot.waitUntil(lambda: thermal.overlay.isVisible(), timeout=30000)
    qtbot.wait(2500)  # let the rates and the status panel settle
    thermal.hovered.emit("thermal", 330.0, 300.0)  # a readout in the status bar
    qtbot.wait(100)
    grabbed = window.grab().toImage()

    shot = as_array(grabbed)
    assert shot.shape == (SIZE[1], SIZE[0], 3)
    rows, cols = region(window, thermal.glw)
    view = shot[rows, cols].reshape(-1, 3)
    colours = np.unique(view[::7], axis=0)
    assert len(colours) > 200 and view.std() > 20, "the thermal view is blank"
    rows, cols = region(window, window.preview.views["color"].glw)
    assert shot[rows, cols].std() > 20, "the RGB view is blank"

    # Measured over 12 runs: no cell outside the views differed from the reference
    # (figures change by a digit or two, under LEVEL), 1.7-5.7 % of the cells inside
    # them (the legs in another phase). Hiding the record panel turns 2.8 % outside,
    # hiding the controls dock 40 % inside; another colour map or a blank view fails
    # the views' colour figures (tests/screenshots.py).
    views = [region(window, v.glw) for v in window.preview.views.values()]
    compare_with_reference(
        grabbed, REFERENCE, tmp_path, max_changed=0.005, live=views, max_changed_live=0.12
    )
