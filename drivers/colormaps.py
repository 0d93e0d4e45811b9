"""Colour maps as RGB stop tables, their look-up tables, and the way back.

The display (``app.display``) paints thermal frames through these maps; calibration
reads thermal stills that *other* software painted through maps like them (a
vendor's 8-bit export: iron, rainbow, inferno) and needs the intensity back. A grey
conversion of a colour-mapped image is not the intensity: luminance is not monotonic
along rainbow or turbo, so squares of different temperature can come out the same
grey. :func:`invert_colormap` therefore looks each pixel's colour up along the map
(nearest colour) and returns its position, which is monotonic in temperature by
construction, and says which map fitted best and how well, so that a photograph
(which lies on no map's curve) is refused instead of being read as garbage.

Lives in ``drivers`` so that both ``app`` and ``calibration`` can import it (neither
may import the other for this). The stop tables below were written for thermorig:
evenly spaced RGB stops, read off the maps' published appearance, not copied code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Colour maps as evenly spaced RGB stops; LUTs are interpolated from them.
#: inferno is perceptually uniform (good for temperature), ironbow is what FLIR users
#: expect (``iron`` names it too), rainbow is the blue→red map of many vendors' tools,
#: turbo separates near from far in depth, gray is for print and models.
STOPS: dict[str, tuple[str, ...]] = {
    "inferno": (
        "000004",
        "160b39",
        "420a68",
        "6a176e",
        "932667",
        "bc3754",
        "dd513a",
        "f37819",
        "fca50a",
        "f6d746",
        "fcffa4",
    ),  # fmt: skip
    "ironbow": ("00000a", "1c0468", "6b0a9c", "b01a88", "e0442f", "f88a0c", "fcc83a", "fff6c8"),
    "rainbow": (
        "000080",
        "0000ff",
        "0080ff",
        "00ffff",
        "80ff80",
        "ffff00",
        "ff8000",
        "ff0000",
        "ffffff",
    ),  # fmt: skip
    "turbo": (
        "30123b",
        "4454c4",
        "4490fe",
        "1fc8de",
        "29efa2",
        "7dff56",
        "c1f334",
        "f1ca3a",
        "fe922a",
        "ea4e0d",
        "7a0403",
    ),  # fmt: skip
    "gray": ("000000", "ffffff"),
}

#: Other names labs use for the same maps.
ALIASES = {"iron": "ironbow", "grey": "gray", "jet": "rainbow"}

#: Entries of the LUT a colour is looked up in: finer than 8 bits, so that an image
#: painted by a map slightly unlike ours still lands between two of our levels.
INVERSE_ENTRIES = 1024
#: Mean distance (RGB levels, 0-255 per channel) from a pixel to its nearest map
#: colour above which an image is not that map. JPEG noise on a colour-mapped image
#: stays below ~4; a photograph is tens of levels off every map.
MAX_RESIDUAL = 8.0
#: Pixels sampled to choose the map (all pixels are then read with the chosen one).
_SAMPLE = 20_000
_CHUNK = 16_384


def map_name(name: str) -> str:
    """The canonical name of a colour map (aliases resolved); ValueError if unknown."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in STOPS:
        known = ", ".join([*STOPS, *ALIASES])
        raise ValueError(f"unknown colour map {name!r}; choose one of {known}")
    return key


def colormap_lut(name: str, n: int = 256) -> np.ndarray:
    """An ``(n, 3)`` uint8 RGB look-up table for a colour map name."""
    stops = np.array(
        [[int(h[i : i + 2], 16) for i in (0, 2, 4)] for h in STOPS[map_name(name)]], float
    )
    at = np.linspace(0.0, 1.0, len(stops))
    x = np.linspace(0.0, 1.0, n)
    lut = np.stack([np.interp(x, at, stops[:, c]) for c in range(3)], axis=1)
    return np.ascontiguousarray(np.rint(lut).astype(np.uint8))


