"""The Controls column (source, recording, status) as a dock that scrolls.

On a laptop (1000×700, or a 768-pixel-high screen) the three panels are taller than
the window. Squeezed into too little height, Qt lays their rows over each other; a
scroll area instead keeps every panel at its natural height and scrolls. Its width is
fixed at build time from the panels' minimum (the labels in the panels wrap or are
cut to fit), so nothing a panel later says — a long file name after a recording —
widens the column and shifts the views.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6 import QtCore, QtWidgets

#: The column's least width; wider if a panel needs it (a large font).
MIN_WIDTH = 340


def controls_dock(window: QtWidgets.QMainWindow, panels: Sequence[QtWidgets.QWidget]):
    """A right-hand dock named "Controls" holding ``panels`` one above the other in a
    vertical scroll area; View › Controls shows and hides it."""
    side = QtWidgets.QWidget()
    side.setObjectName("controls-column")
    layout = QtWidgets.QVBoxLayout(side)
    layout.setContentsMargins(0, 0, 4, 0)
    for panel in panels:
        layout.addWidget(panel)
    layout.addStretch(1)

    scroll = QtWidgets.QScrollArea()
    scroll.setObjectName("controls-scroll")
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(side)
    bar = scroll.style().pixelMetric(QtWidgets.QStyle.PixelMetric.PM_ScrollBarExtent)
    scroll.setMinimumWidth(max(MIN_WIDTH, side.minimumSizeHint().width()) + bar)

    dock = QtWidgets.QDockWidget("Controls", window)
    dock.setObjectName("controls")
    dock.setWidget(scroll)
    features = QtWidgets.QDockWidget.DockWidgetFeature
    dock.setFeatures(
        features.DockWidgetMovable | features.DockWidgetFloatable | features.DockWidgetClosable
    )
    window.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, dock)
    return dock
