"""The Help menu both windows share: keyboard shortcuts, the documentation, About.

Each window hands in its own shortcut rows, made from the table its keys are bound
from (:mod:`app.ui.main.shortcuts`, :mod:`app.ui.review.actions`), so the list can
never promise a key that does something else. Documentation is the ``docs/`` folder
that came with thermorig (nothing is downloaded); About names the versions a bug
report needs and the licence of every bundled model.
"""

from __future__ import annotations

import html
import platform
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from models.licences import bundled_licences, project_licence

#: (group, keys, what they do): one row of a shortcut list.
Row = tuple[str, str, str]
#: Where the documentation sits in a checkout or an editable install.
DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"


def add_help_menu(
    window: QtWidgets.QMainWindow, title: str, rows: Callable[[], Sequence[Row]]
) -> QtWidgets.QMenu:
    """A Help menu on ``window``'s menu bar; ``title`` names the window in the
    shortcut dialog ("Main window", "Review")."""
    menu = window.menuBar().addMenu("&Help")
    menu.setObjectName("help-menu")
    shortcuts = menu.addAction("&Keyboard shortcuts…")
    shortcuts.setObjectName("help-shortcuts")
    shortcuts.triggered.connect(lambda: ShortcutDialog(window, title, rows()).open())
    docs = menu.addAction("&Documentation…")
    docs.setObjectName("help-docs")
    docs.triggered.connect(lambda: docs_box(window).open())
    menu.addSeparator()
    about = menu.addAction("&About thermorig…")
    about.setObjectName("help-about")
    about.triggered.connect(lambda: about_box(window).open())
    return menu


class ShortcutDialog(QtWidgets.QDialog):
    """Every shortcut of one window in a table: group, keys, what they do."""

    def __init__(self, parent: QtWidgets.QWidget, title: str, rows: Sequence[Row]):
        super().__init__(parent)
        self.setObjectName("shortcut-dialog")
        self.setWindowTitle(f"Keyboard shortcuts — {title}")
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        self.rows = list(rows)
        table = QtWidgets.QTableWidget(len(self.rows), 3)
        table.setObjectName("shortcut-table")
        table.setHorizontalHeaderLabels(["Group", "Keys", "Action"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        for r, row in enumerate(self.rows):
            for c, text in enumerate(row):
                table.setItem(r, c, QtWidgets.QTableWidgetItem(text))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        self.table = table
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(560, min(120 + 26 * len(self.rows), 600))


def docs_box(parent: QtWidgets.QWidget, folder: Path = DOCS_DIR) -> QtWidgets.QMessageBox:
    """Where the documentation is, with a button that opens the folder (if it is
    there); an installation without it is told where to find it instead."""
    box = QtWidgets.QMessageBox(parent)
    box.setObjectName("docs-box")
    box.setWindowTitle("thermorig documentation")
    box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    if folder.is_dir():
        box.setText(
            f"The documentation is in\n{folder}\n\nStart with README.md (file formats),"
            " architecture.md and commands.md (every command and option)."
        )
        button = box.addButton("Open folder", QtWidgets.QMessageBox.ButtonRole.ActionRole)
        button.clicked.connect(
            lambda: QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(folder)))
        )
    else:
        box.setText(
            "This installation has no docs/ folder. The documentation is the docs/ folder"
            " of the thermorig source tree; `thermorig COMMAND --help` describes every"
            " command."
        )
    box.addButton(QtWidgets.QMessageBox.StandardButton.Close)
    return box


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def about_text() -> str:
    """Versions (thermorig, Python, Qt and the libraries a bug report needs) and the
    licence of each bundled model, as rich text."""
    import PySide6

    versions = [
        ("thermorig", _version("thermorig")),
        ("Python", f"{platform.python_version()} ({sys.platform})"),
        ("Qt", QtCore.qVersion()),
        ("PySide6", PySide6.__version__),
    ]
    versions += [(d, _version(d)) for d in ("pyqtgraph", "numpy", "onnxruntime", "h5py")]
    lines = [
        "<h3>thermorig</h3>",
        "<p>Record, calibrate and label a thermal + depth + RGB camera rig.<br>"
        f"Licence: {html.escape(project_licence())}</p>",
        "<table>",
        *(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in versions),
        "</table><h4>Bundled models</h4><table>",
    ]
    for m in bundled_licences():
        lines.append(f"<tr><td>{html.escape(m.name)}</td><td>{html.escape(m.licence)}</td></tr>")
    lines.append("</table>")
    return "".join(lines)


def about_box(parent: QtWidgets.QWidget) -> QtWidgets.QMessageBox:
    box = QtWidgets.QMessageBox(parent)
    box.setObjectName("about-box")
    box.setWindowTitle("About thermorig")
    box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setTextFormat(QtCore.Qt.TextFormat.RichText)
    box.setText(about_text())
    box.addButton(QtWidgets.QMessageBox.StandardButton.Close)
    return box
