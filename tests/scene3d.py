"""A tiny hand-made rig and scene, ray-cast in numpy, for label-transfer tests.

Three small cameras (depth in the middle, RGB to its left, thermal to its right, each
with its own lens distortion) look at vertical cylinders ("legs") in front of a wall.
Every image is cast exactly — depth, and class labels per camera — so a test knows
which point each pixel sees and whether another camera can see it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from calibration.camera_math import pixel_grid_rays
from calibration.rig import Camera, Rig

DEPTH_SCALE = 0.001
WALL_Z = 3.0


@dataclass(frozen=True)
class Cylinder:
    """Vertical cylinder (axis along y) in the depth camera's frame."""

    x: float
    z: float
    radius: float
    y0: float
    y1: float
    label: int


def _rot_y(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def _camera(w: int, h: int, f: float, dist, x: float, yaw: float) -> Camera:
    K = [[f, 0, w / 2 - 0.3], [0, f * 1.01, h / 2 + 0.4], [0, 0, 1]]
    T = np.eye(4)
    T[:3, :3] = _rot_y(yaw)
    T[:3, 3] = (x, 0.004, 0.002 * np.sign(x))
    return Camera(w, h, K, dist, T)


def make_rig(scale: float = 1.0) -> Rig:
    """Depth 160×120, thermal 160×128 (narrower, finer), RGB 320×180 (at scale 1)."""

    def s(v: float) -> int:
        return int(round(v * scale))

    return Rig(
        cameras={
            "depth": Camera(
                s(160),
                s(120),
                [[131 * scale, 0, 80 * scale - 0.5], [0, 131 * scale, 60 * scale - 0.5], [0, 0, 1]],
                [-0.05, 0.02, 0.0003, -0.0002, 0.0],
            ),
            "thermal": _camera(
                s(160), s(128), 192 * scale, [-0.25, 0.08, 0.0005, -0.0003, 0.0], 0.08, -2.0
            ),
            "color": _camera(
                s(320), s(180), 230 * scale, [0.04, 0.01, 0.0002, 0.0001, 0.0], -0.06, 1.5
            ),
        }
    )


def cast(cam: Camera, scene: list[Cylinder]) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of ``cam``: the hit point in the depth frame (H, W, 3) and its label."""
    xy = pixel_grid_rays(cam.width, cam.height, cam.K, cam.dist)
    d = np.concatenate([xy, np.ones(xy.shape[:2] + (1,))], axis=2) @ cam.T_ref_cam[:3, :3].T
    o = cam.T_ref_cam[:3, 3]
    return cast_rays(o, d, scene)


def cast_rays(o: np.ndarray, d: np.ndarray, scene: list[Cylinder]) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit along rays ``o + s·d`` (``d``: (..., 3)); the wall z = WALL_Z is label 0."""
    s_best = (WALL_Z - o[2]) / d[..., 2]
    label = np.zeros(d.shape[:-1], np.uint8)
    for c in scene:
        ox, oz = o[0] - c.x, o[2] - c.z
        a = d[..., 0] ** 2 + d[..., 2] ** 2
        b = 2 * (ox * d[..., 0] + oz * d[..., 2])
        cc = ox * ox + oz * oz - c.radius**2
        disc = b * b - 4 * a * cc
        with np.errstate(invalid="ignore"):
            s = (-b - np.sqrt(disc)) / (2 * a)
        y = o[1] + s * d[..., 1]
        hit = (disc > 0) & (s > 0) & (y >= c.y0) & (y <= c.y1) & (s < s_best)
        s_best = np.where(hit, s, s_best)
        label[hit] = c.label
    return o + s_best[..., None] * d, label


def depth_image(rig: Rig, scene: list[Cylinder]) -> np.ndarray:
    """The depth camera's uint16 image (z in the depth frame, DEPTH_SCALE m/unit)."""
    points, _ = cast(rig["depth"], scene)
    return np.clip(np.rint(points[..., 2] / DEPTH_SCALE), 0, 65535).astype(np.uint16)


def visible_from(cam: Camera, points: np.ndarray, scene: list[Cylinder], eps: float = 0.004):
    """Whether each point (…, 3, depth frame) is seen by ``cam`` (nothing nearer on its ray)."""
    o = cam.T_ref_cam[:3, 3]
    d = points - o
    hits, _ = cast_rays(o, d, scene)
    return np.linalg.norm(hits - o, axis=-1) >= np.linalg.norm(d, axis=-1) - eps


def legs(shift: float = 0.0) -> list[Cylinder]:
    """Two legs: the left one nearer; seen from the RGB camera (left) it hides the left
    half of the other, which the thermal camera (right) sees beside it, and the depth
    camera (middle) sees in part."""
    return [
        Cylinder(-0.02 + shift, 1.0, 0.05, -0.25, 0.25, 1),
        Cylinder(0.07 + shift, 1.5, 0.06, -0.35, 0.35, 2),
    ]


def apart(shift: float = 0.0) -> list[Cylinder]:
    """Two legs every camera sees whole."""
    return [
        Cylinder(-0.12 + shift, 1.0, 0.05, -0.25, 0.25, 1),
        Cylinder(0.1 + shift, 1.3, 0.06, -0.3, 0.3, 2),
    ]


def write_session(
    path,
    rig: Rig,
    shifts: list[float],
    *,
    streams: tuple[str, ...] = ("thermal", "depth", "color"),
    offsets_s: dict[str, float] | None = None,
    fps: float = 30.0,
    with_truth: bool = True,
    rig_in_session: bool = False,
    scene: Callable[[float], list[Cylinder]] | None = None,
) -> None:
    """A session of the leg scene, the legs shifted by ``shifts[i]`` metres at frame i;
    ``offsets_s`` delays a stream's exposures (free-running clocks: the scene is cast
    at each exposure, the legs moving linearly between frames)."""
    from drivers.base import SourceInfo
    from drivers.recorder import SessionWriter
    from drivers.truth import DEFAULT_CLASSES, DEFAULT_KEYPOINTS
    from drivers.types import Frame, StreamSpec

    offsets_s = offsets_s or {}
    scene_at = scene or legs
    kinds = {
        "thermal": ("uint16", "centikelvin"),
        "depth": ("uint16", "depth_units"),
        "color": ("uint8", "rgb"),
    }
    specs = {}
    for name in streams:
        cam = rig[name]
        shape = (cam.height, cam.width, 3) if name == "color" else (cam.height, cam.width)
        dtype, units = kinds[name]
        specs[name] = StreamSpec(
            name=name,
            kind=name,
            shape=shape,
            dtype=dtype,
            units=units,
            fps=fps,
            depth_scale=DEPTH_SCALE if name == "depth" else None,
        )
    truth = (
        {
            "rig": rig.to_dict(),
            "classes": list(DEFAULT_CLASSES),
            "keypoints": list(DEFAULT_KEYPOINTS),
            "board": None,
        }
        if with_truth
        else None
    )
    info = SourceInfo(
        spec="test:legs",
        activity="cycling",
        rig=rig.to_dict() if rig_in_session else None,
        truth=truth,
        hw_sync=not any(offsets_s.values()),
    )
    with SessionWriter(path, specs, info, codec="lzf", min_free_bytes=0) as w:
        for i in range(len(shifts)):
            for name in streams:
                off = offsets_s.get(name, 0.0)
                a = off * fps
                nxt = shifts[min(i + 1, len(shifts) - 1)]
                scene = scene_at(shifts[i] * (1 - a) + nxt * a)
                if name == "depth":
                    array = depth_image(rig, scene)
                    _, lab = cast(rig[name], scene)
                else:
                    _, lab = cast(rig[name], scene)
                    if name == "thermal":
                        array = (30000 + 300 * lab.astype(np.uint16)).astype(np.uint16)
                    else:
                        array = np.repeat((60 + 80 * lab)[..., None], 3, axis=2)
                w.write(
                    Frame(
                        stream=name,
                        index=i,
                        timestamp=100.0 + i / fps + off,
                        array=array,
                        truth={"labels": lab} if with_truth else None,
                    )
                )
