"""What surfaces look like to each camera: class label, colour, temperature, ToF return.

Each material maps the surface coordinates a primitive reports (position along a limb,
azimuth around it, plate coordinates) to what a camera measures. Temperatures follow
what thermograms of exercising legs show: the calf is warmest near the knee pit and
along its back, cooler towards the ankle and at its silhouette (skin emissivity drops
at grazing angles), with faint superficial veins; clothing and shoes are cooler,
metal and walls sit near room temperature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Room temperature the wall, floor and reflections are near, °C.
ROOM_C = 22.0

#: Calf label zone along the lower leg (0 = knee joint, 1 = ankle joint).
CALF_ZONE = (0.06, 0.86)
#: Shorts end this far along the thigh (0 = hip, 1 = knee); below is bare skin.
SHORTS_END = 0.8


class Texture:
    """A seeded, periodic, smooth noise tile (zero mean, unit std), sampled bilinearly.

    Periodic so that any surface coordinate maps into it; smooth so that it reads as
    skin mottling, fabric, paint or veins rather than pixel noise.
    """

    def __init__(self, rng: np.random.Generator, size: int = 128, sigma: float = 3.0):
        white = rng.standard_normal((size, size))
        f = np.fft.fftfreq(size)
        gauss = np.exp(-2 * (np.pi * sigma) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
        tile = np.real(np.fft.ifft2(np.fft.fft2(white) * gauss))
        tile = (tile - tile.mean()) / (tile.std() + 1e-12)
        self.size = size
        self.tile = np.pad(tile, ((0, 1), (0, 1)), mode="wrap").astype(np.float32)

    def sample(self, x: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
        """Texture at surface coordinates (metres); ``scale`` texels per metre."""
        fx = np.mod(x * np.float32(scale), self.size)
        fy = np.mod(y * np.float32(scale), self.size)
        ix = np.minimum(fx.astype(np.int32), self.size - 1)
        iy = np.minimum(fy.astype(np.int32), self.size - 1)
        ax, ay = fx - ix, fy - iy
        t = self.tile
        top = t[iy, ix] * (1 - ax) + t[iy, ix + 1] * ax
        bot = t[iy + 1, ix] * (1 - ax) + t[iy + 1, ix + 1] * ax
        return top * (1 - ay) + bot * ay


@dataclass
class Surface:
    """What a camera sees on the hit points of one material (arrays of the hit count)."""

    label: np.ndarray | int = 0
    albedo: np.ndarray | None = None
    temperature: np.ndarray | None = None
    skin: np.ndarray | float = 0.0
    dropout: np.ndarray | float = 0.0
    shiny: float = 0.0


class Material:
    """Base: a uniform surface. Subclasses vary it over the surface coordinates."""

    kind = "plain"

    def __init__(self, name: str, rgb, temp_c: float, label: int = 0, dropout: float = 0.0, shiny: float = 0.0):
        self.name = name
        self.rgb = np.asarray(rgb, dtype=np.float32)
        self.temp_c = float(temp_c)
        self.label = int(label)
        self.dropout = float(dropout)
        self.shiny = float(shiny)

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        n = len(a["t"])
        return Surface(
            label=self.label,
            albedo=np.broadcast_to(self.rgb, (n, 3)),
            temperature=np.full(n, self.temp_c, np.float32),
            dropout=self.dropout,
            shiny=self.shiny,
        )


class LowerLeg(Material):
    """Knee skin, the labelled calf, then a sock down to the shoe."""

    kind = "lower_leg"

    def __init__(self, name: str, label: int, skin_rgb, skin_c: float, sock_rgb):
        super().__init__(name, skin_rgb, skin_c, label)
        self.sock_rgb = np.asarray(sock_rgb, dtype=np.float32)

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        s, cp = a["s"], a["cos_post"]
        veins = tex.sample(a["arc"] * 0.6, a["axial"] * 0.25 + 3.1, 420.0)
        mottle = tex.sample(a["arc"] + 7.3, a["axial"] + 1.7, 900.0)
        skin_t = (
            self.temp_c
            + 0.9 * np.exp(-((s / 0.16) ** 2))
            - 1.5 * s
            + 0.5 * cp
            + 0.18 * np.maximum(veins, 0) ** 2
        )
        sock = s > CALF_ZONE[1]
        sock_t = self.temp_c - 3.2 + 0.4 * cp + 0.1 * mottle
        stripe = (s > 0.885) & (s < 0.905)
        skin_rgb = self.rgb * (1.0 + 0.04 * mottle)[:, None]
        sock_rgb = np.where(stripe[:, None], self.sock_rgb * 0.35, self.sock_rgb)
        calf = (s >= CALF_ZONE[0]) & ~sock
        return Surface(
            label=np.where(calf, self.label, 0).astype(np.uint8),
            albedo=np.where(sock[:, None], sock_rgb, skin_rgb),
            temperature=np.where(sock, sock_t, skin_t).astype(np.float32),
            skin=(~sock).astype(np.float32),
        )


class Thigh(Material):
    """Cycling shorts (black lycra) down to just above the knee, then skin."""

    kind = "thigh"

    def __init__(self, name: str, skin_rgb, skin_c: float, cloth_rgb):
        super().__init__(name, skin_rgb, skin_c)
        self.cloth_rgb = np.asarray(cloth_rgb, dtype=np.float32)

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        s, cp = a["s"], a["cos_post"]
        fabric = tex.sample(a["arc"] * 3.0, a["axial"] * 3.0, 600.0)
        cloth = s < SHORTS_END
        cloth_t = self.temp_c - 2.6 + 0.6 * cp + 1.2 * s + 0.1 * fabric
        skin_t = self.temp_c + 0.5 + 0.4 * cp
        cloth_rgb = self.cloth_rgb * (1.0 + 0.15 * fabric)[:, None]
        return Surface(
            label=0,
            albedo=np.where(cloth[:, None], cloth_rgb, np.broadcast_to(self.rgb, cloth_rgb.shape)),
            temperature=np.where(cloth, cloth_t, skin_t).astype(np.float32),
            skin=(~cloth).astype(np.float32),
            shiny=0.0,
        )


class Shoe(Material):
    """A cycling/running shoe: coloured upper, white sole; dark uppers return little IR."""

    kind = "shoe"

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        up = a["up"]
        sole = (a["normal"] @ up) < -0.35
        s = a["s"]
        n = len(s)
        grain = tex.sample(a["arc"] * 2.0, a["axial"] * 2.0, 800.0)
        upper = self.rgb * (1.0 + 0.08 * grain)[:, None]
        return Surface(
            label=0,
            albedo=np.where(sole[:, None], np.float32(0.88), upper),
            temperature=(self.temp_c + 1.4 * (1 - s) - np.where(sole, 1.5, 0.0) + 0.15 * grain).astype(np.float32),
            dropout=np.where(sole, 0.0, self.dropout) * np.ones(n, np.float32),
        )


class Limb(Material):
    """Uniform cloth on a limb-shaped solid (torso shirt, pelvis in shorts, saddle)."""

    kind = "limb"

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        fabric = tex.sample(a["arc"] * 2.0 + 5.0, a["axial"] * 2.0, 500.0)
        return Surface(
            label=0,
            albedo=self.rgb * (1.0 + 0.1 * fabric)[:, None],
            temperature=(self.temp_c + 0.5 * a["cos_post"] + 0.1 * fabric).astype(np.float32),
            dropout=self.dropout,
            shiny=self.shiny,
        )


class Wall(Material):
    """A painted wall or floor: gentle temperature gradient, faint texture."""

    kind = "wall"

    def __init__(self, name: str, rgb, temp_c: float, grad_u: float, grad_v: float, speckle: float):
        super().__init__(name, rgb, temp_c)
        self.grad = (grad_u, grad_v)
        self.speckle = speckle

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        u, v = a["u"], a["v"]
        coarse = tex.sample(u, v, 60.0)
        fine = tex.sample(u + 11.0, v + 5.0, 900.0)
        tint = 1.0 + 0.03 * coarse + self.speckle * fine
        return Surface(
            label=0,
            albedo=self.rgb * tint[:, None],
            temperature=(self.temp_c + self.grad[0] * u + self.grad[1] * v + 0.05 * coarse).astype(np.float32),
        )


class Checker(Material):
    """A calibration board: black squares are heated (warm), white ones bare metal (cool).

    The pattern is box-filtered over each pixel's footprint analytically (a square
    wave's integral is a triangle wave), so the edges are antialiased and corners sit
    where the geometry says, to a small fraction of a pixel.
    """

    kind = "checker"

    def __init__(self, name: str, cols: int, rows: int, square: float, warm_c: float, cool_c: float):
        super().__init__(name, (0.92, 0.92, 0.9), cool_c)
        self.cols, self.rows, self.square = cols, rows, square
        self.warm_c = warm_c

    def _wave(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        S = np.float32(self.square)

        def integral(z):
            return S * (1 - np.abs(np.mod(z / S, 2) - 1))

        w = np.maximum(w, np.float32(1e-6))
        return (integral(x + w / 2) - integral(x - w / 2)) / w

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        u, v = a["u"], a["v"]
        S = self.square
        w = a["footprint"]
        inside = (u >= -S) & (u <= self.cols * S) & (v >= -S) & (v <= self.rows * S)
        black = 0.5 + 0.5 * self._wave(u, w) * self._wave(v, w)
        black = np.where(inside, np.clip(black, 0, 1), 0).astype(np.float32)
        front = a["front"]
        black = np.where(front, black, 0)
        grey = np.where(front, 0.92 - 0.87 * black, 0.45).astype(np.float32)
        temp = np.where(front, self.temp_c + (self.warm_c - self.temp_c) * black, self.temp_c - 1.0)
        return Surface(
            label=0,
            albedo=np.repeat(grey[:, None], 3, axis=1),
            temperature=temp.astype(np.float32),
            dropout=0.0,
        )
