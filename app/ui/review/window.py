"""The review window: go through a session's labels frame by frame, worst first,
accept, fix or reject them, keyboard first.

It edits one stream at a time — the thermal labels, or the RGB side (keyframes a
person paints for ``thermorig propagate``): R switches, the edited view large, the
other beside it (:mod:`app.ui.review.sides`), timeline and queue following the
edited stream. The window only wires things together: the session's frames come from
:class:`~app.review.frames.ReviewFrames`, the labels from a
:class:`~app.labels.store.LabelStore` (every edit journaled, one undo step each), the
mouse tools from :class:`~app.ui.review.canvas.ReviewCanvas`, and every command and
its keys from the table in :mod:`app.ui.review.actions`. Closing saves, and says so
(:attr:`ReviewWindow.closing_note`). Frame numbers shown count from 1
(:mod:`app.review.texts`), as in the main window.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from app.display import THERMAL_MAPS, colormap_lut
from app.labels.sidecar import STATUS_UNREVIEWED, LabelsError
from app.labels.store import LabelStore
from app.review.editor import TOOLS
from app.review.frames import ReviewFrames
from app.review.overlay import OPACITY_STEPS
from app.review.streams import TITLES, open_stream, other_stream
from app.review.texts import frame_text, opening_note, saved_note
from app.ui.help_menu import add_help_menu
from app.ui.review import panels as review_panels
from app.ui.review.actions import help_rows, install
from app.ui.review.cursor import CursorReadout
from app.ui.review.curves_dock import CurvesDock
from app.ui.review.effort import EffortWatcher
from app.ui.review.help import HelpOverlay
from app.ui.review.sides import Sides
from app.ui.review.timeline import SOURCE_COLOURS, STATUS_COLOURS
from drivers.errors import ThermorigError

STREAM = "thermal"  # the pivot: the label file's thermal rows are the session's frames
#: The smallest size the window is laid out for (a laptop screen with a task bar).
MIN_SIZE = (1000, 700)


class ReviewWindow(QtWidgets.QMainWindow):
    """Review of ``store``'s labels over the frames of ``frames``' session, ``stream``
    edited first (thermal or color: :func:`~app.review.streams.open_stream` first);
    ``curves``: compute the temperature curves at open (in the background)."""

    def __init__(
        self,
        frames: ReviewFrames,
        store: LabelStore,
        parent=None,
        *,
        curves: bool = True,
        stream: str = STREAM,
    ):
        super().__init__(parent)
        self.setObjectName("review-window")
        self.frames, self.store = frames, store
        if store.count(STREAM) != frames.count:
            raise LabelsError(
                f"{store.path} has {store.count(STREAM)} {STREAM} rows but the session has"
                f" {frames.count} frames; give the labels of this session"
            )
        self.index = -1
        self.errors: list[str] = []
        self.closed = False
        self.levels_c = frames.levels_c()
        self.lut = colormap_lut(THERMAL_MAPS[0])
        self.stream = stream
        self.confidence = store.frame_confidence(stream)
        self._thermal: np.ndarray | None = None
        self._opacity = 0
        #: Edit steps since the last save (a recovered journal's included).
        self.edits = len(store.history.undo) if store.dirty else 0
        #: What closing did to the file, one line ("saved 3 edits to X.labels.h5").
        self.closing_note = ""
        self._build()
        self.effort = EffortWatcher(self)  # active review seconds per frame, journaled
        self.actions_by_name = install(self)
        self._tool_group()
        self.set_class(1 if len(store.classes) > 1 else 0)
        self.sides.set_stream(stream)
        self._refresh_rows()
        threading.Thread(target=frames.prepare_cursor, daemon=True).start()
        first = int(self.store.queue(stream)[0]) if self.count else 0
        self.go_to(first)
        self.opening_note = opening_note(
            self.store.status(stream), self.store.source(stream), self.confidence, first
        )
        self.note.setText(self.opening_note)
        if curves:
            QtCore.QTimer.singleShot(0, self, self.curves_dock.compute)
        if store.recovery_note:  # a damaged or outdated journal: say what came back
            QtCore.QTimer.singleShot(0, self, lambda: self.show_error(store.recovery_note))
        if parent is not None:  # a window opened from the main window closes (saves) with it
            parent.installEventFilter(self)

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802
        if obj is self.parentWidget() and event.type() == QtCore.QEvent.Type.Close:
            self.close()
        return super().eventFilter(obj, event)

    # -- layout -----------------------------------------------------------------------
    @property
    def canvas(self):
        """The view being edited (thermal or RGB), with the mouse tools."""
        return self.sides.edited

    @property
    def count(self) -> int:
        """Frames of the edited stream (the label file's rows of it)."""
        return self.store.count(self.stream)

    def _build(self) -> None:
        self.sides = Sides(self)
        self.thermal_view, self.rgb = self.sides.thermal, self.sides.rgb
        self.thermal_view.set_colour_bar(self.lut, *self.levels_c)
        review_panels.central(self, self.sides.split)
        self.setMinimumSize(*MIN_SIZE)
        self.help = HelpOverlay(self, self.store.classes)
        add_help_menu(self, "Review", lambda: help_rows(self.store.classes))
        self.toolbar = review_panels.tool_bar(self, self.store.classes)
        self.addToolBar(self.toolbar)
        self.readout = QtWidgets.QLabel("")
        self.statusBar().addPermanentWidget(self.readout)
        self.curves_dock = CurvesDock(self)
        self.plot = self.curves_dock.plot
        self.cursor_readout = CursorReadout(self, self.readout)
        for view in self.sides.views.values():
            view.edited.connect(self._commit)
            view.hovered.connect(self.cursor_readout.hovered)
            view.left.connect(self.cursor_readout.left)
        self.timeline.seek.connect(self.go_to)

    def _tool_group(self) -> None:
        group = QtGui.QActionGroup(self)
        for tool in TOOLS:
            action = self.actions_by_name[tool]
            action.setCheckable(True)
            group.addAction(action)
        self.actions_by_name["brush"].setChecked(True)
        for name in ("stream", "accept", "reject", "unreview", "propagate", "undo", "redo", "save"):
            self.toolbar.addAction(self.actions_by_name[name])
        review_panels.add_tools(self.toolbar, self.actions_by_name, TOOLS)

    # -- frames -----------------------------------------------------------------------
    def go_to(self, i: int) -> None:
        """Show frame ``i`` of the edited stream: image, mask, the other stream's frame
        beside it (nearest in time), timeline mark, figures."""
        if not 0 <= i < self.count:
            return
        self.canvas.release()  # a stroke under way commits to its frame: before index moves
        self.index = i
        thermal = self.stream == STREAM
        try:
            image = self.sides.frame(i)
            mask = self.sides.mask(i)
        except (ThermorigError, OSError) as exc:
            self.show_error(f"cannot show {frame_text(i)}: {exc}")
            return
        self._thermal = image if thermal else None
        first = self.canvas.image_shape is None
        look = (self.levels_c, self.lut) if thermal else (None, None)
        self.canvas.show_frame(image, mask, *look)
        self.sides.follow(i)  # drawn once this view is: the costlier read comes second
        if first:
            self.reset_zoom()
        elif self.note.text() == getattr(self, "opening_note", None) and self._sources_known():
            self.note.setText("")  # the reason for the first frame: said, now moved on
        self.timeline.set_current(i)
        if (t := self.thermal_index) >= 0:
            self.plot.set_current(t)
        self._show_info()
        self._refresh_readout()

    @property
    def thermal_index(self) -> int:
        """The thermal frame shown (edited, or nearest in time to the edited RGB frame)."""
        return self.frames.match(self.stream, STREAM, self.index) if self.index >= 0 else -1

    def go_to_thermal(self, t: int) -> None:
        """Thermal frame ``t`` (a click on the curves), or the edited frame nearest it."""
        j = self.frames.match(STREAM, self.stream, t)
        self.go_to(j if j >= 0 else self.index)

    def _sources_known(self) -> bool:
        """Some frame is labeled (the "no labels yet" note stays while none is)."""
        return bool(self.store.source(self.stream).any())

    def switch_stream(self) -> None:
        """Edit the other stream (thermal ↔ RGB) at the frame nearest in time; a label
        file without RGB labels gains unlabeled RGB rows."""
        stream = other_stream(self.stream)
        try:
            added = open_stream(self.frames, self.store, stream)
        except (ThermorigError, OSError) as exc:
            self.show_error(f"cannot edit the {TITLES[stream]} labels: {exc}")
            return
        self.canvas.release()
        j = self.frames.match(self.stream, stream, self.index)
        self._set_stream(stream, max(j, 0))
        self.statusBar().showMessage(added or f"editing the {TITLES[stream]} labels", 6000)

    def _set_stream(self, stream: str, i: int) -> None:
        look = self.canvas.mask_overlay
        self.stream, self.index = stream, -1
        self.sides.set_stream(stream)
        self.confidence = self.store.frame_confidence(stream)
        self._refresh_rows()
        self.go_to(i)
        if look is not None:  # opacity and contour mode carry over
            self.canvas.set_look(look.fill_alpha, look.contour)

    def step(self, delta: int) -> None:
        self.go_to(int(np.clip(self.index + delta, 0, self.count - 1)))

    def go_first(self) -> None:
        self.go_to(0)

    def go_last(self) -> None:
        self.go_to(self.count - 1)

    def next_unreviewed(self) -> None:
        j = self.store.next_unreviewed(self.stream, self.index)
        if j is None:
            self.statusBar().showMessage("every frame is reviewed", 4000)
        else:
            self.go_to(j)

    def next_in_queue(self) -> None:
        """The worst unreviewed frame other than this one (lowest transfer confidence)."""
        status = self.store.status(self.stream)
        for j in self.store.queue(self.stream):
            if int(j) != self.index and status[j] == STATUS_UNREVIEWED:
                self.go_to(int(j))
                return
        self.statusBar().showMessage("no other unreviewed frame", 4000)

    # -- review -----------------------------------------------------------------------
    def accept(self) -> None:
        self._edit(lambda: self.store.accept(self.stream, self.index), "accepted")

    def reject(self) -> None:
        self._edit(lambda: self.store.reject(self.stream, self.index), "rejected")

    def unreview(self) -> None:
        self._edit(
            lambda: self.store.set_status(self.stream, self.index, STATUS_UNREVIEWED), "unreviewed"
        )

    def propagate(self) -> None:
        if self.index < 1:
            self.statusBar().showMessage("the first frame has no previous frame", 4000)
            return
        if self._edit(lambda: self.store.propagate(self.stream, self.index - 1, self.index), ""):
            self._reload_mask()
            self.statusBar().showMessage(f"mask of {frame_text(self.index - 1)} copied", 3000)

    def _commit(self, name: str) -> None:
        """A finished stroke or fill: the working copy becomes one step of the store."""
        work = self.canvas.editor.work  # the store keeps only a copy of the changed box
        if work is not None and not self._edit(
            lambda: self.store.set_mask(self.stream, self.index, work, label=name), ""
        ):
            self._reload_mask()  # refused: show what the store holds
        self._refresh_readout()  # the class under the cursor may be another now

    def _edit(self, change, message: str) -> bool:
        try:
            changed = change()
        except (ThermorigError, OSError) as exc:
            self.show_error(str(exc))
            return False
        self._changed(self.stream, self.index, changed)
        self._show_info()
        if message:
            self.statusBar().showMessage(f"{frame_text(self.index)} {message}", 3000)
        return changed

    def _changed(self, stream: str, frame: int, changed: bool = True) -> None:
        """One edit step done (or undone) on ``frame``: rows, title, curves follow."""
        self.sides.forget_masks()  # the masks read ahead may be older than this step
        if changed:
            self.edits += 1
            if stream == STREAM:  # the curves are the thermal frames' temperatures
                self.curves_dock.edited([frame])
        self._refresh_rows()

    def undo(self) -> None:
        self._history(self.store.undo, "nothing to undo")

    def redo(self) -> None:
        self._history(self.store.redo, "nothing to redo")

    def _history(self, step, empty: str) -> None:
        self.canvas.release()  # a stroke under way is one step of its own first
        try:
            where = step()
        except (ThermorigError, OSError) as exc:
            self.show_error(str(exc))
            return
        if where is None:
            self.statusBar().showMessage(empty, 3000)
            return
        stream, frame = where
        self._changed(stream, frame)
        if stream != self.stream:  # undo shows what it undid: on the other stream too
            self._set_stream(stream, frame)
        elif frame != self.index:
            self.go_to(frame)
        else:
            self._reload_mask()
            self._show_info()
            self._refresh_readout()

    def _reload_mask(self) -> None:
        self.canvas.editor.load(self.store.mask(self.stream, self.index), self._thermal)
        self.canvas.redraw()

    def save(self) -> None:
        try:
            self.store.save()
        except (ThermorigError, OSError) as exc:
            self.show_error(f"could not save: {exc}; every edit stays in the journal")
            return
        self._refresh_rows()
        self.statusBar().showMessage(saved_note(self.edits, self.store.path), 6000)
        self.edits = 0

    # -- tools and view ---------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        self.canvas.set_tool(tool)
        self.actions_by_name[tool].setChecked(True)
        self._show_info()
        if tool == "wand" and self.stream != STREAM:
            self.statusBar().showMessage("the wand selects by temperature: thermal only", 4000)

    def set_class(self, k: int) -> None:
        if not 0 <= k < len(self.store.classes):
            self.statusBar().showMessage(f"no class {k}: this file has {self.store.classes}", 4000)
            return
        self.canvas.editor.value = k
        review_panels.show_class(self.toolbar, k)
        self._show_info()

    def grow(self, steps: int) -> None:
        self.statusBar().showMessage(self.canvas.editor.grow(steps), 2000)
        self._show_info()

    def close_polygon(self) -> None:
        self.canvas.close_polygon()

    def cancel(self) -> None:
        if self.help.isVisible():
            self.help.hide()
        self.canvas.cancel()

    def cycle_opacity(self) -> None:
        self._opacity = (self._opacity + 1) % len(OPACITY_STEPS)
        self.canvas.set_look(OPACITY_STEPS[self._opacity], self.canvas.mask_overlay.contour)

    def toggle_contour(self) -> None:
        look = self.canvas.mask_overlay
        self.canvas.set_look(look.fill_alpha, not look.contour)

    def reset_zoom(self) -> None:
        """Fit the frames to their views again (and keep them fitted while resizing)."""
        self.sides.reset_zoom()

    def toggle_help(self) -> None:
        self.help.toggle()

    # -- text -------------------------------------------------------------------------
    def _refresh_rows(self) -> None:
        stream = self.stream
        self.timeline.set_data(
            self.store.status(stream), self.store.source(stream), self.confidence
        )
        self._title()

    def _title(self) -> None:
        mark = " (edited, journaled — not yet saved)" if self.store.dirty else ""
        self.setWindowTitle(f"{Path(self.store.path).name}{mark} — thermorig review")

    def _show_info(self) -> None:
        i = self.index
        if i < 0:
            return
        status, source = self.store.status(self.stream)[i], self.store.source(self.stream)[i]
        conf = self.confidence[i]
        ed = self.canvas.editor
        size = f"±{ed.tolerance_c:g} °C" if ed.tool == "wand" else f"radius {ed.radius} px"
        cls = self.store.classes[ed.value] if ed.value < len(self.store.classes) else ed.value
        self.info.setText(
            f"{'' if self.stream == STREAM else 'RGB '}{frame_text(i)} of {self.count}"
            f" · {STATUS_COLOURS[int(status)][1]}"
            f" · {SOURCE_COLOURS.get(int(source), ('', '?'))[1]}"
            f" · confidence {'—' if np.isnan(conf) else f'{conf:.2f}'}"
            f"      tool {ed.tool} ({size}) · class {ed.value} {cls}"
        )

    def _refresh_readout(self) -> None:
        self.cursor_readout.refresh()

    def show_error(self, message: str) -> None:
        """Tell the person (status bar and a window-modal box); never raise."""
        self.errors.append(message)
        self.statusBar().showMessage(message, 15000)
        box = QtWidgets.QMessageBox(self)
        box.setIcon(QtWidgets.QMessageBox.Icon.Warning)
        box.setWindowTitle("Review")
        box.setText(message)
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # -- closing ----------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt API
        self.dispose()
        super().closeEvent(event)

    def dispose(self) -> None:
        """Save (or keep the journal and say so), close the files, free the views."""
        if self.closed:
            return
        self.closed = True
        self.curves_dock.stop()
        self.canvas.release()
        self.effort.stop()
        edits, dirty = self.edits, self.store.dirty
        try:
            self.store.close()
            self.closing_note = saved_note(edits if dirty else 0, self.store.path)
            parent = self.parentWidget()
            if isinstance(parent, QtWidgets.QMainWindow):
                parent.statusBar().showMessage(f"review closed: {self.closing_note}", 10000)
        except (ThermorigError, OSError) as exc:
            QtWidgets.QMessageBox.warning(
                self, "Review", f"could not save: {exc}; every edit stays in the journal "
                "and comes back the next time these labels are opened",
            )  # fmt: skip
        self.sides.dispose()  # its reading thread ends before the file closes
        self.frames.close()
        self.plot.dispose()
