"""Frames to network inputs: how the frame fits the input size, and how pixels become
numbers.

Two questions, kept apart because every combination occurs:

- **Geometry** (:class:`Geometry`): a 640×512 thermal frame and a 320×256 network
  share an aspect ratio, a 1280×720 RGB frame and a 256×256 network do not. ``letterbox``
  keeps the aspect ratio and pads; ``stretch`` fills the input. The geometry maps
  points and output maps back to frame pixels exactly (pixel centres, as OpenCV's
  resize samples them), so a keypoint or a mask boundary lands where it belongs.
- **Representation** (:data:`REPRESENTATIONS`): thermography networks are trained either
  on a ``grayscale`` temperature window (°C from ``window_c[0]`` to ``window_c[1]``
  mapped to [0, 1]; a fixed window keeps "33 °C" the same input value in every frame,
  which is what makes temperature informative) or on a ``heatmap`` (the same window
  through a colour map, as many published thermal datasets are stored); RGB models
  read ``rgb`` in [0, 1]. A registry, so a new representation is one function.

Resizing happens on the raw frame before any conversion: it is the cheapest point
(uint16 → a quarter of the pixels before the float work) and area-averaging
centikelvin is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from drivers.types import centikelvin_to_celsius
from models.errors import ModelError
from models.spec import InputSpec


@dataclass(frozen=True)
class Geometry:
    """Where a frame's content sits in the network input.

    Input pixel ``x_in`` (centre) and frame pixel ``x_f`` relate by
    ``x_in + 0.5 = pad_x + (x_f + 0.5) * scale_x``, likewise for y.
    """

    frame_w: int
    frame_h: int
    input_w: int
    input_h: int
    scale_x: float
    scale_y: float
    pad_x: int
    pad_y: int

    @property
    def content_size(self) -> tuple[int, int]:
        return round(self.frame_w * self.scale_x), round(self.frame_h * self.scale_y)

    def input_to_frame(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) input pixel coordinates to frame pixel coordinates."""
        p = np.asarray(points, np.float64)
        x = (p[..., 0] + 0.5 - self.pad_x) / self.scale_x - 0.5
        y = (p[..., 1] + 0.5 - self.pad_y) / self.scale_y - 0.5
        return np.stack([x, y], axis=-1)

    def frame_to_input(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, np.float64)
        x = (p[..., 0] + 0.5) * self.scale_x + self.pad_x - 0.5
        y = (p[..., 1] + 0.5) * self.scale_y + self.pad_y - 0.5
        return np.stack([x, y], axis=-1)

    def frame_to_map(self, map_w: int, map_h: int) -> np.ndarray:
        """2×3 affine taking frame pixels to pixels of an output map that spans the
        whole input at ``map_w``×``map_h`` (e.g. logits at a quarter of the input)."""
        sx, sy = map_w / self.input_w, map_h / self.input_h
        # frame -> input: x_in = x_f * scale_x + (0.5 * scale_x + pad_x - 0.5);
        # input -> map:   x_m = (x_in + 0.5) * sx - 0.5
        ax = self.scale_x * sx
        bx = (0.5 * self.scale_x + self.pad_x) * sx - 0.5
        ay = self.scale_y * sy
        by = (0.5 * self.scale_y + self.pad_y) * sy - 0.5
        return np.array([[ax, 0.0, bx], [0.0, ay, by]], np.float64)


def fit(frame_w: int, frame_h: int, input_w: int, input_h: int, mode: str) -> Geometry:
    """The geometry that puts a frame into an input of ``input_w``×``input_h``."""
    if mode == "stretch":
        return Geometry(
            frame_w, frame_h, input_w, input_h, input_w / frame_w, input_h / frame_h, 0, 0
        )
    if mode != "letterbox":
        raise ModelError(f"unknown resize mode {mode!r}; use letterbox or stretch")
    s = min(input_w / frame_w, input_h / frame_h)
    cw, ch = max(1, round(frame_w * s)), max(1, round(frame_h * s))
    return Geometry(
        frame_w,
        frame_h,
        input_w,
        input_h,
        cw / frame_w,
        ch / frame_h,
        (input_w - cw) // 2,
        (input_h - ch) // 2,
    )


