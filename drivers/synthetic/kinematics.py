"""Leg kinematics for pedalling and running, in world metres (X right, Y forward, Z up).

Feet are driven by what constrains them — the pedal on its crank circle, the belt
under the stance foot — and knees follow from two-link inverse kinematics with the
hip fixed on the saddle (cycling) or bobbing over the belt (running). That keeps
segment lengths exact at every phase, so the ground truth never shows a stretching
shin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

UP = np.array([0.0, 0.0, 1.0])
FORWARD = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Body:
    """Segment lengths of one subject (varies a little with the seed)."""

    thigh: float = 0.43
    shank: float = 0.43
    hip_width: float = 0.18
    #: Ankle joint to the back of the heel / to the ball of the foot, along the foot.
    heel_back: float = 0.05
    ball_fwd: float = 0.125
    #: Ankle joint height above the sole.
    ankle_up: float = 0.095


def knee_ik(
    hip: np.ndarray, ankle: np.ndarray, thigh: float, shank: float, hint: np.ndarray
) -> np.ndarray:
    """The knee of a two-link leg reaching from ``hip`` to ``ankle``, bent towards ``hint``.

    A reach beyond the leg's length straightens the knee (the ankle is then treated as
    lying on the hip-ankle line at full length) instead of failing.
    """
    d_vec = ankle - hip
    d = float(np.linalg.norm(d_vec))
    e = d_vec / d
    d = min(d, 0.9999 * (thigh + shank))
    a = (thigh**2 - shank**2 + d**2) / (2 * d)
    h = math.sqrt(max(thigh**2 - a**2, 0.0))
    n = hint - (hint @ e) * e
    n /= np.linalg.norm(n)
    return hip + a * e + h * n


def foot_frame(pitch_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (toe direction, sole normal up) of a foot pitched toe-down by ``pitch``."""
    p = math.radians(pitch_deg)
    f = np.array([0.0, math.cos(p), -math.sin(p)])
    g = np.array([0.0, math.sin(p), math.cos(p)])
    return f, g


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


@dataclass(frozen=True)
class Pedalling:
    """Crank kinematics: cranks of ``crank`` m about the bottom bracket ``bb``.

    Phase 0 puts the right pedal at top dead centre; the left crank is opposite.
    The hip height is set so the leg is ~96 % extended at its longest reach.
    """

    body: Body
    bb: tuple[float, float, float] = (0.0, 0.0, 0.29)
    crank: float = 0.17
    hip_back: float = 0.20
    q_half: float = 0.135

    def hip_height(self) -> float:
        """Hip height over the bottom bracket that gives a 96 % extended leg at its longest."""
        lo, hi = 0.4, 1.2
        target = 0.96 * (self.body.thigh + self.body.shank)
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            reach = max(
                float(np.linalg.norm(self.ankle(ph, +1) - self._hip(+1, mid)))
                for ph in np.linspace(0, 1, 72, endpoint=False)
            )
            lo, hi = (mid, hi) if reach < target else (lo, mid)
        return 0.5 * (lo + hi)

    def _hip(self, side: int, height: float) -> np.ndarray:
        bx, by, bz = self.bb
        return np.array([side * self.body.hip_width / 2, by - self.hip_back, bz + height])

    def crank_angle(self, phase: float, side: int) -> float:
        return 2 * math.pi * phase + (0.0 if side > 0 else math.pi)

    def spindle(self, phase: float, side: int, x: float) -> np.ndarray:
        a = self.crank_angle(phase, side)
        bx, by, bz = self.bb
        return np.array([x, by + self.crank * math.sin(a), bz + self.crank * math.cos(a)])

    def foot_pitch(self, phase: float, side: int) -> float:
        """Toe-down angle: ankling through the stroke, flattest over the top."""
        a = self.crank_angle(phase, side)
        return 16.0 + 9.0 * math.sin(a - math.radians(40))

    def ankle(self, phase: float, side: int) -> np.ndarray:
        spindle = self.spindle(phase, side, side * self.q_half)
        f, g = foot_frame(self.foot_pitch(phase, side))
        return spindle - self.body.ball_fwd * f + (self.body.ankle_up + 0.012) * g

    def legs(self, phase: float, hip_height: float) -> dict[str, dict[str, np.ndarray]]:
        """Joint positions per side: hip, knee, ankle, toe direction ``f``, sole normal ``g``."""
        out = {}
        for name, side in (("right", +1), ("left", -1)):
            hip = self._hip(side, hip_height)
            ankle = self.ankle(phase, side)
            hint = FORWARD + np.array([0.12 * side, 0.0, 0.0])
            knee = knee_ik(hip, ankle, self.body.thigh, self.body.shank, hint)
            f, g = foot_frame(self.foot_pitch(phase, side))
            out[name] = {"hip": hip, "knee": knee, "ankle": ankle, "f": f, "g": g}
        return out


