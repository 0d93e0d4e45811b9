"""Sensor effects: fixed-pattern noise, vignetting, per-frame noise from noise banks.

Fresh Gaussian noise for a 1280x720x3 image costs more than rendering a cached
frame, so each stream draws once, at start-up, a bank a little larger than one frame
and every frame adds a contiguous slice of it at a random offset: statistically fresh
noise for the price of one saturating add.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Thermal temporal noise (NETD ~50 mK) in centikelvin.
THERMAL_NOISE_CK = 5.0
#: ToF depth noise at 1.5 m, metres; grows with the square of the distance.
DEPTH_NOISE_M = 0.0015
#: RGB read noise, digital numbers.
COLOR_NOISE_DN = 2.2
#: ToF range limit: no return beyond it.
DEPTH_MAX_M = 4.5
DEPTH_SCALE = 0.001
#: IR amplitude of a white Lambertian target 1 m away, head-on (16-bit counts).
IR_GAIN = 2400.0
#: IR noise: shot noise (variance IR_SHOT × amplitude) plus read noise, in counts.
IR_SHOT = 2.0
IR_READ_NOISE = 4.0

_BANK_SLACK = 65536


def _rng(seed: int, stream: str, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, sum(map(ord, stream)), salt])


class Sensor:
    """Per-stream pixel-fixed fields and the noise bank of one camera."""

    def __init__(self, kind: str, width: int, height: int, seed: int):
        self.kind = kind
        self.shape = (height, width, 3) if kind == "color" else (height, width)
        n = int(np.prod(self.shape))
        rng = _rng(seed, kind, 1)
        xx = np.arange(width, dtype=np.float32)[None, :]
        yy = np.arange(height, dtype=np.float32)[:, None]
        r2 = ((xx - width / 2) / (width / 2)) ** 2 + ((yy - height / 2) / (height / 2)) ** 2
        #: Depth: two per-pixel uniform fields: which pixels fly / drop, and by how much.
        self.rand_a: np.ndarray | None = None
        self.rand_b: np.ndarray | None = None
        if kind == "depth":
            self.rand_a = rng.random((height, width), dtype=np.float32)
            self.rand_b = rng.random((height, width), dtype=np.float32)
        if kind == "thermal":
            cols = rng.normal(0, 3.0, (1, width))
            pix = rng.normal(0, 2.0, (height, width))
            self.fpn = np.rint(cols + pix - 22.0 * r2).astype(np.int32)
            noise = np.rint(rng.normal(0, THERMAL_NOISE_CK, n + _BANK_SLACK)).astype(np.int16)
            self.bank = noise.view(np.uint16)
        elif kind in ("depth", "ir"):
            self.bank = rng.standard_normal(n + _BANK_SLACK, dtype=np.float32)
            if kind == "ir":  # the ToF illuminator lights the centre best
                self.vignette = (1.0 - 0.2 * r2).astype(np.float32)
        else:
            self.vignette = (1.0 - 0.12 * r2).astype(np.float32)
            # Single precision and 8-bit steps: a tenth of the memory a float64 bank
            # touches, which is most of what opening the demo cost (~0.5 s to ~0.05 s).
            noise = rng.standard_normal(n + _BANK_SLACK, dtype=np.float32)
            noise *= np.float32(COLOR_NOISE_DN)
            steps = np.rint(noise, out=noise).astype(np.int8)  # |noise| < 128: 58 sigma
            self.bank_pos = np.maximum(steps, 0).view(np.uint8)
            self.bank_neg = np.maximum(np.negative(steps), 0).view(np.uint8)
        self._n = n

    def _slice(self, bank: np.ndarray, offset: int) -> np.ndarray:
        o = int(offset) % _BANK_SLACK
        return bank[o : o + self._n].reshape(self.shape)

    # -- post-processing of clean renders (cached) ----------------------------------
    def thermal_post(
        self, temp_c: np.ndarray, skin: np.ndarray, rect
    ) -> tuple[np.ndarray, np.ndarray]:
        """Optical blur, then centikelvin with fixed-pattern noise; warming weight 0-255."""
        r0, r1, c0, c1 = rect
        blur = cv2.GaussianBlur(temp_c, (5, 5), 0.8, borderType=cv2.BORDER_REPLICATE)
        skin_b = cv2.GaussianBlur(skin, (5, 5), 0.8, borderType=cv2.BORDER_REPLICATE)
        ck = np.rint((blur + np.float32(273.15)) * 100.0).astype(np.int32) + self.fpn[r0:r1, c0:c1]
        weight = np.rint(np.clip(skin_b, 0, 1) * 255).astype(np.uint8)
        return np.clip(ck, 0, 65535).astype(np.uint16), weight

    def depth_post(self, z: np.ndarray, drop: np.ndarray, rect) -> np.ndarray:
        """Flying pixels at depth edges, then no-return zeros, in depth units."""
        r0, r1, c0, c1 = rect
        assert self.rand_a is not None and self.rand_b is not None  # a depth sensor's
        kernel = np.ones((3, 3), np.uint8)
        zmax = cv2.dilate(z, kernel, borderType=cv2.BORDER_REPLICATE)
        zmin = cv2.erode(z, kernel, borderType=cv2.BORDER_REPLICATE)
        ra, rb = self.rand_a[r0:r1, c0:c1], self.rand_b[r0:r1, c0:c1]
        fly = ((zmax - zmin) > 0.05) & (ra < 0.4)
        mixed = zmin + (0.15 + 0.7 * rb) * (zmax - zmin)
        out = np.where(fly, mixed, z)
        out = np.where(drop | (out > DEPTH_MAX_M), 0.0, out / DEPTH_SCALE)
        return np.clip(np.rint(out), 0, 65535).astype(np.uint16)

    def ir_post(self, amp: np.ndarray, rect) -> np.ndarray:
        """Lens blur and illumination fall-off, to 16-bit amplitude counts."""
        r0, r1, c0, c1 = rect
        blur = cv2.GaussianBlur(amp, (3, 3), 0.6, borderType=cv2.BORDER_REPLICATE)
        blur *= self.vignette[r0:r1, c0:c1] * np.float32(IR_GAIN)
        return np.clip(np.rint(blur), 0, 65535).astype(np.uint16)

    def color_post(self, rgb: np.ndarray, rect) -> np.ndarray:
        """Slight lens blur and vignetting, to 8 bits."""
        r0, r1, c0, c1 = rect
        blur = cv2.GaussianBlur(rgb, (3, 3), 0.55, borderType=cv2.BORDER_REPLICATE)
        blur *= self.vignette[r0:r1, c0:c1, None]
        return np.clip(np.rint(blur), 0, 255).astype(np.uint8)

    # -- per frame ------------------------------------------------------------------
    def thermal_frame(self, base: np.ndarray, offset: int) -> np.ndarray:
        """Temporal noise on a thermal frame (uint16 wrap-around add of signed noise)."""
        np.add(base, self._slice(self.bank, offset), out=base)
        return base

    def depth_frame(self, base: np.ndarray, offset: int) -> np.ndarray:
        """Range-dependent ToF noise; zeros stay zeros, a rare fresh dropout appears."""
        z = base.astype(np.float32)
        noise = self._slice(self.bank, offset)
        k = np.float32(DEPTH_NOISE_M * DEPTH_SCALE / (1.5 * 1.5))
        z += noise * (z * z * k)
        z[np.abs(noise) > 3.7] = 0
        np.rint(z, out=z)
        return np.clip(z, 0, 65535).astype(np.uint16)

    def ir_frame(self, base: np.ndarray, offset: int) -> np.ndarray:
        """Shot and read noise on an IR amplitude frame."""
        a = base.astype(np.float32)
        sigma = np.sqrt(a * np.float32(IR_SHOT) + np.float32(IR_READ_NOISE**2))
        a += self._slice(self.bank, offset) * sigma
        np.rint(a, out=a)
        return np.clip(a, 0, 65535).astype(np.uint16)

    def color_frame(self, base: np.ndarray, offset: int) -> np.ndarray:
        cv2.add(base, self._slice(self.bank_pos, offset), dst=base)
        cv2.subtract(base, self._slice(self.bank_neg, offset + 7919), dst=base)
        return base
