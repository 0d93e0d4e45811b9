"""Choosing what to preview: synthetic scenes, session files, detected cameras; the rig."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from app.ui.views import MUTED
from drivers.sources import SCHEME_HELP

SYNTHETIC = ("synthetic:cycling", "synthetic:treadmill", "synthetic:calibration")
_SEPARATOR = " — "


class SourcePanel(QtWidgets.QGroupBox):
    """Emits ``source_chosen(spec)`` when a source is picked or typed (Enter),
    ``open_session()`` / ``load_rig()`` / ``detect()`` for the buttons."""

    source_chosen = QtCore.Signal(str)
    open_session = QtCore.Signal()
    load_rig = QtCore.Signal()
    detect = QtCore.Signal()

    def __init__(self, parent=None):
        super().__init__("Source", parent)
        self.combo = QtWidgets.QComboBox()
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QtWidgets.QComboBox.InsertPolicy.NoInsert)
        self.combo.setMinimumContentsLength(22)
        self.combo.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setToolTip("Pick a source or type a spec and press Enter:\n" + "\n".join(
            SCHEME_HELP.values()
        ))  # fmt: skip
        self.open_button = QtWidgets.QPushButton("Open session…")
        self.detect_button = QtWidgets.QPushButton("Detect cameras")
        self.state = QtWidgets.QLabel("")
        self.state.setWordWrap(True)
        self.rig_label = QtWidgets.QLabel("Rig: none")
        self.rig_label.setWordWrap(True)
        self.rig_label.setStyleSheet(f"color: {MUTED};")
        self.rig_button = QtWidgets.QPushButton("Load rig…")

        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.detect_button)
        rig = QtWidgets.QHBoxLayout()
        rig.addWidget(self.rig_label, 1)
        rig.addWidget(self.rig_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.combo)
        layout.addLayout(buttons)
        layout.addWidget(self.state)
        layout.addLayout(rig)

        self._devices: list[tuple[str, str]] = []
        self._recent: list[str] = []
        self._fill()
        self.combo.activated.connect(self._activated)
        self.combo.lineEdit().returnPressed.connect(self._typed)
        self.open_button.clicked.connect(self.open_session)
        self.detect_button.clicked.connect(self.detect)
        self.rig_button.clicked.connect(self.load_rig)

    # -- entries ----------------------------------------------------------------------
    def _fill(self, current: str = "") -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        for spec in SYNTHETIC:
            self.combo.addItem(spec, spec)
        for spec, name in self._devices:
            self.combo.addItem(f"{spec}{_SEPARATOR}{name}", spec)
        for spec in self._recent:
            self.combo.addItem(spec, spec)
        if current:
            i = self.combo.findData(current)
            if i < 0:
                self.combo.addItem(current, current)
                i = self.combo.count() - 1
            self.combo.setCurrentIndex(i)
        self.combo.blockSignals(False)

    def set_devices(self, devices: list[tuple[str, str]]) -> None:
        """Detected cameras as (spec, description)."""
        self._devices = list(devices)
        self._fill(self.current_spec())

    def set_recent(self, specs: list[str]) -> None:
        self._recent = [s for s in specs if s not in SYNTHETIC]
        self._fill(self.current_spec())

    def set_current(self, spec: str) -> None:
        self._fill(spec)

    def current_spec(self) -> str:
        data = self.combo.currentData()
        return str(data) if data else self.combo.currentText().split(_SEPARATOR)[0].strip()

    def _activated(self, index: int) -> None:
        spec = self.combo.itemData(index)
        if spec:
            self.source_chosen.emit(str(spec))

    def _typed(self) -> None:
        text = self.combo.currentText().split(_SEPARATOR)[0].strip()
        if text:
            self.source_chosen.emit(text)

    # -- state ------------------------------------------------------------------------
    def set_state(self, text: str) -> None:
        self.state.setText(text)

    def set_rig(self, text: str) -> None:
        self.rig_label.setText(f"Rig: {text}")

    def set_busy(self, recording: bool) -> None:
        """No source switching while recording: the recording owns the source."""
        for w in (self.combo, self.open_button, self.detect_button, self.rig_button):
            w.setEnabled(not recording)


def replay_spec(path: str | Path) -> str:
    return f"replay:{Path(path).expanduser().absolute()}"
