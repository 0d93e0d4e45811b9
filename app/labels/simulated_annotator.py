"""A simulated RGB annotator: a synthetic session's true masks, made imperfect the way a
real RGB segmenter's (or a hurried person's) labels are.

Why: auto-labeling carried the synthetic ground truth into thermal, so every figure
downstream of it measured a perfect RGB labeler that no lab has. This annotator gives
``thermorig autolabel --rgb-labels simulated[:STRENGTH]`` labels whose errors have the
shapes and the time behaviour of a model's: they drift slowly from frame to frame
(a model sees almost the same image twice), they come in runs, and they are seeded, so
the same session and strength give the same labels, byte for byte.

The error model (docs/simulated-annotator.md has the table). Every scale below is the
scale at strength 1; strength S multiplies each amplitude and each share of frames by S
(pixel figures also by the image width / 1280). Strength 0 is the truth, exactly.

- **temporal lag**: the labels of frame ``i - k``, with ``k = round(S * lag_frames *
  |n(i)|)`` and ``n`` a slowly varying standard normal (``lag_period`` frames).
- **missed frames**: runs of frames (``missed_share`` of them, ``missed_run`` long on
  average) get no label at all (None), as when a model's confidence drops.
- **left/right swaps**: runs (``swap_share``, ``swap_run``) where every ``left_X`` and
  ``right_X`` class are exchanged, as when a model takes a rear view for a front view.
- **shrink/grow**: per class, a bias in pixels (negative erodes, positive dilates):
  ``S * bias_px * (0.6 c + 0.8 n(i))``, a constant ``c`` per class (the model's habit)
  and a slow drift ``n`` (``bias_period``), both standard normal.
- **boundary jitter**: a smooth random displacement field (std ``jitter_px`` per axis,
  varying over ``jitter_cell_px`` in the image and ``jitter_period`` frames in time)
  moves the mask boundary, so edges wobble instead of shifting rigidly.
- **partial occlusion errors**: runs (``occlusion_share``, ``occlusion_run``) with an
  elliptic blob on one labeled region's boundary, of radius ``S * occlusion_radius``
  times the region's equivalent radius: either the blob's part of the region is missed
  (set to background) or background in it bleeds into the region.

Runs and noise are drawn once per seed whatever the strength (common random numbers),
and strength only scales them, so a higher strength adds and enlarges errors but never
moves them: IoU falls with strength without a seed's luck reshuffling the order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

#: The strength ``--rgb-labels simulated`` uses: a decent RGB segmenter (see
#: docs/simulated-annotator.md for why and what it measures).
DEFAULT_STRENGTH = 0.5
#: Pixel scales below are for an image this wide.
REFERENCE_WIDTH = 1280


@dataclass(frozen=True)
class ErrorModel:
    """The annotator's error scales at strength 1 (see the module docstring)."""

    lag_frames: float = 0.6
    lag_period: int = 60
    missed_share: float = 0.10
    missed_run: float = 6.0
    swap_share: float = 0.06
    swap_run: float = 8.0
    bias_px: float = 5.0
    bias_period: int = 45
    jitter_px: float = 5.0
    jitter_cell_px: float = 40.0
    jitter_period: int = 10
    occlusion_share: float = 0.25
    occlusion_run: float = 10.0
    occlusion_radius: float = 0.8


