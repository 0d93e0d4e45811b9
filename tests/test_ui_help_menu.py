"""Help in both windows: the shortcut list is the keys that are bound, the docs are found
where thermorig is, and About names each bundled model's licence."""

import html
import json

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from app.labels.autolabel import autolabel
from app.ui.help_menu import DOCS_DIR, ShortcutDialog, about_text, docs_box
from app.ui.main import shortcuts as main_shortcuts
from app.ui.review.actions import ACTIONS, help_rows
from app.ui.review.launch import open_review
from app.ui.window_keys import key_text
from models.catalog import BUNDLED_DIR
from models.licences import bundled_licences
from tests.synthetic_sessions import session as synthetic_session
from tests.ui_support import make_window


def _bound(window: QtWidgets.QWidget) -> set[str]:
    """Every key sequence that does something in ``window``: its actions' shortcuts and
    any QShortcut, as the platform writes them."""
    fmt = QtGui.QKeySequence.SequenceFormat.NativeText
    keys = {
        seq.toString(fmt)
        for action in window.findChildren(QtGui.QAction)
        for seq in action.shortcuts()
        if not seq.isEmpty()
    }
    keys |= {s.key().toString(fmt) for s in window.findChildren(QtGui.QShortcut)}
    return keys


def _dialog_keys(dialog: ShortcutDialog) -> set[str]:
    table = dialog.table
    return {key for r in range(table.rowCount()) for key in table.item(r, 1).text().split(" / ")}


def _open_shortcuts(qtbot, window) -> ShortcutDialog:
    window.findChild(QtGui.QAction, "help-shortcuts").trigger()
    dialog = window.findChild(ShortcutDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.addWidget(dialog)
    return dialog


def test_main_window_shortcut_dialog_lists_exactly_the_bound_keys(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, None)
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus[-1] == "&Help"
    dialog = _open_shortcuts(qtbot, window)
    assert _dialog_keys(dialog) == _bound(window) != set()
    assert dialog.rows == main_shortcuts.rows()
    assert dialog.table.rowCount() == len(main_shortcuts.SHORTCUTS)
    dialog.close()
    # F1 opens the same list; M still sets a marker (bound through the table).
    qtbot.keyClick(window, QtCore.Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: window.findChild(ShortcutDialog) is not None, timeout=2000)


def test_review_window_shortcut_dialog_is_its_action_table(qtbot, tmp_path):
    session = synthetic_session(
        "cycling", 0.2, thermal_size=(160, 128), depth_size=(160, 120), color_size=(320, 180)
    )
    labels = tmp_path / "labels.h5"
    autolabel(session, labels, "truth", "truth")
    window = open_review(session, labels, curves=False)
    qtbot.addWidget(window, before_close_func=lambda w: w.dispose())
    window.show()
    dialog = _open_shortcuts(qtbot, window)
    assert dialog.rows == help_rows(window.store.classes)
    in_help = {k for a in ACTIONS if a.in_help for k in key_text(a.keys).split(" / ")}
    classes = {str(k) for k in range(min(len(window.store.classes), 10))}
    assert _dialog_keys(dialog) == in_help | classes
    # Every key the dialog lists is bound in the window (the class keys 0-9 included).
    assert _dialog_keys(dialog) <= _bound(window)


def test_about_names_every_bundled_models_licence(qtbot):
    text = about_text()
    licences = bundled_licences()
    names = {p.stem for p in BUNDLED_DIR.rglob("*.json")}
    assert {m.name for m in licences} == names and len(names) >= 5
    for m in licences:
        assert f"<td>{html.escape(m.name)}</td><td>{html.escape(m.licence)}</td>" in text
        assert "not stated" not in m.licence and "unknown" not in m.licence
    mediapipe = [m for m in licences if m.name.startswith("pose_")]
    assert mediapipe and all(m.licence.startswith("Apache-2.0") for m in mediapipe)
    trained = next(m for m in licences if m.name == "thermal-calf-seg")
    assert "MIT" in trained.licence and "trained by thermorig" in trained.licence
    assert "Python" in text and QtCore.qVersion() in text


def test_a_model_json_without_licence_says_so(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"provenance": {"source": "somewhere"}}))
    (tmp_path / "b.json").write_text("{broken")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.json").write_text(json.dumps({"provenance": {"licence": "BSD-3"}}))
    got = {m.name: m.licence for m in bundled_licences(tmp_path)}
    assert got == {
        "a": "not stated in its JSON",
        "b": "unknown (its JSON cannot be read)",
        "c": "BSD-3",
    }


@pytest.mark.parametrize("present", [True, False])
def test_documentation_points_at_the_docs_folder_or_says_it_is_missing(qtbot, tmp_path, present):
    folder = DOCS_DIR if present else tmp_path / "nothing"
    box = docs_box(None, folder)
    qtbot.addWidget(box)
    if present:
        assert str(DOCS_DIR) in box.text() and (DOCS_DIR / "architecture.md").is_file()
        assert any(b.text() == "Open folder" for b in box.buttons())
    else:
        assert "no docs/ folder" in box.text()
        assert not any(b.text() == "Open folder" for b in box.buttons())
