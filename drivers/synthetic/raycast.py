"""Exact ray casting of the few solids a lab scene needs: tapered limbs, plates, disks.

Rays start at the camera centre (every primitive is moved into the camera's frame
first), so each intersection is one small matrix product plus a handful of
element-wise operations over the rays of a pixel rectangle — fast enough in numpy to
render three cameras per phase without a GPU. Surfaces report what shading needs:
normals and coordinates fixed to the object (so textures and temperature patterns
move with a limb), not to the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

_EPS_T = 1e-4
_INF = np.float32(np.inf)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@dataclass
class Cone:
    """A tapered limb: spheres of radius ``ra`` at ``a`` and ``rb`` at ``b`` joined by the
    frustum whose radius runs linearly between them (a capsule when ``ra == rb``).

    ``s0``/``s1`` map the axis onto a longer limb made of several cones (0 at the
    proximal joint, 1 at the distal one); ``e_post`` is the direction the limb's back
    faces, the zero of its azimuth.
    """

    material: int
    a: np.ndarray
    b: np.ndarray
    ra: float
    rb: float
    s0: float = 0.0
    s1: float = 1.0
    e_post: np.ndarray = field(default_factory=lambda: np.array([0.0, -1.0, 0.0]))

    def moved(self, T: np.ndarray) -> Cone:
        R, t = T[:3, :3], T[:3, 3]
        return Cone(
            self.material,
            R @ self.a + t,
            R @ self.b + t,
            self.ra,
            self.rb,
            self.s0,
            self.s1,
            R @ self.e_post,
        )

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = np.minimum(self.a - self.ra, self.b - self.rb)
        hi = np.maximum(self.a + self.ra, self.b + self.rb)
        return lo, hi

    def intersect(self, D: np.ndarray) -> np.ndarray:
        a, b = self.a, self.b
        ab = b - a
        L = float(np.linalg.norm(ab))
        u = ab / L
        k = (self.rb - self.ra) / L
        P = D @ np.stack([u, a, b], axis=1).astype(np.float32)
        du, ad, bd = P[..., 0], P[..., 1], P[..., 2]
        t = np.full(du.shape, _INF, dtype=np.float32)
        for cd, c, r in ((ad, a, self.ra), (bd, b, self.rb)):
            cc = float(c @ c) - r * r
            disc = cd * cd - np.float32(cc)
            ok = disc >= 0
            ts = cd - np.sqrt(np.maximum(disc, 0))
            np.minimum(t, np.where(ok & (ts > _EPS_T), ts, _INF), out=t)
        # Frustum: |q|^2 = (ra + k s)^2 with s = wu + t du, w = -a.
        wu = -float(a @ u)
        rw = self.ra + k * wu
        C = np.float32(float(a @ a) - wu * wu - rw * rw)
        A = 1.0 - du * du * np.float32(1.0 + k * k)
        B = -ad - np.float32(wu) * du - np.float32(k) * du * np.float32(rw)
        disc = B * B - A * C
        ok = disc >= 0
        sq = np.sqrt(np.maximum(disc, 0))
        A = np.where(np.abs(A) < 1e-9, np.float32(1e-9), A)
        for sign in (-1.0, 1.0):
            tr = (-B + np.float32(sign) * sq) / A
            s = np.float32(wu) + tr * du
            valid = ok & (tr > _EPS_T) & (s >= 0) & (s <= L) & (self.ra + k * s > 0)
            np.minimum(t, np.where(valid, tr, _INF), out=t)
        return t

    def surface(self, p: np.ndarray) -> dict[str, Any]:
        """Normal and limb coordinates at hit points ``p`` (N, 3)."""
        a, b = self.a, self.b
        ab = b - a
        L = float(np.linalg.norm(ab))
        u64 = ab / L
        u = u64.astype(np.float32)
        k = (self.rb - self.ra) / L
        ep = self.e_post - (self.e_post @ u64) * u64
        if np.linalg.norm(ep) < 0.1:  # axis along the reference: any perpendicular will do
            other = np.eye(3)[int(np.argmin(np.abs(u64)))]
            ep = other - (other @ u64) * u64
        ep = _unit(ep)
        el = np.cross(u64, ep)
        # Limb coordinates: axial, posterior, lateral (one small matrix product).
        pa = p - a.astype(np.float32)
        coords = pa @ np.stack([u64, ep, el], axis=1).astype(np.float32)
        s, qp, ql = coords[:, 0], coords[:, 1], coords[:, 2]
        qn = np.sqrt(qp * qp + ql * ql)
        inv = 1.0 / np.maximum(qn, np.float32(1e-9))
        cpost, clat = qp * inv, ql * inv
        # Which of the three surfaces was hit: the one the point lies on.
        res_cone = np.where((s >= 0) & (s <= L), np.abs(qn - (self.ra + k * s)), np.float32(np.inf))
        da = np.sqrt(s * s + qn * qn)
        sb = s - np.float32(L)
        db = np.sqrt(sb * sb + qn * qn)
        res_a, res_b = np.abs(da - self.ra), np.abs(db - self.rb)
        on_a = (res_a < res_cone) & (res_a <= res_b)
        on_b = ~on_a & (res_b < res_cone)
        # Normal in limb coordinates (axial, radial), then to camera axes.
        kk = np.float32(1.0 / np.sqrt(1 + k * k))
        n_ax = np.where(on_a, s / self.ra, np.where(on_b, sb / self.rb, -k * kk)).astype(np.float32)
        n_rad = np.where(on_a, qn / self.ra, np.where(on_b, qn / self.rb, kk)).astype(np.float32)
        radial = cpost[:, None] * ep.astype(np.float32) + clat[:, None] * el.astype(np.float32)
        n = n_ax[:, None] * u + n_rad[:, None] * radial
        frac = np.clip(s / np.float32(L), 0.0, 1.0)
        radius = self.ra + k * np.clip(s, 0.0, L)
        return {
            "normal": n.astype(np.float32),
            "s": (self.s0 + (self.s1 - self.s0) * frac).astype(np.float32),
            "axial": s,
            "cos_post": cpost,
            "cos_lat": clat,
            "arc": (np.arctan2(clat, cpost) * radius).astype(np.float32),
        }


@dataclass
class Rect:
    """A flat plate (or, with infinite extents, a plane): walls, floors, boards, belts.

    Surface coordinates ``u``/``v`` run along ``ex``/``ey`` from ``origin`` in metres.
    """

    material: int
    origin: np.ndarray
    ex: np.ndarray
    ey: np.ndarray
    extent: tuple[float, float, float, float] = (-np.inf, np.inf, -np.inf, np.inf)

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.ex, self.ey)

    def moved(self, T: np.ndarray) -> Rect:
        R, t = T[:3, :3], T[:3, 3]
        return Rect(self.material, R @ self.origin + t, R @ self.ex, R @ self.ey, self.extent)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        u0, u1, v0, v1 = self.extent
        if not np.isfinite([u0, u1, v0, v1]).all():
            return np.full(3, -np.inf), np.full(3, np.inf)
        pts = np.array(
            [self.origin + u * self.ex + v * self.ey for u in (u0, u1) for v in (v0, v1)]
        )
        return pts.min(axis=0), pts.max(axis=0)

    def _uv(self, D: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self.normal
        P = D @ np.stack([n, self.ex, self.ey], axis=1).astype(np.float32)
        dn = P[..., 0]
        on = float(self.origin @ n)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.float32(on) / dn
        u = t * P[..., 1] - np.float32(self.origin @ self.ex)
        v = t * P[..., 2] - np.float32(self.origin @ self.ey)
        return t, u, v

    def intersect(self, D: np.ndarray) -> np.ndarray:
        t, u, v = self._uv(D)
        u0, u1, v0, v1 = self.extent
        with np.errstate(invalid="ignore"):
            ok = (t > _EPS_T) & (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1)
        return np.where(ok, t, _INF).astype(np.float32)

    def surface(self, p: np.ndarray) -> dict[str, Any]:
        rel = p - self.origin.astype(np.float32)
        n = self.normal.astype(np.float32)
        # Face the camera: both sides of a plate are visible.
        facing = np.where((p @ n) > 0, np.float32(-1), np.float32(1))
        return {
            "normal": facing[:, None] * n[None, :],
            "u": (rel @ self.ex.astype(np.float32)).astype(np.float32),
            "v": (rel @ self.ey.astype(np.float32)).astype(np.float32),
            "front": facing > 0,
        }


@dataclass
class Disk:
    """A flat disk (a chainring, a flywheel cover): a Rect cut to a circle of ``radius``."""

    material: int
    center: np.ndarray
    ex: np.ndarray
    ey: np.ndarray
    radius: float

    def _rect(self) -> Rect:
        r = self.radius
        return Rect(self.material, self.center, self.ex, self.ey, (-r, r, -r, r))

    def moved(self, T: np.ndarray) -> Disk:
        R, t = T[:3, :3], T[:3, 3]
        return Disk(self.material, R @ self.center + t, R @ self.ex, R @ self.ey, self.radius)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self._rect().bounds()

    def intersect(self, D: np.ndarray) -> np.ndarray:
        t, u, v = self._rect()._uv(D)
        with np.errstate(invalid="ignore"):
            ok = (t > _EPS_T) & (u * u + v * v <= np.float32(self.radius**2))
        return np.where(ok, t, _INF).astype(np.float32)

    def surface(self, p: np.ndarray) -> dict[str, Any]:
        return self._rect().surface(p)


Prim = Cone | Rect | Disk