class SmoothNoise:
    """Standard normal values that drift smoothly from frame to frame: independent
    knots every ``period`` frames, blended with a smoothstep and renormalized to unit
    variance. Random access (any frame, any order), as autolabel reads frames."""

    def __init__(self, rng: np.random.Generator, n: int, period: int, shape: tuple = ()):
        self.period = max(int(period), 1)
        self.knots = rng.standard_normal((n // self.period + 2, *shape))

    def __call__(self, i: int) -> np.ndarray:
        k, t = divmod(max(i, 0) / self.period, 1.0)
        k = min(int(k), len(self.knots) - 2)
        w = t * t * (3.0 - 2.0 * t)
        return ((1.0 - w) * self.knots[k] + w * self.knots[k + 1]) / math.hypot(1.0 - w, w)


class Runs:
    """Runs of frames with an error: a run starts at frame ``t`` where a uniform draw
    falls under a hazard set by ``share`` (the expected share of frames inside a run)
    and lasts a geometric number of frames averaging ``mean_run``. The draws do not
    depend on ``share``, so a larger share keeps every run of a smaller one."""

    def __init__(self, rng: np.random.Generator, n: int, share: float, mean_run: float):
        u = rng.random(n)
        lengths = rng.geometric(1.0 / max(mean_run, 1.0), n)
        share = min(max(share, 0.0), 0.95)
        hazard = share / (mean_run * (1.0 - share))
        #: Per frame, the frame its run started at (-1: not in a run).
        self.start = np.full(n, -1, np.int64)
        for t in np.nonzero(u < hazard)[0]:
            self.start[t : t + lengths[t]] = t

    def __call__(self, i: int) -> int:
        """The start frame of the run frame ``i`` is in, or -1."""
        return int(self.start[i]) if 0 <= i < len(self.start) else -1


def swap_table(classes: list[str]) -> np.ndarray:
    """A 256-entry lookup table exchanging every ``left_X`` class with ``right_X``."""
    lut = np.arange(256, dtype=np.uint8)
    for i, name in enumerate(classes):
        if name.startswith("left_") and f"right_{name[5:]}" in classes:
            j = classes.index(f"right_{name[5:]}")
            lut[i], lut[j] = j, i
    return lut


def shrink_grow(mask: np.ndarray, cls: int, bias: float) -> np.ndarray:
    """``mask`` with class ``cls`` eroded (bias < 0) or dilated into background (bias >
    0) by ``|bias|`` pixels (Euclidean distance, so fractions of a pixel count)."""
    if abs(bias) < 0.5:
        return mask
    inside = (mask == cls).astype(np.uint8)
    out = mask.copy()
    if bias < 0:
        depth = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
        out[(inside > 0) & (depth <= -bias)] = 0
    else:
        reach = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
        out[(mask == 0) & (reach <= bias)] = cls
    return out


@dataclass
class FrameErrors:
    """What the annotator did to one frame (for tests and the documentation)."""

    lag: int = 0
    missed: bool = False
    swapped: bool = False
    bias_px: tuple[float, ...] = ()
    occlusion: str = ""  # "", "miss" or "bleed"
    occluded_class: int = 0


class SimulatedAnnotator:
    """Frame ``i`` → imperfect labels (or None), from ``truth(i)`` (the true mask of the
    source stream's frame ``i``, or None) of a stream of ``n`` frames, ``shape`` (H, W),
    class names ``classes`` (index 0 is background; 255 stays unknown)."""

    def __init__(
        self,
        truth: Callable[[int], np.ndarray | None],
        n: int,
        classes: list[str],
        shape: tuple[int, int],
        seed: int,
        strength: float = DEFAULT_STRENGTH,
        model: ErrorModel | None = None,
    ):
        if not 0.0 <= strength <= 1.0 or not math.isfinite(strength):
            raise ValueError(f"strength {strength} is not within 0 to 1")
        m = self.model = model or ErrorModel()
        self.truth, self.n, self.classes, self.shape = truth, n, list(classes), shape
        self.seed, self.strength = seed, strength
        self.px = strength * shape[1] / REFERENCE_WIDTH

        def rng(kind: int) -> np.random.Generator:
            return np.random.default_rng([seed % 2**32, kind])

        self._lag = SmoothNoise(rng(1), n, m.lag_period)
        self._missed = Runs(rng(2), n, strength * m.missed_share, m.missed_run)
        self._swap = Runs(rng(3), n, strength * m.swap_share, m.swap_run)
        self._occlusion = Runs(rng(4), n, strength * m.occlusion_share, m.occlusion_run)
        self._occlusion_draws = rng(5).random((n, 6))
        c = len(self.classes)
        self._bias_habit = rng(6).standard_normal(c)
        self._bias = SmoothNoise(rng(7), n, m.bias_period, (c,))
        h, w = shape
        cell = max(m.jitter_cell_px * w / REFERENCE_WIDTH, 4.0)
        self._grid = (int(math.ceil(h / cell)) + 2, int(math.ceil(w / cell)) + 2)
        self._jitter = SmoothNoise(rng(8), n, m.jitter_period, (*self._grid, 2))
        self._swap_lut = swap_table(self.classes)

    def errors(self, i: int) -> FrameErrors:
        """The errors of frame ``i`` (what :meth:`labels` applies)."""
        m, s = self.model, self.strength
        e = FrameErrors(
            lag=min(int(round(s * m.lag_frames * abs(float(self._lag(i))))), max(i, 0)),
            missed=self._missed(i) >= 0,
            swapped=self._swap(i) >= 0,
            bias_px=tuple(
                float(self.px * m.bias_px * (0.6 * a + 0.8 * b))
                for a, b in zip(self._bias_habit, self._bias(i), strict=True)
            ),
        )
        start = self._occlusion(i)
        if start >= 0 and len(self.classes) > 1:
            d = self._occlusion_draws[start]
            e.occlusion = "miss" if d[0] < 0.5 else "bleed"
            e.occluded_class = 1 + int(d[1] * (len(self.classes) - 1))
        return e

    def labels(self, i: int) -> np.ndarray | None:
        """Frame ``i``'s simulated labels: (H, W) uint8, or None (no label)."""
        if self.strength == 0.0:
            return self.truth(i)
        e = self.errors(i)
        if e.missed:
            return None
        mask = self.truth(i - e.lag)
        if mask is None:
            return None
        if e.swapped:
            mask = self._swap_lut[mask]
        # Shrink/grow and jitter reach only so far: work on the labeled part (10x faster).
        amp = self.px * self.model.jitter_px
        margin = int(math.ceil(max(map(abs, e.bias_px), default=0.0) + 5 * amp + 2))
        rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        if len(rows):
            h, w = mask.shape
            y0, y1 = max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, h)
            x0, x1 = max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, w)
            part = mask[y0:y1, x0:x1]
            for cls in range(1, len(self.classes)):
                part = shrink_grow(part, cls, e.bias_px[cls])
            if amp >= 0.05:
                part = self._jittered(part, self._field(i, amp)[y0:y1, x0:x1])
            mask = mask.copy()
            mask[y0:y1, x0:x1] = part
        if e.occlusion:
            mask = self._occluded(mask, i, e)
        return mask

    def _field(self, i: int, amp: float) -> np.ndarray:
        """Frame ``i``'s displacement field, (H, W, 2) pixels: the coarse random grid
        upsampled smoothly, so that neighbouring boundary points move together."""
        grid = (amp * self._jitter(i)).astype(np.float32)
        return cv2.resize(grid, self.shape[::-1], interpolation=cv2.INTER_CUBIC)

    @staticmethod
    def _jittered(mask: np.ndarray, field: np.ndarray) -> np.ndarray:
        """``mask`` resampled through the displacement ``field`` (nearest label)."""
        h, w = mask.shape
        x, y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        return cv2.remap(
            mask,
            x + field[..., 0],
            y + field[..., 1],
            cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_REPLICATE,
        )

    def _occluded(self, mask: np.ndarray, i: int, e: FrameErrors) -> np.ndarray:
        """An elliptic blob on the boundary of ``e.occluded_class``: its pixels of that
        class missed, or its background taken for that class."""
        cls = e.occluded_class
        ys, xs = np.nonzero(mask == cls)
        if len(xs) < 20:
            return mask
        start = self._occlusion(i)
        d = self._occlusion_draws[start]
        # The blob's direction from the region's centre drifts slowly within the run.
        theta = 2 * math.pi * d[2] + 0.05 * (i - start)
        cx, cy = xs.mean(), ys.mean()
        reach = (xs - cx) * math.cos(theta) + (ys - cy) * math.sin(theta)
        k = int(np.argmax(reach))
        radius = self.strength * self.model.occlusion_radius * math.sqrt(len(xs) / math.pi)
        axes = (max(int(radius * (0.7 + 0.6 * d[3])), 1), max(int(radius * (0.7 + 0.6 * d[4])), 1))
        blob = np.zeros(mask.shape, np.uint8)
        cv2.ellipse(blob, (int(xs[k]), int(ys[k])), axes, 180 * d[5], 0, 360, 1, -1)
        out = mask.copy()
        if e.occlusion == "miss":
            out[(blob > 0) & (mask == cls)] = 0
        else:
            out[(blob > 0) & (mask == 0)] = cls
        return out
