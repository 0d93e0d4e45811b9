"""What every mark drawn over the live views means: the legend and the hover text.

A mark that a person cannot name is noise. Each overlay therefore says, with its
result, which marks it drew (:attr:`~app.live.stages.Overlay.marks`), and the view's
legend lists exactly those, in the colours :mod:`app.display` paints them. Hovering a
pixel asks :func:`explain` what is drawn there, from the overlay's own arrays (class
ids and, for projected labels, the reason code per pixel), so the tooltip and the
picture cannot disagree. No Qt here: the widgets in :mod:`app.ui.main.legend` draw it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.display import (
    CLASS_RGB,
    HATCH_RGBA,
    UNKNOWN_RGBA,
)
from calibration.projection import NO_DEPTH, OCCLUDED, OUTSIDE
from drivers.truth import UNKNOWN_LABEL

#: How a mark is drawn (the legend draws its swatch the same way).
FILL, HATCH, TINT, OUTLINE, POINT, CROSS = "fill", "hatch", "tint", "outline", "point", "cross"


@dataclass(frozen=True)
class Mark:
    """One kind of mark: ``style`` and ``rgb`` give its swatch, ``title`` its short
    name in the legend, ``text`` the sentence of its tooltip."""

    key: str
    title: str
    text: str
    style: str
    rgb: tuple[int, int, int]


def class_marks(classes: Sequence[str], source: str) -> tuple[Mark, ...]:
    """A translucent fill with an opaque outline per class (id 0, background, is not
    drawn); ``source`` says where the labels come from (one phrase)."""
    return tuple(
        Mark(
            f"class-{i}",
            name.replace("_", " "),
            f"{name.replace('_', ' ')} (class {i}), {source}",
            FILL,
            tuple(int(c) for c in CLASS_RGB[i]),
        )
        for i, name in enumerate(classes)
        if i > 0
    )


OCCLUDED_MARK = Mark(
    "occluded",
    "hidden from RGB",
    "no label: a nearer surface hides this point from the RGB camera, so its RGB label "
    "belongs to something else",
    HATCH,
    HATCH_RGBA[:3],
)
NO_DEPTH_MARK = Mark(
    "unknown",
    "no depth / outside RGB",
    "no label: the depth camera measured nothing here, or the point lies outside the "
    "RGB image, so the RGB label cannot be carried over",
    TINT,
    UNKNOWN_RGBA[:3],
)
#: The unknown marks of projected labels, in the order of the legend.
PROJECTED_UNKNOWN = (OCCLUDED_MARK, NO_DEPTH_MARK)
TRUTH_OUTLINE = Mark(
    "truth",
    "ground truth",
    "outline of the synthetic scene's true labels (compare with the projected fill)",
    OUTLINE,
    (255, 255, 255),
)
KEYPOINT = Mark(
    "keypoint", "keypoints", "a keypoint (knee, ankle, heel...)", POINT, (255, 255, 255)
)
#: Drawn by the view itself, not by an overlay: where the hovered point is seen.
CURSOR = Mark(
    "cursor",
    "cursor's point",
    "the 3-D point under the cursor in another view, seen by this camera (needs a rig)",
    CROSS,
    (0, 255, 208),
)

_REASON_MARK = {OCCLUDED: OCCLUDED_MARK, NO_DEPTH: NO_DEPTH_MARK, OUTSIDE: NO_DEPTH_MARK}
#: Half the side of the square searched for a drawn pixel: a hatch stripe every 6 px
#: leaves gaps, and a pixel between stripes is still "in the hatched area".
_NEAR = 3
#: A keypoint is "under the cursor" this close (its circle's radius, in pixels).
_POINT_PX = 6.0


def unnamed_marks(overlay: object, title: str) -> tuple[Mark, ...]:
    """Marks for an overlay that did not name its own (a stage added by a person):
    its classes by id, its points as keypoints, under the overlay's ``title``."""
    marks: tuple[Mark, ...] = ()
    labels = getattr(overlay, "labels", None)
    if labels is not None:
        ids = [int(i) for i in np.unique(labels) if 0 < i < UNKNOWN_LABEL]
        names = [f"class {i}" for i in range(max(ids, default=0) + 1)]
        marks = tuple(m for m in class_marks(names, title) if int(m.key[6:]) in ids)
    if getattr(overlay, "points", None) is not None:
        marks += (KEYPOINT,)
    return marks


def legend_marks(overlays: Sequence[object]) -> list[Mark]:
    """The marks of ``overlays`` (objects with a ``marks`` tuple), each once, in order."""
    seen: dict[str, Mark] = {}
    for overlay in overlays:
        for mark in getattr(overlay, "marks", ()):
            seen.setdefault(mark.key, mark)
    return list(seen.values())


def explain(overlay: object, x: float, y: float) -> str:
    """What ``overlay`` drew at pixel (``x`` column, ``y`` row): "" where it drew nothing.

    Read from the overlay's arrays: its RGBA (was anything drawn near here?), its class
    ids and its reason codes, and named with its own marks.
    """
    rgba = getattr(overlay, "rgba", None)
    marks = {m.key: m for m in getattr(overlay, "marks", ())}
    col, row = int(np.floor(x)), int(np.floor(y))
    points = getattr(overlay, "points", None)
    if points is not None and KEYPOINT.key in marks and len(points):
        gaps = np.hypot(np.asarray(points)[:, 0] - x, np.asarray(points)[:, 1] - y)
        if np.any(gaps <= _POINT_PX):
            return KEYPOINT.text
    if rgba is None or not (0 <= row < rgba.shape[0] and 0 <= col < rgba.shape[1]):
        return ""
    near = rgba[max(row - _NEAR, 0) : row + _NEAR + 1, max(col - _NEAR, 0) : col + _NEAR + 1, 3]
    if not near.any():
        return ""
    labels = getattr(overlay, "labels", None)
    if labels is not None:
        label = int(labels[row, col])
        if label not in (0, UNKNOWN_LABEL) and rgba[row, col, 3]:
            mark = marks.get(f"class-{label}")
            if mark is not None:
                return mark.text
        reason = getattr(overlay, "reason", None)
        if label == UNKNOWN_LABEL and reason is not None:
            mark = _REASON_MARK.get(int(reason[row, col]))
            if mark is not None and mark.key in marks:
                return mark.text
    outline = marks.get(TRUTH_OUTLINE.key)
    if outline is not None and rgba[row, col, 3]:
        return outline.text
    return ""
