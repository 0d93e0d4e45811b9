"""What a press, a drag and a release do to a frame's mask with each review tool.

GUI-free: the review canvas turns mouse events into image coordinates and calls
:meth:`MaskEditor.press`, :meth:`~MaskEditor.move`, :meth:`~MaskEditor.release`;
the editor changes its working copy with :mod:`app.review.mask_tools`, returns the box it
changed (to redraw) and, when an edit is complete, its name — the moment the window
hands the working copy to the label store as ONE undo step (a whole brush stroke,
a closed polygon, one fill). Keeping this apart from Qt makes the tools' behaviour
testable and lets the benchmark drive exactly what a person's mouse drives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.review import mask_tools as mt
from app.review.mask_tools import Box, Point
from drivers.truth import UNKNOWN_LABEL

TOOLS = ("brush", "eraser", "polygon", "flood", "wand")
MIN_RADIUS, MAX_RADIUS = 1, 60
MIN_TOLERANCE_C, MAX_TOLERANCE_C = 0.1, 10.0


@dataclass
class Edit:
    """What one mouse event did: the box to redraw, and the finished edit's name."""

    box: Box | None = None
    done: str = ""


class MaskEditor:
    """The working copy of one frame's mask and the tool settings applied to it."""

    def __init__(self) -> None:
        self.tool = "brush"
        self.value = 1
        self.radius = 6
        self.tolerance_c = 0.5
        self.work: np.ndarray | None = None
        self.thermal: np.ndarray | None = None
        self.stroke: list[Point] = []
        self.vertices: list[Point] = []
        self._changed: Box | None = None

    # -- frame and settings -----------------------------------------------------------
    def load(self, mask: np.ndarray, thermal: np.ndarray | None) -> None:
        """A new frame: its mask (copied into the working copy) and thermal image."""
        self.work = np.array(mask, dtype=np.uint8, order="C", copy=True)
        self.thermal = thermal
        self.stroke, self.vertices, self._changed = [], [], None

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; one of {', '.join(TOOLS)}")
        self.tool = tool
        self.vertices = []

    def grow(self, steps: int) -> str:
        """``]`` / ``[``: the brush radius, or the wand's tolerance; what it is now."""
        if self.tool == "wand":
            t = self.tolerance_c * (1.25**steps)
            self.tolerance_c = round(min(max(t, MIN_TOLERANCE_C), MAX_TOLERANCE_C), 2)
            return f"wand ±{self.tolerance_c:g} °C"
        r = self.radius + steps * max(1, self.radius // 4)
        self.radius = int(min(max(r, MIN_RADIUS), MAX_RADIUS))
        return f"brush radius {self.radius} px"

    @property
    def busy(self) -> bool:
        """A stroke or polygon is under way (not yet an edit of the store)."""
        return bool(self.stroke or self.vertices)

    # -- mouse ------------------------------------------------------------------------
    def press(self, x: float, y: float) -> Edit:
        if self.work is None:
            return Edit()
        if self.tool in ("brush", "eraser"):
            self.stroke = [(x, y)]
            self._changed = self._paint(self.stroke)
            return Edit(self._changed)
        if self.tool == "polygon":
            self.vertices.append((x, y))
            return Edit()
        if self.tool == "flood":
            box = mt.flood_fill(self.work, (x, y), self.value)
            return Edit(box, "flood fill" if box else "")
        if self.tool == "wand" and self.thermal is not None:
            lo, hi = mt.wand_range(self.thermal, (x, y), self.tolerance_c)
            box = mt.wand_fill(self.work, self.thermal, (x, y), lo, hi, self.value)
            return Edit(box, "temperature wand" if box else "")
        return Edit()

    def move(self, x: float, y: float) -> Edit:
        """A drag: the brush paints the segment from the last point (only that)."""
        if not self.stroke or self.work is None:
            return Edit()
        last = self.stroke[-1]
        if (x, y) == last:
            return Edit()
        self.stroke.append((x, y))
        box = self._paint([last, (x, y)])
        self._changed = box.union(self._changed) if box else self._changed
        return Edit(box)

    def release(self) -> Edit:
        """The end of a stroke: its name if it changed anything (time to commit)."""
        if not self.stroke:
            return Edit()
        self.stroke = []
        changed, self._changed = self._changed, None
        return Edit(None, self.tool if changed else "")

    def close_polygon(self) -> Edit:
        """Fill the polygon drawn so far (three vertices at least) and end it."""
        vertices, self.vertices = self.vertices, []
        if self.work is None or len(vertices) < 3:
            return Edit()
        box = mt.fill_polygon(self.work, vertices, self.value)
        return Edit(box, "polygon" if box else "")

    def cancel(self) -> None:
        """Escape: drop the polygon under way (a stroke is finished by its release)."""
        self.vertices = []

    def _paint(self, points: list[Point]) -> Box | None:
        value = UNKNOWN_LABEL if self.tool == "eraser" else self.value
        return mt.brush(self.work, points, self.radius, value)
