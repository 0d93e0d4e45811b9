"""How frames become pictures: colour maps, display levels, depth colouring, overlays.

Pure numpy, so that what a person sees can be tested without Qt and reused by any
view (preview, review, export). The Qt views in ``app/ui`` only hand these arrays to
pyqtgraph in the forms its fast paths take: C-contiguous arrays, fixed levels, uint8
look-up tables, ``levels=None`` for uint8 RGB(A).

Display levels are computed here rather than by pyqtgraph's auto levels: those look at
a ~65k-pixel sample's min and max, so one hot pixel — or missing it — swings the
whole image. Percentiles of a strided subsample are stable, and the exact full-frame
extremes are reported beside them (:func:`thermal_extremes`) for the thermographer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from calibration.projection import NO_DEPTH, OCCLUDED, OUTSIDE
from drivers.colormaps import colormap_lut
from drivers.truth import UNKNOWN_LABEL
from drivers.types import KELVIN_OFFSET, centikelvin_to_celsius

# -- colour maps ----------------------------------------------------------------------
# The stop tables and LUTs live in drivers.colormaps: calibration reads colour-mapped
# stills through them too, and may not import app.

#: Names offered for the thermal view; the first is the default.
THERMAL_MAPS = ("inferno", "ironbow", "gray", "turbo")
DEPTH_MAP = "turbo"


# -- levels ---------------------------------------------------------------------------


def subsample(array: np.ndarray, target: int = 16384) -> np.ndarray:
    """A strided view with about ``target`` pixels (every k-th row and column)."""
    h, w = array.shape[:2]
    k = max(1, int(math.sqrt(h * w / target)))
    return array[::k, ::k]


def percentile_levels(
    array: np.ndarray,
    lo_pct: float = 1.0,
    hi_pct: float = 99.0,
    *,
    ignore_zero: bool = False,
    target: int = 16384,
) -> tuple[float, float] | None:
    """Robust display levels in the array's own units; None if nothing is valid.

    ``ignore_zero`` leaves out zeros (depth: no measurement).
    """
    sample = subsample(array, target).ravel()
    if ignore_zero:
        sample = sample[sample != 0]
    if sample.size == 0:
        return None
    lo, hi = np.percentile(sample, (lo_pct, hi_pct))
    return float(lo), float(hi)


class LevelTracker:
    """Auto levels smoothed over frames, so the colour scale does not flicker.

    A jump larger than the current span (a new scene, a new source) is taken at once;
    small changes are followed with an exponential moving average.
    """

    def __init__(self, alpha: float = 0.2, min_span: float = 1.0):
        self.alpha = alpha
        self.min_span = min_span
        self.levels: tuple[float, float] | None = None

    def update(self, lo: float, hi: float) -> tuple[float, float]:
        if hi - lo < self.min_span:
            mid = 0.5 * (lo + hi)
            lo, hi = mid - 0.5 * self.min_span, mid + 0.5 * self.min_span
        if self.levels is None:
            self.levels = (lo, hi)
            return self.levels
        plo, phi = self.levels
        span = phi - plo
        if abs(lo - plo) > span or abs(hi - phi) > span:
            self.levels = (lo, hi)
        else:
            a = self.alpha
            self.levels = (plo + a * (lo - plo), phi + a * (hi - phi))
        return self.levels

    def reset(self) -> None:
        self.levels = None


def celsius_to_raw_levels(lo_c: float, hi_c: float) -> tuple[float, float]:
    """°C display levels to the centikelvin levels of the raw thermal frame."""
    return (lo_c + KELVIN_OFFSET) * 100.0, (hi_c + KELVIN_OFFSET) * 100.0


def thermal_auto_levels(frame_ck: np.ndarray, lo_pct: float = 1.0, hi_pct: float = 99.5):
    """Percentile levels of a thermal frame in °C (None for an empty frame)."""
    levels = percentile_levels(frame_ck, lo_pct, hi_pct)
    if levels is None:
        return None
    return centikelvin_to_celsius(levels[0]), centikelvin_to_celsius(levels[1])


def thermal_extremes(frame_ck: np.ndarray) -> tuple[float, float]:
    """Exact coldest and hottest pixel of the whole frame, °C (a hot pixel included)."""
    return centikelvin_to_celsius(frame_ck.min()), centikelvin_to_celsius(frame_ck.max())


# -- depth ----------------------------------------------------------------------------


class DepthColoriser:
    """Depth frames (uint16 units) to uint8 colour indices: 0 = no measurement.

    Index 0 is reserved for depth 0 and drawn black; the range ``near``..``far``
    metres spreads over indices 1..255 and depths outside it are clipped to its ends,
    so a valid pixel is never mistaken for a hole. One 65,536-entry table per range
    makes the conversion a single ``take``.
    """

    def __init__(self, depth_scale: float, near_m: float = 0.3, far_m: float = 4.0):
        if not depth_scale > 0:
            raise ValueError(f"depth_scale must be positive, got {depth_scale}")
        self.depth_scale = float(depth_scale)
        self.lut = colormap_lut(DEPTH_MAP)
        self.lut[0] = 0
        self.near_m = self.far_m = math.nan
        self._table = np.zeros(65536, np.uint8)
        self.set_range(near_m, far_m)

    def set_range(self, near_m: float, far_m: float) -> None:
        far_m = max(far_m, near_m + 2 * self.depth_scale)
        if (near_m, far_m) == (self.near_m, self.far_m):
            return
        self.near_m, self.far_m = float(near_m), float(far_m)
        units = np.arange(65536, dtype=np.float64) * self.depth_scale
        t = (units - self.near_m) / (self.far_m - self.near_m)
        table = 1.0 + np.clip(t, 0.0, 1.0) * 254.0
        self._table = np.rint(table).astype(np.uint8)
        self._table[0] = 0

    def auto_range(self, depth: np.ndarray) -> tuple[float, float] | None:
        """Percentile range (metres) of the valid depths of a frame."""
        levels = percentile_levels(depth, 1.0, 99.0, ignore_zero=True)
        if levels is None:
            return None
        return levels[0] * self.depth_scale, levels[1] * self.depth_scale

    def indices(self, depth: np.ndarray) -> np.ndarray:
        return np.take(self._table, depth)


# -- overlays -------------------------------------------------------------------------

#: RGB per class id (index 0 is background and never drawn).
CLASS_COLOURS = np.array(
    [
        (0, 0, 0),
        (0, 190, 255),  # left_calf
        (90, 255, 90),  # right_calf
        (255, 210, 0),
        (255, 80, 200),
        (160, 120, 255),
        (255, 130, 60),
        (0, 255, 200),
    ],
    dtype=np.uint8,
)
#: ``(256, 3)`` RGB of every class id: ids past the table reuse its colours in turn,
#: so every view (overlays, review, curves, exported mask PNGs) colours a class alike.
CLASS_RGB = np.concatenate(
    [CLASS_COLOURS[:1], CLASS_COLOURS[1 + np.arange(255) % (len(CLASS_COLOURS) - 1)]]
)


def label_palette(fill_alpha: int = 70) -> np.ndarray:
    """``(256, 4)`` RGBA for class masks: background and unknown (255) transparent."""
    pal = np.zeros((256, 4), np.uint8)
    pal[1:UNKNOWN_LABEL, :3] = CLASS_RGB[1:UNKNOWN_LABEL]
    pal[1:UNKNOWN_LABEL, 3] = fill_alpha
    return pal


_PALETTE = label_palette()


def label_edges(labels: np.ndarray) -> np.ndarray:
    """Pixels with a 4-neighbour of another class: a 2-px outline along each border."""
    edge = np.zeros(labels.shape, bool)
    h = labels[:, 1:] != labels[:, :-1]
    v = labels[1:, :] != labels[:-1, :]
    edge[:, 1:] |= h
    edge[:, :-1] |= h
    edge[1:, :] |= v
    edge[:-1, :] |= v
    return edge


def _extent(mask: np.ndarray) -> tuple[int, int]:
    """First and one-past-last index where ``mask`` is True (0, 0 if nowhere)."""
    where = np.flatnonzero(mask)
    return (int(where[0]), int(where[-1]) + 1) if where.size else (0, 0)


def label_rgba(labels: np.ndarray, palette: np.ndarray | None = None) -> np.ndarray:
    """A class mask as an ``(H, W, 4)`` uint8 RGBA overlay: a translucent fill with an
    opaque outline, so the thermal pattern under a label stays readable.

    Work is confined to the labelled part of the frame (labels are usually a small
    part of it): 1–2 ms for a 640×512 mask with two calves instead of ~6.
    """
    pal = _PALETTE if palette is None else palette
    labels = np.asarray(labels, dtype=np.uint8)
    out = np.zeros((*labels.shape, 4), np.uint8)
    labelled = labels != 0
    r0, r1 = _extent(labelled.any(axis=1))
    c0, c1 = _extent(labelled.any(axis=0))
    if r1 == r0:
        return out
    # One pixel of margin so that the outline at the box's border is found too.
    r0, c0 = max(r0 - 1, 0), max(c0 - 1, 0)
    r1, c1 = min(r1 + 1, labels.shape[0]), min(c1 + 1, labels.shape[1])
    crop = labels[r0:r1, c0:c1]
    rgba = np.take(pal, crop, axis=0)
    alpha = rgba[..., 3]
    alpha[label_edges(crop) & (alpha > 0)] = 255
    out[r0:r1, c0:c1] = rgba
    return out


def label_outline_rgba(labels: np.ndarray, colour: tuple[int, int, int] = (255, 255, 255)):
    """Only the outline of every labelled region, opaque, in one colour: drawn over
    another overlay (projected labels) it compares shapes without hiding either."""
    labels = np.asarray(labels, dtype=np.uint8)
    out = np.zeros((*labels.shape, 4), np.uint8)
    known = np.where(labels == UNKNOWN_LABEL, np.uint8(0), labels)
    edge = label_edges(known) & (known != 0)
    out[edge] = (*colour, 230)
    return out


#: Projected-label reasons drawn as "unknown": hidden from the RGB camera (hatched),
#: and no depth or outside the RGB image (an even grey tint). The tint has no outline:
#: an outline traced the ragged rim of every depth hole, and along the floor (seen at
#: a grazing angle, where the depth camera's points thin out) it drew a jagged line
#: across the whole view that told a person nothing. The legend names both marks.
HATCH_RGBA = (215, 215, 215, 120)
UNKNOWN_RGBA = (150, 150, 150, 60)
#: Unknown specks smaller than this (pixels across) are not drawn: single ToF dropouts
#: would sprinkle the view with noise and hide the regions that matter.
MIN_UNKNOWN_PX = 5
_hatch_cache: dict[tuple[int, int], np.ndarray] = {}


def hatch_mask(shape: tuple[int, int], period: int = 6) -> np.ndarray:
    """Diagonal stripes two pixels wide every ``period`` pixels: True on a stripe."""
    key = (int(shape[0]), int(shape[1]))
    mask = _hatch_cache.get(key)
    if mask is None:
        yy, xx = np.indices(key)
        mask = ((xx + yy) % period) < 2
        _hatch_cache.clear()  # one size at a time is all a view needs
        _hatch_cache[key] = mask
    return mask


def _regions(mask: np.ndarray, size: int) -> np.ndarray:
    """``mask`` without parts narrower than ``size`` pixels (a morphological opening)."""
    kernel = np.ones((size, size), np.uint8)
    return cv2.morphologyEx(mask.view(np.uint8), cv2.MORPH_OPEN, kernel).view(bool)


def projected_rgba(labels: np.ndarray, reason: np.ndarray) -> np.ndarray:
    """Projected labels with their validity: classes as :func:`label_rgba` draws them,
    regions the RGB camera could not see (occluded) hatched, regions with no depth or
    outside the RGB image tinted grey (their ragged rims smoothed). A thermographer
    must see where a label is missing because it is unknown, not because the calf is
    absent.
    """
    out = label_rgba(labels)
    pixels = out.view(np.uint32)[..., 0]  # one 32-bit store per pixel, not four
    occluded = _regions(reason == OCCLUDED, MIN_UNKNOWN_PX)
    np.copyto(pixels, _packed(HATCH_RGBA), where=occluded & hatch_mask(labels.shape))
    unknown = _regions((reason == NO_DEPTH) | (reason == OUTSIDE), MIN_UNKNOWN_PX)
    kernel = np.ones((MIN_UNKNOWN_PX, MIN_UNKNOWN_PX), np.uint8)
    unknown = cv2.morphologyEx(unknown.view(np.uint8), cv2.MORPH_CLOSE, kernel).view(bool)
    np.copyto(pixels, _packed(UNKNOWN_RGBA), where=unknown & ~occluded & (labels == UNKNOWN_LABEL))
    return out


def _packed(rgba: tuple[int, int, int, int]) -> np.uint32:
    return np.frombuffer(bytes(rgba), np.uint32)[0]


# -- readout --------------------------------------------------------------------------


@dataclass(frozen=True)
class Readout:
    """What is under the cursor: stream, pixel, and the value in physical units."""

    stream: str
    x: int
    y: int
    text: str


def pixel_readout(
    stream: str, kind: str, array: np.ndarray, x: float, y: float, depth_scale: float | None
) -> Readout | None:
    """The value of pixel (x, y) — column, row — in °C, metres or RGB; None outside."""
    col, row = int(math.floor(x)), int(math.floor(y))
    h, w = array.shape[:2]
    if not (0 <= col < w and 0 <= row < h):
        return None
    v = array[row, col]
    if kind == "thermal":
        text = f"{float(centikelvin_to_celsius(np.asarray(v))):.2f} °C"
    elif kind == "depth":
        text = "no depth" if int(v) == 0 else f"{int(v) * (depth_scale or 0.001):.3f} m"
    elif array.ndim == 3:
        text = "RGB " + " ".join(str(int(c)) for c in v[:3])
    else:
        text = f"{int(v)}"
    return Readout(stream, col, row, text)
