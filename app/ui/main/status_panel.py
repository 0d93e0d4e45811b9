"""What a person watches to trust a session: per-stream delivery, sync, preview, stages."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from app.live.capture import CaptureStats
from app.live.stages import StageStats
from app.ui.views import MUTED

#: Column titles, short so that the tables fit a narrow column; the tooltips say more.
STREAM_COLUMNS = {
    "stream": "",
    "fps": "frames per second delivered (measured)",
    "frames": "frames delivered since the source opened",
    "drops": "frames the camera numbered but never delivered, or gaps in time",
    "dup": "duplicates: frames whose pixels equal the previous one",
    "offset": "ms from the pivot's frame in each set: mean ± standard deviation",
}
STAGE_COLUMNS = {
    "overlay": "",
    "rate": "results per second",
    "ms": "time per result (ms)",
    "age": "ms from the frame an overlay was computed from to the frame it is drawn on",
    "errors": "results that failed (the last error: the row's tooltip)",
}


def _table(columns: dict[str, str]) -> QtWidgets.QTableWidget:
    t = QtWidgets.QTableWidget(0, len(columns))
    t.setHorizontalHeaderLabels(list(columns))
    for col, tip in enumerate(columns.values()):
        t.horizontalHeaderItem(col).setToolTip(tip)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
    t.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
    header = t.horizontalHeader()
    header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
    header.setMinimumSectionSize(30)
    header.setStyleSheet("QHeaderView::section { padding: 2px 2px; }")
    t.verticalHeader().setDefaultSectionSize(22)
    t.setWordWrap(False)
    t.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    # A scroll bar would cover the last row: the column is made wide enough instead.
    t.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return t


def _fit(table: QtWidgets.QTableWidget) -> None:
    """Exactly as tall as its rows: the column scrolls, not the table. The header's
    size hint, not its height, which is 0 until the table was first shown."""
    header = table.horizontalHeader()
    h = max(header.height(), header.sizeHint().height()) + 2 * table.frameWidth()
    h += sum(table.rowHeight(r) for r in range(table.rowCount()))
    table.setFixedHeight(h)


def short_title(title: str) -> str:
    """A stage's title without its parenthesis ("Projected labels (RGB → thermal)" →
    "Projected labels"): the narrow table shows this, the tooltip all of it."""
    return title.split(" (", 1)[0]


def _set_row(table: QtWidgets.QTableWidget, row: int, values: list[str], tip: str = "") -> None:
    for col, text in enumerate(values):
        item = table.item(row, col)
        if item is None:
            item = QtWidgets.QTableWidgetItem()
            align = QtCore.Qt.AlignmentFlag.AlignRight if col else QtCore.Qt.AlignmentFlag.AlignLeft
            item.setTextAlignment(align | QtCore.Qt.AlignmentFlag.AlignVCenter)
            table.setItem(row, col, item)
        if item.text() != text:
            item.setText(text)
        item.setToolTip(tip)


class StatusPanel(QtWidgets.QGroupBox):
    """Tables of per-stream and per-stage figures plus one line each for sync and preview."""

    def __init__(self, parent=None):
        super().__init__("Status", parent)
        self.streams = _table(STREAM_COLUMNS)
        self.stages = _table(STAGE_COLUMNS)
        self.sync = QtWidgets.QLabel("")
        self.preview = QtWidgets.QLabel("")
        for label in (self.sync, self.preview):
            label.setStyleSheet(f"color: {MUTED};")
            label.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.streams)
        layout.addWidget(self.sync)
        layout.addWidget(self.stages)
        layout.addWidget(self.preview)
        layout.addStretch(1)

    def show_capture(self, stats: CaptureStats) -> None:
        names = list(stats.health)
        if self.streams.rowCount() != len(names):
            self.streams.setRowCount(len(names))
            _fit(self.streams)
        offsets = stats.sync.get("offset_ms", {})
        for row, name in enumerate(names):
            h = stats.health[name]
            off = offsets.get(name)
            offset = "pivot" if name == stats.sync.get("pivot") else "–"
            if off is not None:
                offset = f"{off['mean']:+.1f} ± {off['std']:.1f}"
            values = [name, f"{h.fps:.1f}", str(h.frames), str(h.drops), str(h.duplicates), offset]
            _set_row(self.streams, row, values, h.fault)
        sync = stats.sync
        if sync:
            sets, complete = sync.get("sets", 0), sync.get("complete_sets", 0)
            pct = 100.0 * complete / sets if sets else 0.0
            missing = sum(sync.get("missing", {}).values())
            self.sync.setText(
                f"sync: pivot {sync.get('pivot')}, ±{1e3 * sync.get('tolerance_s', 0):.1f} ms · "
                f"{sets} sets, {pct:.0f}% complete, {missing} partners missing · "
                f"{stats.set_rate:.1f} sets/s"
            )

    def show_stages(self, stages: list[StageStats]) -> None:
        if self.stages.rowCount() != len(stages):
            self.stages.setRowCount(len(stages))
            _fit(self.stages)
        for row, s in enumerate(stages):
            name = short_title(s.title)
            if not s.enabled:
                values = [name, "off", "", "", str(s.errors)]
            elif " off: " in s.note:  # the stage runs but cannot draw (e.g. no rig)
                values = [name, "off", f"{s.busy_ms:.1f}", "", str(s.errors)]
            else:
                values = [
                    name,
                    f"{s.rate:.1f}/s",
                    f"{s.busy_ms:.1f}",
                    f"{s.latency_ms:.0f}",
                    str(s.errors),
                ]
            tip = "\n".join(t for t in (s.title, s.last_error or s.note) if t)
            _set_row(self.stages, row, values, tip)

    def show_preview(self, fps: float, longest_stall_ms: float, frames: int) -> None:
        self.preview.setText(
            f"preview: {fps:.1f} frames/s shown · {frames} shown · "
            f"longest GUI stall {longest_stall_ms:.0f} ms since the first frame"
        )
