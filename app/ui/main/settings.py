"""What the window remembers between runs (QSettings): geometry, panels, last choices.

``w`` is the main window (:class:`app.ui.main.window.MainWindow`, which calls these);
it is typed as a plain QMainWindow so that this module does not import the window back.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

MainWindow = QtWidgets.QMainWindow


def restore_window(w: MainWindow) -> None:
    s: QtCore.QSettings = w.settings
    geometry = s.value("window/geometry")
    if isinstance(geometry, QtCore.QByteArray) and not geometry.isEmpty():
        w.restoreGeometry(geometry)
    else:
        w.resize(1440, 900)
    state = s.value("window/state")
    if isinstance(state, QtCore.QByteArray) and not state.isEmpty():
        w.restoreState(state)
    p = w.preview
    p.set_thermal_map(s.value("view/thermal_map", p.thermal_map, type=str))
    lo = s.value("view/thermal_lo", p.fixed_levels[0], type=float)
    hi = s.value("view/thermal_hi", p.fixed_levels[1], type=float)
    p.set_levels(s.value("view/thermal_auto", True, type=bool), lo, hi)
    r = w.record_panel
    r.folder.setText(s.value("record/folder", r.folder.text(), type=str))
    r.activity.setCurrentText(s.value("record/activity", r.activity.currentText(), type=str))
    r.subject.setText(s.value("record/subject", "", type=str))
    w.source_panel.set_recent(s.value("source/recent", [], type=list))
    for action in w.overlay_menu.actions():
        name = action.objectName().removeprefix("overlay-")
        action.setChecked(s.value(f"overlays/{name}", action.isChecked(), type=bool))
    w.model_menu.restore(s)  # a person's models and the RGB labeler (loaded in the background)


def save_window(w: MainWindow) -> None:
    s: QtCore.QSettings = w.settings
    s.setValue("window/geometry", w.saveGeometry())
    s.setValue("window/state", w.saveState())
    p = w.preview
    s.setValue("view/thermal_map", p.thermal_map)
    s.setValue("view/thermal_auto", p.auto_levels)
    s.setValue("view/thermal_lo", p.fixed_levels[0])
    s.setValue("view/thermal_hi", p.fixed_levels[1])
    r = w.record_panel
    s.setValue("record/folder", r.folder.text())
    s.setValue("record/activity", r.activity.currentText())
    s.setValue("record/subject", r.subject.text())
    for action in w.overlay_menu.actions():
        s.setValue(f"overlays/{action.objectName().removeprefix('overlay-')}", action.isChecked())
    w.model_menu.save(s)
    s.sync()
