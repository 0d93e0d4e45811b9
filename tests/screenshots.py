"""Window screenshots compared with the references the README shows.

A test renders its window in a fixed state and hands the grab to
:func:`compare_with_reference`. The grab is always written under the test's
``tmp_path`` (with a picture of what differs), never elsewhere.

The comparison is by cells: both images are averaged over ``CELL``×``CELL``-pixel
blocks and a cell *differs* where any colour channel's mean moved by more than
``LEVEL``. Live content (a leg in another phase, a figure one digit off, a text
cursor) moves a few scattered cells; a lost panel, a view drawn empty, another colour
map or a layout that moved turns whole areas. Each test passes the share of cells it
allows, sized from run-to-run measurements written beside it.

With ``THERMORIG_UPDATE_SCREENSHOT=1`` the grab replaces the reference and the test
is skipped saying so (failed under CI): a reference compared with itself proves
nothing, so a person looks at it, commits it and runs the test again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from drivers.atomic import atomic_path
from tests.real_data import in_ci

UPDATE = "THERMORIG_UPDATE_SCREENSHOT"
#: Block size of the comparison (px) and the change of a block's mean colour (of 255)
#: that counts; a one-character text change moves an 8-px cell's mean by ~10-40.
CELL = 8
LEVEL = 48
#: How far a live view's mean colour (of 255, any channel) may move: the moving scene
#: moved it by at most 2.5 over 12 runs of the main window.
VIEW_MEAN = 8.0


def as_array(image: QtGui.QImage) -> np.ndarray:
    """``image`` as an (h, w, 3) uint8 RGB array (a copy)."""
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    return raw[:, : w * 3].reshape(h, w, 3).copy()


def region(window, widget) -> tuple[slice, slice]:
    """Rows and columns of ``widget`` inside a grab of ``window``."""
    top_left = widget.mapTo(window, QtCore.QPoint(0, 0))
    r = QtCore.QRect(top_left, widget.size())
    return slice(r.top(), r.bottom() + 1), slice(r.left(), r.right() + 1)


def cell_means(a: np.ndarray, cell: int = CELL) -> np.ndarray:
    """Mean colour of each ``cell``×``cell`` block (a ragged edge is left out)."""
    h, w = (a.shape[0] // cell) * cell, (a.shape[1] // cell) * cell
    blocks = a[:h, :w].astype(np.float32).reshape(h // cell, cell, w // cell, cell, -1)
    return blocks.mean(axis=(1, 3))


def changed_cells(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Boolean map of the cells whose mean colour differs by more than ``LEVEL``."""
    return (np.abs(cell_means(a) - cell_means(b)) > LEVEL).any(axis=-1)


def view_figures(a: np.ndarray) -> tuple[np.ndarray, float]:
    """A view's mean colour and the share of its pixels that are colourful (channels
    more than 60 apart): robust to what moves in the scene, not to a view drawn
    blank, dimmed or in another colour map."""
    px = a.reshape(-1, 3).astype(np.float32)
    return px.mean(axis=0), float((px.max(axis=1) - px.min(axis=1) > 60).mean())


def _cells_of(regions: Sequence[tuple[slice, slice]], shape: tuple[int, int]) -> np.ndarray:
    """Cells (of a ``shape`` cell grid) that touch any of ``regions`` (pixel slices)."""
    out = np.zeros(shape, bool)
    for rows, cols in regions:
        out[
            rows.start // CELL : -(-rows.stop // CELL), cols.start // CELL : -(-cols.stop // CELL)
        ] = True
    return out


def _write_diff(shot: np.ndarray, changed: np.ndarray, live: np.ndarray, path: Path) -> None:
    """The grab darkened, live cells tinted blue, differing cells magenta."""

    def px(cells: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(cells, CELL, axis=0), CELL, axis=1)

    picture = shot[: changed.shape[0] * CELL, : changed.shape[1] * CELL] // 3
    picture[px(live)] = picture[px(live)] // 2 + np.array([0, 0, 100], np.uint8)
    picture[px(changed)] = (255, 0, 255)
    h, w = picture.shape[:2]
    image = QtGui.QImage(picture.tobytes(), w, h, 3 * w, QtGui.QImage.Format.Format_RGB888)
    assert image.save(str(path)), f"could not write {path}"


def compare_with_reference(
    grabbed: QtGui.QImage,
    reference: Path,
    tmp_path: Path,
    max_changed: float,
    live: Sequence[tuple[slice, slice]] = (),
    max_changed_live: float = 0.0,
) -> tuple[float, float]:
    """The shares of cells of ``grabbed`` that differ from ``reference`` outside and
    inside the ``live`` regions (views of a moving scene); fails the test above
    ``max_changed`` or ``max_changed_live``. Writes the grab and a picture of the
    differences to ``tmp_path``."""
    shot_path = tmp_path / reference.name
    assert grabbed.save(str(shot_path)), f"could not write {shot_path}"
    if os.environ.get(UPDATE) == "1":
        if in_ci():
            pytest.fail(f"{UPDATE}=1 under CI: a reference is made by a person, not by CI")
        with atomic_path(reference) as tmp:
            assert grabbed.save(str(tmp), "PNG"), f"could not write {reference}"
        pytest.skip(
            f"{UPDATE}=1: wrote {reference} from this run; not compared with itself. "
            f"Look at it, commit it, and run again without {UPDATE}"
        )
    ref = QtGui.QImage(str(reference))
    assert not ref.isNull(), f"{reference} missing or unreadable: run with {UPDATE}=1"
    shot, want = as_array(grabbed), as_array(ref)
    assert shot.shape == want.shape, f"grab {shot.shape[:2]} vs reference {want.shape[:2]}"
    changed = changed_cells(shot, want)
    in_live = _cells_of(live, changed.shape)
    diff_path = tmp_path / f"diff-{reference.name}"
    _write_diff(shot, changed, in_live, diff_path)
    for rows, cols in live:
        (mean, colourful), (want_mean, want_colourful) = (
            view_figures(a[rows, cols]) for a in (shot, want)
        )
        where = f"view at rows {rows.start}-{rows.stop}, columns {cols.start}-{cols.stop}"
        assert np.abs(mean - want_mean).max() <= VIEW_MEAN, (where, mean, want_mean, shot_path)
        assert abs(colourful - want_colourful) <= max(0.02, 0.1 * want_colourful), (
            f"{where}: {colourful:.1%} colourful pixels, reference {want_colourful:.1%}",
            shot_path,
        )
    shares = []
    for cells, allowed, where in (
        (~in_live, max_changed, "outside the live views"),
        (in_live, max_changed_live, "in the live views"),
    ):
        share = float(changed[cells].mean()) if cells.any() else 0.0
        shares.append(share)
        assert share <= allowed, (
            f"{share:.1%} of the {CELL}-px cells {where} differ from {reference.name} by "
            f"more than {LEVEL}/255 (allowed {allowed:.1%}): this run {shot_path}, "
            f"differences {diff_path}"
        )
    return shares[0], shares[1]