@dataclass(frozen=True)
class Running:
    """A running gait on a treadmill belt at height ``belt_z`` moving back at ``speed``.

    Phase 0 is the right foot's initial contact; the stance foot rides the belt, the
    swing foot recovers behind and reaches forward on a smooth Hermite path, and the
    pelvis dips at each mid-stance.
    """

    body: Body
    speed: float
    stride_period: float
    belt_z: float = 0.18
    duty: float = 0.34
    half_width: float = 0.095

    @property
    def stance_travel(self) -> float:
        return self.speed * self.duty * self.stride_period

    def ankle(self, psi: float) -> tuple[np.ndarray, float]:
        """Ankle (Y, Z) and toe-down pitch of one leg at its own phase ``psi``."""
        psi %= 1.0
        D = self.stance_travel
        y_c, y_to = 0.55 * D, -0.45 * D
        low, high = self.belt_z + self.body.ankle_up, self.belt_z + self.body.ankle_up + 0.075
        if psi < self.duty:
            x = psi / self.duty
            y = y_c - D * x
            z = low + (high - low) * _smoothstep((x - 0.45) / 0.55)
            pitch = -8.0 + 12.0 * _smoothstep(x / 0.3) + 31.0 * _smoothstep((x - 0.5) / 0.5)
            return np.array([y, z]), pitch
        s = (psi - self.duty) / (1 - self.duty)
        span = (1 - self.duty) * self.stride_period
        v0, v1 = -self.speed * span, -0.3 * self.speed * span
        h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
        h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
        y = h00 * y_to + h10 * v0 + h01 * y_c + h11 * v1
        lift = (0.10 + 0.028 * self.speed) * math.sin(math.pi * s**0.7) ** 1.3
        z = high * (1 - s) + low * s + lift
        pitch = 35.0 - 43.0 * _smoothstep(s / 0.85)
        return np.array([y, z]), pitch

    def pelvis_z(self, psi: float, hip_height: float) -> float:
        return self.belt_z + hip_height - 0.03 * math.cos(4 * math.pi * (psi - 0.17))

    def hip_height(self) -> float:
        """Hip height over the belt at which the longest reach is ~98.5 % of the leg."""
        lo, hi = 0.5, 1.3
        target = 0.985 * (self.body.thigh + self.body.shank)
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            reach = 0.0
            for psi in np.linspace(0, 1, 96, endpoint=False):
                yz, _ = self.ankle(psi)
                dz = self.pelvis_z(psi, mid) - yz[1]
                reach = max(reach, math.hypot(yz[0], dz))
            lo, hi = (mid, hi) if reach < target else (lo, mid)
        return 0.5 * (lo + hi)

    def legs(self, phase: float, hip_height: float) -> dict[str, dict[str, np.ndarray]]:
        out = {}
        pz = self.pelvis_z(phase, hip_height)
        for name, side, offset in (("right", +1, 0.0), ("left", -1, 0.5)):
            yz, pitch = self.ankle(phase + offset)
            hip = np.array([side * self.body.hip_width / 2, 0.0, pz])
            ankle = np.array([side * self.half_width, yz[0], yz[1]])
            hint = FORWARD + np.array([0.08 * side, 0.0, 0.0])
            knee = knee_ik(hip, ankle, self.body.thigh, self.body.shank, hint)
            f, g = foot_frame(pitch)
            out[name] = {"hip": hip, "knee": knee, "ankle": ankle, "f": f, "g": g}
        return out
