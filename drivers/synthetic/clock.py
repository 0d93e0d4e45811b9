"""Camera clocks of the synthetic rig: exposure grids with offset and trigger jitter.

Jitter comes from a counter-based hash of (seed, stream, frame), not from a random
stream, so frame k's timestamp is the same whether or not earlier frames were dropped.
"""

from __future__ import annotations

import math

_MASK64 = (1 << 64) - 1
#: Epoch of each camera's own clock (seconds it had been running when the host's began).
DEVICE_EPOCH = {"thermal": 5123.25, "depth": 871.5, "ir": 871.5, "color": 42.125}


def hash_unit(*values: int) -> float:
    """A uniform number in [0, 1) from integers (splitmix64): noise that needs no state."""
    x = 0x9E3779B97F4A7C15
    for v in values:
        x = (x ^ (int(v) & _MASK64)) & _MASK64
        x = (x + 0x9E3779B97F4A7C15) & _MASK64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
        x ^= x >> 31
    return (x >> 11) / float(1 << 53)


class CameraClock:
    """One camera's exposure grid (scene seconds)."""

    def __init__(self, stream: str, sid: int, fps: float, offset: float, jitter: float, seed: int):
        self.stream, self.sid, self.fps, self.offset = stream, sid, fps, offset
        self.period = 1.0 / fps
        self.jitter = min(jitter, 0.08 * self.period)
        self.seed = seed
        self.index = 0

    def at(self, k: int) -> float:
        t = self.offset + k * self.period
        if self.jitter > 0:
            u1 = max(hash_unit(self.seed, self.sid, k, 1), 1e-12)
            u2 = hash_unit(self.seed, self.sid, k, 2)
            g = abs(math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2))
            t += min(g, 3.0) * self.jitter
        return t
