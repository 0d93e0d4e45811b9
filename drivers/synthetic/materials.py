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

import cv2
import numpy as np

#: Room temperature the wall, floor and reflections are near, °C.
ROOM_C = 22.0

#: Camera kinds that see reflected light (albedo): RGB, and the ToF camera's IR image
#: (near-infrared; the scenes use the visible albedo for it too).
REFLECTIVE = ("color", "ir")

#: Calf label zone along the lower leg (0 = knee joint, 1 = ankle joint).
CALF_ZONE = (0.06, 0.86)
#: Shorts end this far along the thigh (0 = hip, 1 = knee); below is bare skin.
SHORTS_END = 0.8


class Texture:
    """A seeded, periodic, smooth noise tile (zero mean, unit std).

    Periodic so that any surface coordinate maps into it; smooth so that it reads as
    skin mottling, fabric, paint or veins rather than pixel noise. The tile is made
    4x oversampled so a nearest-texel lookup (one gather) is as smooth as bilinear.
    """

    OVERSAMPLE = 4

    def __init__(self, rng: np.random.Generator, size: int = 128, sigma: float = 3.0):
        white = rng.standard_normal((size, size))
        big = size * self.OVERSAMPLE
        f = np.fft.fftfreq(size)
        gauss = np.exp(-2 * (np.pi * sigma) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
        spec = np.fft.fft2(white) * gauss
        # Zero-pad the spectrum: band-limited (exact) upsampling of the periodic tile.
        padded = np.zeros((big, big), complex)
        h = size // 2
        for rs, rd in ((slice(0, h), slice(0, h)), (slice(h, size), slice(big - h, big))):
            for cs, cd in ((slice(0, h), slice(0, h)), (slice(h, size), slice(big - h, big))):
                padded[rd, cd] = spec[rs, cs]
        tile = np.real(np.fft.ifft2(padded))
        tile = (tile - tile.mean()) / (tile.std() + 1e-12)
        self.size = big
        self.flat = tile.astype(np.float32).ravel()

    def sample(self, x: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
        """Texture at surface coordinates (metres); ``scale`` texels (of 128) per metre."""
        k = np.float32(scale * self.OVERSAMPLE)
        mask = self.size - 1
        ix = (x * k).astype(np.int64) & mask
        iy = (y * k).astype(np.int64) & mask
        return self.flat[iy * self.size + ix]


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
    """Base: a uniform surface. Subclasses vary it over the surface coordinates.

    ``shade`` gets the hit points' attributes, including ``kind`` (the camera:
    thermal, depth or color), and fills only what that camera measures.
    """

    def __init__(
        self,
        name: str,
        rgb,
        temp_c: float,
        label: int = 0,
        dropout: float = 0.0,
        shiny: float = 0.0,
    ):
        self.name = name
        self.rgb = np.asarray(rgb, dtype=np.float32)
        self.temp_c = float(temp_c)
        self.label = int(label)
        self.dropout = float(dropout)
        self.shiny = float(shiny)

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        n = len(a["t"])
        kind = a["kind"]
        return Surface(
            label=self.label,
            albedo=np.broadcast_to(self.rgb, (n, 3)) if kind in REFLECTIVE else None,
            temperature=np.full(n, self.temp_c, np.float32) if kind == "thermal" else None,
            dropout=self.dropout,
            shiny=self.shiny,
        )


class LowerLeg(Material):
    """Knee skin, the labelled calf, then a sock down to the shoe."""

    def __init__(self, name: str, label: int, skin_rgb, skin_c: float, sock_rgb):
        super().__init__(name, skin_rgb, skin_c, label)
        self.sock_rgb = np.asarray(sock_rgb, dtype=np.float32)

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        s, kind = a["s"], a["kind"]
        sock = s > CALF_ZONE[1]
        calf = (s >= CALF_ZONE[0]) & ~sock
        out = Surface(label=np.where(calf, np.uint8(self.label), np.uint8(0)))
        if kind == "thermal":
            cp = a["cos_post"]
            veins = tex.sample(a["arc"] * 0.6, a["axial"] * 0.25 + 3.1, 420.0)
            skin_t = (
                self.temp_c
                + 0.9 * np.exp(-((s / 0.16) ** 2))
                - 1.5 * s
                + 0.5 * cp
                + 0.18 * np.maximum(veins, 0) ** 2
            )
            sock_t = self.temp_c - 3.2 + 0.4 * cp
            out.temperature = np.where(sock, sock_t, skin_t).astype(np.float32)
            out.skin = (~sock).astype(np.float32)
        elif kind in REFLECTIVE:
            mottle = tex.sample(a["arc"] + 7.3, a["axial"] + 1.7, 900.0)
            stripe = (s > 0.885) & (s < 0.905)
            skin_rgb = self.rgb * (1.0 + 0.04 * mottle)[:, None]
            sock_rgb = np.where(stripe[:, None], self.sock_rgb * 0.35, self.sock_rgb)
            out.albedo = np.where(sock[:, None], sock_rgb, skin_rgb)
        return out


class Thigh(Material):
    """Shorts down to ``shorts_end`` along the thigh (0 hip, 1 knee; the reference's
    black lycra ends just above the knee), then skin."""

    def __init__(self, name: str, skin_rgb, skin_c: float, cloth_rgb, shorts_end=SHORTS_END):
        super().__init__(name, skin_rgb, skin_c)
        self.cloth_rgb = np.asarray(cloth_rgb, dtype=np.float32)
        self.shorts_end = float(shorts_end)

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        s, kind = a["s"], a["kind"]
        cloth = s < self.shorts_end
        out = Surface(label=0)
        if kind == "thermal":
            cp = a["cos_post"]
            cloth_t = self.temp_c - 2.6 + 0.6 * cp + 1.2 * s
            skin_t = self.temp_c + 0.5 + 0.4 * cp
            out.temperature = np.where(cloth, cloth_t, skin_t).astype(np.float32)
            out.skin = (~cloth).astype(np.float32)
        elif kind in REFLECTIVE:
            fabric = tex.sample(a["arc"] * 3.0, a["axial"] * 3.0, 600.0)
            cloth_rgb = self.cloth_rgb * (1.0 + 0.15 * fabric)[:, None]
            out.albedo = np.where(cloth[:, None], cloth_rgb, self.rgb)
        return out


class Shoe(Material):
    """A cycling/running shoe: coloured upper, white sole; dark uppers return little IR."""

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        kind = a["kind"]
        sole = (a["normal"] @ a["up"]) < -0.35
        out = Surface(label=0)
        if kind == "thermal":
            out.temperature = (self.temp_c + 1.4 * (1 - a["s"]) - np.where(sole, 1.5, 0.0)).astype(
                np.float32
            )
        elif kind in REFLECTIVE:
            grain = tex.sample(a["arc"] * 2.0, a["axial"] * 2.0, 800.0)
            upper = self.rgb * (1.0 + 0.08 * grain)[:, None]
            out.albedo = np.where(sole[:, None], np.float32(0.88), upper)
        else:
            out.dropout = np.where(sole, np.float32(0.0), np.float32(self.dropout))
        return out


class Limb(Material):
    """Uniform cloth on a limb-shaped solid (torso shirt, pelvis in shorts, saddle)."""

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        kind = a["kind"]
        out = Surface(label=0, dropout=self.dropout, shiny=self.shiny)
        if kind == "thermal":
            out.temperature = (self.temp_c + 0.5 * a["cos_post"]).astype(np.float32)
        elif kind in REFLECTIVE:
            fabric = tex.sample(a["arc"] * 2.0 + 5.0, a["axial"] * 2.0, 500.0)
            out.albedo = self.rgb * (1.0 + 0.1 * fabric)[:, None]
        return out


class Wall(Material):
    """A painted wall or floor: gentle temperature gradient, faint texture."""

    def __init__(self, name: str, rgb, temp_c: float, grad_u: float, grad_v: float, speckle: float):
        super().__init__(name, rgb, temp_c)
        self.grad = (grad_u, grad_v)
        self.speckle = speckle

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        u, v, kind = a["u"], a["v"], a["kind"]
        out = Surface(label=0)
        if kind == "thermal":
            coarse = tex.sample(u, v, 60.0)
            out.temperature = (
                self.temp_c + self.grad[0] * u + self.grad[1] * v + 0.05 * coarse
            ).astype(np.float32)
        elif kind in REFLECTIVE:
            coarse = tex.sample(u, v, 60.0)
            fine = tex.sample(u + 11.0, v + 5.0, 900.0)
            tint = 1.0 + 0.03 * coarse + self.speckle * fine
            out.albedo = self.rgb * tint[:, None]
        return out


class PrintMarks:
    """What a board's print changes on a plain checkerboard (markers, a white area), as
    a mip-mapped texture of blackness differences in [-1, 1].

    The checker itself stays analytic (exact corners); the marks only need to be
    readable, so a mip level whose texels match the pixel footprint, sampled
    bilinearly, is filter enough. ``diff`` covers the board from ``(u0, v0)`` metres
    in texels of ``texel`` metres; only the box around its non-zero texels is sampled.
    """

    def __init__(self, diff: np.ndarray, texel: float, u0: float, v0: float):
        self.texel, self.u0, self.v0 = float(texel), float(u0), float(v0)
        level = np.asarray(diff, np.float32)
        self.levels = [level]
        while min(level.shape) >= 16 and len(self.levels) < 8:
            h, w = level.shape
            level = cv2.resize(level, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
            self.levels.append(level)
        rows, cols = np.nonzero(diff)
        pad = 2.0
        self.box = (
            u0 + (cols.min() - pad) * texel,
            u0 + (cols.max() + 1 + pad) * texel,
            v0 + (rows.min() - pad) * texel,
            v0 + (rows.max() + 1 + pad) * texel,
        )

    def sample(self, u: np.ndarray, v: np.ndarray, footprint: np.ndarray) -> np.ndarray:
        """Blackness difference at surface points, filtered over ``footprint`` metres."""
        out = np.zeros(u.shape, np.float32)
        u0, u1, v0, v1 = self.box
        idx = np.flatnonzero((u >= u0) & (u <= u1) & (v >= v0) & (v <= v1))
        if idx.size == 0:
            return out
        uu, vv = u[idx], v[idx]
        ratio = np.maximum(footprint[idx] / np.float32(self.texel), 1.0)
        lvl = np.minimum(np.floor(np.log2(ratio)), len(self.levels) - 1).astype(np.int8)
        vals = np.empty(idx.size, np.float32)
        for level in np.unique(lvl):
            k = np.flatnonzero(lvl == level)
            e = np.float32(self.texel * 2.0 ** int(level))
            x = (uu[k] - np.float32(self.u0)) / e - np.float32(0.5)
            y = (vv[k] - np.float32(self.v0)) / e - np.float32(0.5)
            vals[k] = _bilinear(self.levels[int(level)], x, y)
        out[idx] = vals
        return out


def _bilinear(tex: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``tex`` at float texel coordinates (0 outside), via cv2.remap in row blocks."""
    n = x.size
    width = 1024
    rows = -(-n // width)
    mx = np.full(rows * width, -10.0, np.float32)
    my = np.full(rows * width, -10.0, np.float32)
    mx[:n], my[:n] = x, y
    res = cv2.remap(
        tex,
        mx.reshape(rows, width),
        my.reshape(rows, width),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return res.ravel()[:n]


class Checker(Material):
    """A calibration board: black squares are heated (warm), white ones bare metal (cool).

    The pattern is box-filtered over each pixel's footprint analytically (a square
    wave's integral is a triangle wave), so the edges are antialiased and corners sit
    where the geometry says, to a small fraction of a pixel. ``marks`` adds what a
    coded or ChArUco print changes (markers, the white area around a coded marker);
    black marks are heated like the black squares.

    The renderer shades a board plate through :mod:`drivers.synthetic.board_shading`,
    the same arithmetic compiled; this numpy form is the reference it is tested
    against (``tests/test_synthetic_board_shading.py``): change the two together.
    """

    def __init__(
        self,
        name: str,
        cols: int,
        rows: int,
        square: float,
        warm_c: float,
        cool_c: float,
        marks: PrintMarks | None = None,
    ):
        super().__init__(name, (0.92, 0.92, 0.9), cool_c)
        self.cols, self.rows, self.square = cols, rows, square
        self.warm_c = warm_c
        self.marks = marks

    def _box(self, x: np.ndarray, w: np.ndarray, hi: float) -> tuple[np.ndarray, np.ndarray]:
        """Box filters over [x - w/2, x + w/2] of the indicator of [-S, hi] and of the
        square wave (+1 on the first square) times that indicator."""
        S = np.float32(self.square)

        def integral(z):  # of the square wave, which is +1 on [0, S), -1 on [S, 2S)
            # S (1 - |((z / S) mod 2) - 1|), with floor instead of np.mod (14x faster
            # on float32 arrays; the same values to float32 rounding).
            q = z * np.float32(0.5 / S)
            q -= np.floor(q)
            q -= np.float32(0.5)
            np.abs(q, out=q)
            return (np.float32(0.5) - q) * np.float32(2.0 * S)

        a = np.clip(x - w / 2, -S, np.float32(hi))
        b = np.clip(x + w / 2, -S, np.float32(hi))
        return (b - a) / w, (integral(b) - integral(a)) / w

    def blackness(self, a: dict[str, Any]) -> np.ndarray:
        """Fraction of each pixel's footprint covered by black squares (printed face).

        black = (1 + sq(u) sq(v)) / 2 inside the squares and 0 outside is a sum of two
        separable terms, so its box filter is exact: no halo at the pattern's edge.
        """
        w = np.maximum(a["footprint"], np.float32(1e-6))
        S = self.square
        iu, su = self._box(a["u"], w, self.cols * S)
        iv, sv = self._box(a["v"], w, self.rows * S)
        black = 0.5 * (iu * iv + su * sv)
        if self.marks is not None:
            black = black + self.marks.sample(a["u"], a["v"], w)
        black = np.where(~a["front"], np.clip(black, 0, 1), 0)
        return black.astype(np.float32)

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        # The printed face looks along the board's -z (z = x cross y points into the
        # board, as in the poses solvePnP reports), i.e. opposite to the plate normal.
        kind, front = a["kind"], ~a["front"]
        out = Surface(label=0)
        if kind == "thermal":
            black = self.blackness(a)
            temp = np.where(
                front, self.temp_c + (self.warm_c - self.temp_c) * black, self.temp_c - 1.0
            )
            out.temperature = temp.astype(np.float32)
        elif kind == "ir":  # one reflectance is enough for the IR image
            out.albedo = np.where(front, 0.92 - 0.87 * self.blackness(a), 0.45).astype(np.float32)
        elif kind == "color":
            grey = np.where(front, 0.92 - 0.87 * self.blackness(a), 0.45).astype(np.float32)
            out.albedo = np.repeat(grey[:, None], 3, axis=1)
        return out
