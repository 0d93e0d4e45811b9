"""The vocabulary every other package speaks: frames, streams, frame sets, health.

These types are plain data (numpy + dataclasses) so that calibration, models and the
GUI can use them without knowing which camera or file produced a frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Stream names (docs/formats/session.md). ``ir`` is the depth camera's amplitude image.
STREAM_NAMES = ("thermal", "depth", "color", "ir")

#: Kinds of streams; a stream's kind says how its pixels are to be read.
STREAM_KINDS = ("thermal", "depth", "color", "ir")

#: Offset between centikelvin and degrees Celsius (°C = v/100 − 273.15).
KELVIN_OFFSET = 273.15


def centikelvin_to_celsius(values: np.ndarray | float) -> np.ndarray | float:
    """Thermal pixels (uint16 centikelvin) to float32 °C; one value (a pixel under the
    cursor, a level) to a float, exact in float64."""
    if np.ndim(values) == 0:
        return float(values) / 100.0 - KELVIN_OFFSET
    return values.astype(np.float32) / 100.0 - np.float32(KELVIN_OFFSET)


def celsius_to_centikelvin(celsius: np.ndarray | float) -> np.ndarray:
    """°C to uint16 centikelvin, rounded and clipped to the representable range."""
    ck = np.rint((np.asarray(celsius, dtype=np.float64) + KELVIN_OFFSET) * 100.0)
    return np.clip(ck, 0, 65535).astype(np.uint16)


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera with OpenCV lens distortion, as a device or a rig reports it.

    ``dist`` is in OpenCV's order (k1, k2, p1, p2, k3[, k4, k5, k6]).
    """

    width: int
    height: int
    K: tuple[tuple[float, float, float], ...]
    dist: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)

    @property
    def matrix(self) -> np.ndarray:
        return np.asarray(self.K, dtype=np.float64)

    @property
    def dist_coeffs(self) -> np.ndarray:
        return np.asarray(self.dist, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "K": [list(r) for r in self.K],
            "dist": list(self.dist),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Intrinsics:
        return cls(
            width=int(d["width"]),
            height=int(d["height"]),
            K=tuple(tuple(float(v) for v in row) for row in d["K"]),
            dist=tuple(float(v) for v in d.get("dist", (0, 0, 0, 0, 0))),
        )


@dataclass(frozen=True)
class StreamSpec:
    """What a stream delivers: enough to allocate storage and to interpret pixels.

    ``shape`` is the frame array's shape (H, W) or (H, W, C); ``units`` is a short
    string such as ``"centikelvin"``, ``"depth_units"`` or ``"rgb"``; ``depth_scale``
    (metres per unit) is set for depth streams only.
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    dtype: str
    units: str
    fps: float
    depth_scale: float | None = None
    intrinsics: Intrinsics | None = None
    device: str = ""

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def frame_bytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "units": self.units,
            "fps": self.fps,
            "depth_scale": self.depth_scale,
            "intrinsics": self.intrinsics.to_dict() if self.intrinsics else None,
            "device": self.device,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StreamSpec:
        intr = d.get("intrinsics")
        return cls(
            name=d["name"],
            kind=d["kind"],
            shape=tuple(int(v) for v in d["shape"]),
            dtype=d["dtype"],
            units=d["units"],
            fps=float(d["fps"]),
            depth_scale=None if d.get("depth_scale") is None else float(d["depth_scale"]),
            intrinsics=Intrinsics.from_dict(intr) if intr else None,
            device=d.get("device", ""),
        )


@dataclass
class Frame:
    """One image from one stream.

    ``timestamp`` is seconds on the host clock shared by all streams of a source (the
    clock the synchronizer and the recorder use); ``device_timestamp`` is the camera's
    own clock, kept for diagnosis. ``truth`` carries ground truth that travels with
    the frame (synthetic sources, or replay of a synthetic session): a mapping such as
    ``{"labels": (H, W) uint8, "keypoints": (K, 2) float32}``. ``meta`` carries what
    the device said about this frame that is not pixels (a thermal camera's telemetry:
    shutter/FFC state, sensor temperature, its own frame counter).
    """

    stream: str
    index: int
    timestamp: float
    array: np.ndarray
    device_timestamp: float | None = None
    truth: dict[str, np.ndarray] | None = None
    meta: dict[str, Any] | None = None


@dataclass
class FrameSet:
    """Frames of several streams that belong to the same instant.

    ``pivot`` names the stream whose frame defined the instant (the slowest stream);
    ``offsets`` holds each frame's timestamp minus the pivot's, in seconds.
    Streams that had no frame within tolerance are absent from ``frames``.
    """

    index: int
    timestamp: float
    pivot: str
    frames: dict[str, Frame] = field(default_factory=dict)

    @property
    def offsets(self) -> dict[str, float]:
        return {n: f.timestamp - self.timestamp for n, f in self.frames.items()}

    def __getitem__(self, stream: str) -> Frame:
        return self.frames[stream]

    def __contains__(self, stream: object) -> bool:
        return stream in self.frames


@dataclass
class StreamHealth:
    """Per-stream delivery figures a person watches during a session."""

    frames: int = 0
    drops: int = 0
    duplicates: int = 0
    fps: float = 0.0
    last_timestamp: float = math.nan
    fault: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "drops": self.drops,
            "duplicates": self.duplicates,
            "fps": round(self.fps, 3),
            "fault": self.fault,
        }
