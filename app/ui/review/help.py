"""The review window's help overlay: every shortcut, from the one action table.

A translucent panel over the window (not a dialog: keys keep working while it is up,
so a person can try a key while reading about it). Made from
:func:`app.ui.review.actions.help_rows`, so it cannot drift from what the keys do.
"""

from __future__ import annotations

import html

from PySide6 import QtCore, QtGui, QtWidgets

from app.ui.review.actions import help_rows

GROUPS = ("Frames", "Review", "Tools", "Edit", "View", "Classes")


class HelpOverlay(QtWidgets.QWidget):
    """Covers its parent (the whole window, so that the table fits at 1000x700);
    hidden until :meth:`toggle`. A click anywhere hides it."""

    def __init__(self, parent: QtWidgets.QWidget, classes: list[str]):
        super().__init__(parent)
        self.setObjectName("review-help")
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(
            "#review-help { background: rgba(14, 16, 20, 222); }"
            "QLabel { color: #d7dbe2; background: transparent; }"
        )
        self.rows = help_rows(classes)
        columns = QtWidgets.QHBoxLayout()
        columns.setSpacing(28)
        self.columns: list[QtWidgets.QLabel] = []
        # Three columns of groups, so the whole table fits a laptop screen.
        for part in (GROUPS[:2], GROUPS[2:3], GROUPS[3:]):
            label = QtWidgets.QLabel(self._html(part))
            label.setTextFormat(QtCore.Qt.TextFormat.RichText)
            label.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
            # Long texts wrap inside their column instead of running under the next
            # one: at 1000 px a column is about 300 px wide.
            label.setWordWrap(True)
            label.setSizePolicy(
                QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred
            )
            columns.addWidget(label, 1)
            self.columns.append(label)
        title = QtWidgets.QLabel("<h2>Review shortcuts</h2>")
        footer = QtWidgets.QLabel(
            "Each stroke, fill and status change is one undo step, on disk when it ends."
            "  Closing the window saves.  H, F1 or a click closes this help."
        )
        footer.setStyleSheet("color: #8a93a3;")
        footer.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(32, 20, 32, 20)
        layout.addWidget(title)
        layout.addLayout(columns)
        layout.addStretch(1)
        layout.addWidget(footer)
        self.hide()
        parent.installEventFilter(self)

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802
        if obj is self.parentWidget() and event.type() == QtCore.QEvent.Type.Resize:
            self.setGeometry(self.parentWidget().rect())
        return super().eventFilter(obj, event)

    def _html(self, groups: tuple[str, ...]) -> str:
        """One table per column (keys aligned across its groups), a header row per group."""
        rows = []
        for group in groups:
            mine = [r for r in self.rows if r[0] == group]
            if not mine:
                continue
            rows.append(
                "<tr><td colspan='2' style='color:#8fb8ff; font-weight:600;"
                f" padding:12px 0 4px 0'>{html.escape(group)}</td></tr>"
            )
            rows += [
                "<tr><td style='padding:2px 16px 2px 0; color:#ffd27a; white-space:nowrap'>"
                f"<b>{html.escape(keys)}</b></td><td style='padding:2px 0'>"
                f"{html.escape(text)}</td></tr>"
                for _, keys, text in mine
            ]
        return f"<table>{''.join(rows)}</table>"

    def toggle(self) -> None:
        self.setVisible(not self.isVisible())
        if self.isVisible():
            self.setGeometry(self.parentWidget().rect())
            self.raise_()

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 - Qt API
        self.hide()
        event.accept()
