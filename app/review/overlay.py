"""The class mask drawn over the thermogram while reviewing, redrawn by regions.

A persistent ``(H, W, 4)`` uint8 RGBA buffer holds the drawn mask; an edit redraws only
the box it changed (plus the one-pixel ring whose outline may change with it), so a
brush segment costs its own size, not the frame's. Three looks, one palette each:

- filled: class colours at an adjustable opacity with an opaque outline, as
  :func:`app.display.label_rgba` draws them elsewhere;
- contour: only the outlines, in class colours, so the thermal pattern inside a
  region stays fully visible while its border is judged;
- unlabeled pixels (255) get a faint grey tint in both, so "not labeled" is told apart
  from "background" (class 0, never drawn).
"""

from __future__ import annotations

import numpy as np

from app.display import label_edges, label_palette
from app.review.mask_tools import Box
from drivers.truth import UNKNOWN_LABEL

#: Fill opacities (alpha 0..255) that the opacity key cycles through; 0 hides the fill.
OPACITY_STEPS = (80, 150, 220, 0)
UNLABELED_RGBA = (150, 150, 150, 34)


def review_palette(fill_alpha: int, contour: bool) -> np.ndarray:
    """``(256, 4)`` RGBA per class id; column 3 holds the fill alpha (0 in contour
    mode), and :func:`render` draws outlines opaque whatever the fill."""
    pal = label_palette(0 if contour else fill_alpha)
    if fill_alpha > 0:
        pal[UNKNOWN_LABEL] = UNLABELED_RGBA
    return pal


class MaskOverlay:
    """The RGBA picture of one mask, kept current region by region."""

    def __init__(self, shape: tuple[int, int]):
        self.shape = (int(shape[0]), int(shape[1]))
        self.rgba = np.zeros((*self.shape, 4), np.uint8)
        self.fill_alpha = OPACITY_STEPS[0]
        self.contour = False
        self.palette = review_palette(self.fill_alpha, self.contour)
        #: Outline colour per class id (opaque) for outline pixels.
        self._edge = self.palette.copy()
        self._edge[:, 3] = 255
        self._edge[0, 3] = self._edge[UNKNOWN_LABEL, 3] = 0

    def set_look(self, fill_alpha: int, contour: bool) -> None:
        self.fill_alpha, self.contour = int(fill_alpha), bool(contour)
        self.palette = review_palette(self.fill_alpha, self.contour)

    def render(self, mask: np.ndarray, box: Box | None = None) -> Box:
        """Redraw the region of ``box`` (the whole mask when None); the box redrawn."""
        if mask.shape != self.shape:
            raise ValueError(f"mask {mask.shape} does not fit an overlay of {self.shape}")
        whole = Box(0, self.shape[0], 0, self.shape[1])
        # The outline of a pixel depends on its 4 neighbours: redraw one pixel around
        # the change, computed from a crop with one more pixel of context.
        inner = whole if box is None else box.grown(1, self.shape)
        outer = inner.grown(1, self.shape)
        crop = mask[outer.slices]
        rgba = np.take(self.palette, crop, axis=0)
        edge = label_edges(crop) & (crop != 0) & (crop != UNKNOWN_LABEL)
        rgba[edge] = self._edge[crop[edge]]
        oy, ox = inner.y0 - outer.y0, inner.x0 - outer.x0
        self.rgba[inner.slices] = rgba[oy : oy + inner.y1 - inner.y0, ox : ox + inner.x1 - inner.x0]
        return inner