def apply_colormap(intensity: np.ndarray, name: str) -> np.ndarray:
    """uint8 intensity (H, W) → uint8 RGB (H, W, 3) through the named map."""
    return colormap_lut(name)[np.asarray(intensity, np.uint8)]


@dataclass
class ColormapFit:
    """An RGB image read back through a colour map.

    ``intensity`` is float32 in 0-1 (the position along the map), ``residual`` the
    mean RGB distance from the pixels to the map's curve, in levels.
    """

    name: str
    intensity: np.ndarray
    residual: float

    def as_uint8(self) -> np.ndarray:
        return np.rint(self.intensity * 255.0).astype(np.uint8)


def _nearest(colours: np.ndarray, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest LUT entry and the distance to it, for every colour."""
    lut_f = lut.astype(np.float32)
    lut_sq = (lut_f**2).sum(1)
    index = np.empty(len(colours), np.int32)
    dist = np.empty(len(colours), np.float32)
    for s in range(0, len(colours), _CHUNK):
        c = colours[s : s + _CHUNK].astype(np.float32)
        d2 = (c**2).sum(1)[:, None] - 2.0 * c @ lut_f.T + lut_sq[None, :]
        k = np.argmin(d2, axis=1)
        index[s : s + _CHUNK] = k
        dist[s : s + _CHUNK] = np.sqrt(np.maximum(d2[np.arange(len(k)), k], 0.0))
    return index, dist


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit RGB image, got {image.dtype} of shape {image.shape}")
    return image[:, :, :3]


def _unique_colours(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct colours of ``(N, 3)`` uint8 pixels, each pixel's index into them,
    and their counts (24-bit codes: a 1-D unique is many times faster than rows)."""
    codes = (rgb[:, 0].astype(np.int32) << 16) | (rgb[:, 1].astype(np.int32) << 8) | rgb[:, 2]
    unique, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    colours = np.stack([(unique >> 16) & 255, (unique >> 8) & 255, unique & 255], axis=1)
    return colours, inverse.ravel(), counts


def colormap_residuals(image: np.ndarray, names: tuple[str, ...] | None = None) -> dict[str, float]:
    """Mean distance (RGB levels) of a sample of the image's pixels to each map."""
    flat = _rgb(image).reshape(-1, 3)
    colours, _, counts = _unique_colours(flat[:: max(1, len(flat) // _SAMPLE)])
    out = {}
    for name in names or tuple(STOPS):
        _, dist = _nearest(colours, colormap_lut(name, INVERSE_ENTRIES))
        out[map_name(name)] = float((dist * counts).sum() / counts.sum())
    return out


def invert_colormap(
    image: np.ndarray, name: str | None = None, max_residual: float = MAX_RESIDUAL
) -> ColormapFit:
    """Intensity of a colour-mapped RGB image: the named map, or the best-fitting one.

    ValueError (one line) when no map fits within ``max_residual``: the image is a
    photograph or was painted by a map not built in.
    """
    rgb = _rgb(image)
    residuals = colormap_residuals(rgb, None if name is None else (name,))
    best = min(residuals, key=residuals.__getitem__)
    if residuals[best] > max_residual:
        shown = ", ".join(
            f"{k} {v:.0f}" for k, v in sorted(residuals.items(), key=lambda kv: kv[1])
        )
        raise ValueError(
            f"the image matches no colour map (mean colour distance {shown} levels, "
            f"at most {max_residual:g} accepted): not a colour-mapped thermal image"
        )
    colours, inverse, _ = _unique_colours(rgb.reshape(-1, 3))
    index, dist = _nearest(colours, colormap_lut(best, INVERSE_ENTRIES))
    intensity = (index.astype(np.float32) / (INVERSE_ENTRIES - 1))[inverse]
    residual = float(dist[inverse].mean())
    return ColormapFit(best, intensity.reshape(rgb.shape[:2]), residual)