def resize_content(image: np.ndarray, geometry: Geometry) -> np.ndarray:
    """The frame resized to the content area (area-averaged when shrinking)."""
    cw, ch = geometry.content_size
    if (image.shape[1], image.shape[0]) == (cw, ch):
        return image
    shrink = cw < image.shape[1] or ch < image.shape[0]
    return cv2.resize(image, (cw, ch), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


# -- representations -------------------------------------------------------------------
@dataclass(frozen=True)
class Representation:
    """How a stream's pixels become the network's input channels (float32, H×W×C)."""

    name: str
    channels: int
    stream_kinds: tuple[str, ...]
    convert: Callable[[np.ndarray, InputSpec], np.ndarray]


REPRESENTATIONS: dict[str, Representation] = {}


def representation(
    name: str, channels: int, stream_kinds: tuple[str, ...]
) -> Callable[[Callable[[np.ndarray, InputSpec], np.ndarray]], Callable]:
    def deco(fn: Callable[[np.ndarray, InputSpec], np.ndarray]) -> Callable:
        REPRESENTATIONS[name] = Representation(name, channels, stream_kinds, fn)
        return fn

    return deco


def get_representation(name: str) -> Representation:
    try:
        return REPRESENTATIONS[name]
    except KeyError:
        raise ModelError(
            f"unknown input representation {name!r}; use one of {', '.join(REPRESENTATIONS)}"
        ) from None


def celsius(image: np.ndarray) -> np.ndarray:
    """Thermal pixels as float32 °C: integer frames are centikelvin (the thermal stream's
    unit), float frames are taken to be °C already."""
    if np.issubdtype(image.dtype, np.integer):
        return centikelvin_to_celsius(image)
    return image.astype(np.float32, copy=False)


def temperature_window(c: np.ndarray, window_c: tuple[float, float]) -> np.ndarray:
    """°C to [0, 1]: ``window_c[0]`` → 0, ``window_c[1]`` → 1, clipped."""
    lo, hi = window_c
    out = (c - np.float32(lo)) * np.float32(1.0 / (hi - lo))
    return np.clip(out, 0.0, 1.0, out=out)


@representation("grayscale", 1, ("thermal",))
def grayscale(image: np.ndarray, spec: InputSpec) -> np.ndarray:
    return temperature_window(celsius(image), spec.window_c)[..., None]


def colormap_id(name: str) -> int:
    cmap = getattr(cv2, f"COLORMAP_{name.upper()}", None)
    if not isinstance(cmap, int):
        raise ModelError(f"unknown colour map {name!r}; use an OpenCV one such as inferno, jet")
    return cmap


@representation("heatmap", 3, ("thermal",))
def heatmap(image: np.ndarray, spec: InputSpec) -> np.ndarray:
    g = temperature_window(celsius(image), spec.window_c)
    u8 = (g * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)
    bgr = cv2.applyColorMap(u8, colormap_id(spec.colormap))
    return bgr[..., ::-1].astype(np.float32) * np.float32(1.0 / 255.0)


@representation("rgb", 3, ("color",))
def rgb(image: np.ndarray, spec: InputSpec) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3:
        raise ModelError(f"an rgb model needs H×W×3 colour frames, got shape {image.shape}")
    return image.astype(np.float32) * np.float32(1.0 / 255.0)


def prepare(image: np.ndarray, spec: InputSpec) -> tuple[np.ndarray, Geometry]:
    """A frame's array to the network input (1, C, H, W) float32, and its geometry."""
    rep = get_representation(spec.representation)
    if image.ndim < 2:
        raise ModelError(f"a frame must be an image, got an array of shape {image.shape}")
    geometry = fit(image.shape[1], image.shape[0], spec.width, spec.height, spec.resize)
    content = rep.convert(resize_content(image, geometry), spec)
    mean = np.asarray(spec.mean, np.float32)
    inv_std = np.float32(1.0) / np.asarray(spec.std, np.float32)
    content = (content - mean) * inv_std
    cw, ch = geometry.content_size
    if (cw, ch) == (spec.width, spec.height):
        chw = np.ascontiguousarray(content.transpose(2, 0, 1))
    else:
        # Padding holds what a pixel at the bottom of the window would read (0 before
        # normalization): "cold, nothing here" rather than an edge the network never saw.
        chw = np.empty((rep.channels, spec.height, spec.width), np.float32)
        chw[:] = ((0.0 - mean) * inv_std).reshape(-1, 1, 1)
        x0, y0 = geometry.pad_x, geometry.pad_y
        chw[:, y0 : y0 + ch, x0 : x0 + cw] = content.transpose(2, 0, 1)
    return chw[None], geometry
