"""Turning any camera's frame into 8-bit images a board detector can read.

Thermal frames are 16-bit centikelvin with a few degrees of contrast somewhere in a
range of hundreds; a board may show hot or cold squares depending on how it was
heated; and a single hot pixel (a lamp, a reflection) would wreck a min/max stretch.
So: stretch between robust percentiles, then offer a short list of *variants*
(contrast-limited equalisation, inversion, unsharp masking) for the detector to try
in turn, cheapest and most faithful first. The linear stretch is also what sub-pixel
refinement reads, because CLAHE and unsharp masking move edges slightly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import cv2
import numpy as np

#: Percentiles of the robust stretch.
LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5

#: Pixels sampled to find the percentiles (a 640×512 frame has 327k).
_SAMPLE = 40_000


def to_gray(
    image: np.ndarray, low: float = LOW_PERCENTILE, high: float = HIGH_PERCENTILE
) -> np.ndarray:
    """Any frame (uint8/uint16/float, gray or RGB) → uint8 gray, stretched robustly.

    Zeros in 16-bit frames are treated as "no measurement" (depth, IR) and ignored
    when choosing the range; 8-bit frames are stretched too, because a thermal camera's
    own 8-bit export often uses a fraction of the range.
    """
    image = np.asarray(image)
    if image.ndim == 3:
        if image.shape[2] == 4:
            image = image[:, :, :3]
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.shape[2] == 3 else image[:, :, 0]
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"expected a 2-D image, got shape {image.shape}")
    flat = image.ravel()
    step = max(1, flat.size // _SAMPLE)
    sample = flat[::step]
    if image.dtype != np.uint8:
        valid = sample[sample > 0]
        sample = valid if valid.size > 16 else sample
    lo, hi = np.percentile(sample.astype(np.float32), (low, high))
    if hi - lo < 1e-6:
        hi = lo + 1.0
    scale = 255.0 / (hi - lo)
    out = cv2.convertScaleAbs(image.astype(np.float32), alpha=scale, beta=-lo * scale)
    return out


def clahe(gray: np.ndarray, clip: float = 2.0, tiles: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation: lifts faint, uneven boards."""
    return cv2.createCLAHE(clipLimit=clip, tileGridSize=(tiles, tiles)).apply(gray)


def unsharp(gray: np.ndarray, sigma: float = 2.0, amount: float = 1.0) -> np.ndarray:
    """Unsharp mask: steepens the soft edges of a slightly defocused thermal board."""
    blurred = cv2.GaussianBlur(gray, (0, 0), sigma)
    return cv2.addWeighted(gray, 1.0 + amount, blurred, -amount, 0)


def invert(gray: np.ndarray) -> np.ndarray:
    """Swap polarity: detectors of markers expect dark borders on a light ground."""
    return cv2.bitwise_not(gray)


#: Named variants, each a function of the stretched gray image.
PREPROCESSINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "stretch": lambda g: g,
    "clahe": clahe,
    "inverted": invert,
    "inverted-clahe": lambda g: invert(clahe(g)),
    "unsharp-clahe": lambda g: clahe(unsharp(g)),
    "inverted-unsharp-clahe": lambda g: invert(clahe(unsharp(g))),
}

#: Variants tried per stream kind, in order. Thermal boards can be of either polarity
#: and faint; colour and IR boards are printed black on white.
VARIANTS_BY_KIND: dict[str, tuple[str, ...]] = {
    "thermal": (
        "stretch",
        "clahe",
        "inverted",
        "inverted-clahe",
        "unsharp-clahe",
        "inverted-unsharp-clahe",
    ),
    "ir": ("stretch", "clahe", "unsharp-clahe"),
    "color": ("stretch", "clahe"),
    "depth": ("stretch", "clahe"),
}


def is_inverted(name: str) -> bool:
    """Whether a variant swaps polarity (the marker-based detectors need to know)."""
    return name.startswith("inverted")


def variants(
    gray: np.ndarray, kind: str = "thermal", names: tuple[str, ...] | None = None
) -> Iterator[tuple[str, np.ndarray]]:
    """``(name, image)`` pairs for a stretched gray image, computed only when asked for."""
    for name in names or VARIANTS_BY_KIND.get(kind, VARIANTS_BY_KIND["thermal"]):
        yield name, PREPROCESSINGS[name](gray)


def noise_sigma(gray: np.ndarray) -> float:
    """Robust per-pixel noise estimate (grey levels) from the finest-scale residual.

    The median absolute deviation of a 3×3 high-pass ignores edges and texture, which
    cover few pixels; the factor maps it to the σ of white noise.
    """
    g = gray.astype(np.float32)
    residual = (g - cv2.blur(g, (3, 3))).ravel()
    residual = residual[:: max(1, residual.size // _SAMPLE)]
    mad = float(np.median(np.abs(residual - np.median(residual))))
    # Var(x - mean3x3(x)) = σ² (1 - 1/9) for white noise; 1.4826 maps MAD → σ.
    return 1.4826 * mad / np.sqrt(8.0 / 9.0)
