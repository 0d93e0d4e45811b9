"""The rig check's verdict in the toolbar: ok, drifted by X°, a clock off by Y ms.

:mod:`app.live.rig_watch` runs the check on the first seconds of a source with a rig;
this button only paints its verdict (green, amber, grey; the details in the tooltip)
and, for a drifted rig, offers the refined one: a click asks whether to use it (and
to save it as a new file), and ``use_refined`` carries it to the window, which puts it
in force. The rig file it came from is never touched.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from app.live.rig_watch import RigVerdict
from app.ui.views import MUTED
from calibration.rig import Rig

#: Badge colours per state: (background, text).
COLOURS = {
    "ok": ("#1e7e34", "white"),
    "drifted": ("#f2a900", "#1d1d1d"),
    "checking": ("transparent", MUTED),
    "unchecked": ("transparent", MUTED),
}


class RigBadge(QtWidgets.QToolButton):
    """Emits ``use_refined(rig, origin)`` when the person takes the refined rig."""

    use_refined = QtCore.Signal(object, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("rig-badge")
        self.setAutoRaise(True)
        self.verdict: RigVerdict | None = None
        self.clicked.connect(self._offer)
        self._action: QtGui.QAction | None = None

    def place_on(self, toolbar: QtWidgets.QToolBar) -> None:
        """Add the badge to ``toolbar``, hidden until there is a verdict (a toolbar's
        widget is shown and hidden through its action, not by itself)."""
        self._action = toolbar.addWidget(self)
        self._action.setVisible(False)

    def show_verdict(self, verdict: RigVerdict | None) -> None:
        self.verdict = verdict
        shown = verdict is not None and verdict.state != "none"
        if self._action is not None:
            self._action.setVisible(shown)
        if verdict is None:
            return
        background, colour = COLOURS.get(verdict.state, COLOURS["unchecked"])
        self.setStyleSheet(
            f"QToolButton#rig-badge {{ background: {background}; color: {colour};"
            " border-radius: 3px; padding: 2px 8px; font-weight: bold; }"
        )
        text = verdict.text
        tip = verdict.detail or verdict.text
        if verdict.state == "drifted" and verdict.result is not None:
            text += " — use refined…"
            tip += "\n\nClick to use the rig the check refined (your rig file is kept)."
        self.setText(text)
        self.setToolTip(tip)

    def _offer(self) -> None:
        verdict = self.verdict
        if verdict is None or verdict.state != "drifted" or verdict.result is None:
            return
        box = QtWidgets.QMessageBox(self.window())
        box.setObjectName("rig-refined-box")
        box.setIcon(QtWidgets.QMessageBox.Icon.Question)
        box.setWindowTitle("Use the refined rig?")
        box.setText(f"The rig check found the {verdict.text}.")
        box.setInformativeText(
            "Use the rig it refined from these frames for the projected labels? The rig "
            "file you loaded is not changed."
        )
        box.setDetailedText(verdict.detail)
        use = box.addButton("Use", QtWidgets.QMessageBox.ButtonRole.AcceptRole)
        save = box.addButton("Use and save as…", QtWidgets.QMessageBox.ButtonRole.ActionRole)
        box.addButton(QtWidgets.QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(use)
        box.exec()
        refined: Rig = verdict.result.refined
        clicked = box.clickedButton()
        if clicked == use:
            self.use_refined.emit(refined, "refined by the rig check (not saved)")
        elif clicked == save:
            path = self._save(refined)
            if path is not None:
                self.use_refined.emit(refined, f"file {path.name} (refined by the rig check)")

    def _save(self, rig: Rig) -> Path | None:
        """Ask where and write the refined rig (the dialog asks before replacing)."""
        chosen, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.window(), "Save the refined rig", str(Path.home() / "rig-refined.json"),
            "Rig files (*.json)",
        )  # fmt: skip
        if not chosen:
            return None
        try:
            rig.save(chosen)
        except OSError as exc:
            QtWidgets.QMessageBox.warning(
                self.window(), "Cannot save rig", f"cannot write {chosen}: {exc.strerror or exc}"
            )
            return None
        return Path(chosen)
