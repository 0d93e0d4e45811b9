"""A session's setup: where the lab put the rig this time, and what else is in the room.

A lab sets the rig up anew for every session: the cameras stand a little nearer or
farther, higher or lower, turned a few degrees — the one reference placement teaches a
model one view. Rooms differ too: a radiator on the wall and a fan are heat sources the
thermal camera sees, and now and then a second person walks past behind the subject
(warm legs that are *not* the subject's calves). :func:`draw_setup` draws all of it
from the session seed; the camera is aimed at the subject's lower legs and redrawn
until knees, ankles, heels and calves stay inside all three cameras over the cycle.

The walker is the one thing here that moves and is not periodic with the legs: a scene
state with the walker in view is rendered for its own instant and never cached (so it
neither breaks the phase cache nor pushes the cycle out of it).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from drivers.synthetic.camera import invert, rotation, transform, true_cameras
from drivers.synthetic.materials import Limb, Material
from drivers.synthetic.raycast import Cone, Disk, Prim, Rect
from drivers.synthetic.subject_materials import Radiator

#: A scene with legs (drivers.synthetic.scenes): it builds its setup, the setup only
#: reads it (not imported: scenes imports this module).
Scene = Any
X = np.array([1.0, 0.0, 0.0])
Y = np.array([0.0, 1.0, 0.0])
Z = np.array([0.0, 0.0, 1.0])
#: Points of the legs the cameras must keep in view, and how far inside the image.
VIEW_POINTS = ("knee", "ankle", "heel", "calf_centre")
VIEW_MARGIN = 0.06
#: A pass of the walker: from this far left or right of the rig's axis to as far beyond.
WALK_HALF_SPAN = 2.6
#: Passes are drawn up to this scene time (s); the truth lists those before the end.
WALK_HORIZON_S = 3600.0


@dataclass(frozen=True)
class Setup:
    """One session's rig placement and room (metres, degrees, °C, seconds)."""

    seed: int
    camera_distance_m: float
    camera_yaw_deg: float
    camera_height_m: float
    camera_pitch_deg: float
    #: The reference (depth) camera's position in the world (X right, Y forward, Z up).
    camera_position: tuple[float, float, float]
    #: How much farther back the wall stands than in the reference room.
    wall_back_m: float
    radiator: bool
    radiator_x_m: float
    radiator_width_m: float
    radiator_c: float
    fan: bool
    fan_x_m: float
    fan_c: float
    #: The second person's passes behind the subject: (start s, direction ±1, speed m/s).
    walker_passes: tuple[tuple[float, float, float], ...]
    walker_y_m: float
    walker_skin_c: float

    def to_dict(self, until: float | None = None) -> dict[str, Any]:
        """As JSON-ready values; ``until`` keeps the walker passes that start before it."""
        d = asdict(self)
        d["camera_position"] = list(self.camera_position)
        passes = [list(p) for p in self.walker_passes if until is None or p[0] < until]
        d["walker_passes"] = passes
        return d

    def walker_at(self, t: float) -> tuple[float, float] | None:
        """(x position, direction) of the walker at ``t``, or None when not in the room."""
        for start, direction, speed in self.walker_passes:
            if start > t:
                return None
            travelled = (t - start) * speed
            if travelled <= 2 * WALK_HALF_SPAN:
                return -direction * WALK_HALF_SPAN + direction * travelled, direction
        return None


def _leg_points(scene: Scene) -> np.ndarray:
    assert scene.period is not None
    pts = []
    for t in np.linspace(0.0, scene.period, 24, endpoint=False):
        p = scene.points(float(t))
        pts += [p[f"{side}_{name}"] for side in ("left", "right") for name in VIEW_POINTS]
    return np.array(pts)


def _in_view(T_world_ref: np.ndarray, cams: dict, pts: np.ndarray) -> bool:
    for cam in cams.values():
        T = invert(T_world_ref @ cam.pose)
        p = pts @ T[:3, :3].T + T[:3, 3]
        if (p[:, 2] < 0.3).any():
            return False
        uv = cam.project(p)
        mx, my = VIEW_MARGIN * cam.width, VIEW_MARGIN * cam.height
        if not (
            (uv[:, 0] > mx).all()
            and (uv[:, 0] < cam.width - mx).all()
            and (uv[:, 1] > my).all()
            and (uv[:, 1] < cam.height - my).all()
        ):
            return False
    return True


def camera_pose_yaw(position, pitch_down_deg: float, yaw_deg: float) -> np.ndarray:
    """T_world_cam of a camera at ``position`` turned ``yaw`` about the vertical from
    looking forward (+Y), pitched down (the reference scenes' camera_pose, turned)."""
    base = np.array([X, -Z, Y]).T
    R = rotation(0.0, 0.0, yaw_deg) @ base @ rotation(-pitch_down_deg, 0, 0)
    return transform(R, position)


def draw_setup(scene: Scene, seed: int, wall_y: float) -> tuple[Setup, np.ndarray]:
    """The session's setup and the rig's pose ``T_world_ref`` it puts in the scene."""
    r = np.random.default_rng([int(seed), 4242])
    cams = true_cameras({s: scene.config.size(s) for s in ("thermal", "depth", "color")})
    pts = _leg_points(scene)
    centre = 0.5 * (pts.min(axis=0) + pts.max(axis=0))
    pose, values = scene.T_world_ref, (1.5, 0.0, float(scene.T_world_ref[2, 3]), 0.0)
    position = tuple(float(v) for v in scene.T_world_ref[:3, 3])
    for _ in range(80):
        dist, yaw = float(r.uniform(1.25, 1.95)), float(r.uniform(-12.0, 12.0))
        height = float(centre[2] + r.uniform(-0.15, 0.2))
        back = rotation(0.0, 0.0, yaw) @ np.array([0.0, -dist, 0.0])
        pos = np.array([centre[0] + back[0], centre[1] + back[1], height])
        pitch = math.degrees(math.atan2(height - centre[2], dist)) + float(r.uniform(-3, 3))
        T = camera_pose_yaw(pos, pitch, yaw)
        if _in_view(T, cams, pts):
            pose, values = T, (dist, yaw, height, pitch)
            position = tuple(float(v) for v in pos)
            break
    passes: list[tuple[float, float, float]] = []
    if r.random() < 0.75:  # some rooms stay empty
        w = np.random.default_rng([int(seed), 4243])
        t = float(w.uniform(0.5, 6.0))
        while t < WALK_HORIZON_S:
            passes.append((t, float(w.choice([-1.0, 1.0])), float(w.uniform(0.9, 1.5))))
            t += 2 * WALK_HALF_SPAN / passes[-1][2] + float(w.uniform(6.0, 30.0))
    back_m = float(r.uniform(0.0, 0.8))
    setup = Setup(
        seed=int(seed),
        camera_distance_m=values[0],
        camera_yaw_deg=values[1],
        camera_height_m=values[2],
        camera_pitch_deg=values[3],
        camera_position=position,  # type: ignore[arg-type]
        wall_back_m=back_m,
        radiator=bool(r.random() < 0.6),
        radiator_x_m=float(r.uniform(-1.2, 1.2)),
        radiator_width_m=float(r.uniform(0.6, 1.2)),
        radiator_c=float(r.uniform(38.0, 60.0)),
        fan=bool(r.random() < 0.5),
        fan_x_m=float(r.choice([-1.0, 1.0]) * r.uniform(0.7, 1.1)),
        fan_c=float(r.uniform(28.0, 38.0)),
        walker_passes=tuple(passes),
        walker_y_m=wall_y + back_m - 0.35,
        walker_skin_c=float(r.uniform(30.5, 33.0)),
    )
    return setup, pose


def setup_materials(scene: Scene, setup: Setup) -> dict[str, int]:
    """Add the room's heat sources and the walker's materials to ``scene``."""
    add = scene.add
    skin = (0.70, 0.52, 0.40)
    return {
        "radiator": add(Radiator("radiator", (0.93, 0.93, 0.91), setup.radiator_c)),
        "fan_stand": add(Material("fan_stand", (0.20, 0.20, 0.22), 22.5, shiny=0.5)),
        "fan_motor": add(Limb("fan_motor", (0.25, 0.25, 0.27), setup.fan_c)),
        "fan_grille": add(Material("fan_grille", (0.85, 0.85, 0.85), 23.0, dropout=0.3)),
        "walker_skin": add(Limb("walker_skin", skin, setup.walker_skin_c)),
        "walker_shorts": add(Limb("walker_shorts", (0.30, 0.30, 0.55), setup.walker_skin_c - 3)),
        "walker_shirt": add(Limb("walker_shirt", (0.75, 0.75, 0.72), setup.walker_skin_c - 3.5)),
        "walker_shoe": add(Limb("walker_shoe", (0.15, 0.15, 0.15), 27.0)),
    }


def room_prims(setup: Setup, wall_y: float, mats: dict[str, int]) -> list[Prim]:
    """The setup's static heat sources: a radiator on the wall, a standing fan."""
    out: list[Prim] = []
    wall = wall_y + setup.wall_back_m - 0.04
    if setup.radiator:
        half = setup.radiator_width_m / 2
        origin = np.array([setup.radiator_x_m, wall, 0.15])
        out.append(Rect(mats["radiator"], origin, X, Z, (-half, half, 0.0, 0.6)))
    if setup.fan:
        base = np.array([setup.fan_x_m, 0.45, 0.0])
        top = base + np.array([0.0, 0.0, 1.0])
        out.append(Cone(mats["fan_stand"], base, top, 0.02, 0.02))
        out.append(Cone(mats["fan_motor"], top + 0.1 * Y, top + 0.28 * Y, 0.07, 0.06))
        out.append(Disk(mats["fan_grille"], top, X, Z, 0.22))
    return out


def walker_prims(setup: Setup, t: float, mats: dict[str, int]) -> list[Prim]:
    """The second person at ``t``: two legs in stride, shorts, a shirt (empty when away)."""
    at = setup.walker_at(t)
    if at is None:
        return []
    x, direction = at
    y = setup.walker_y_m
    phase = 2 * math.pi * abs(x + WALK_HALF_SPAN) / 1.4
    hip_z = 0.92
    out: list[Prim] = []
    for side, shift in ((-1, 0.0), (1, math.pi)):
        swing = 0.45 * math.sin(phase + shift)
        bend = 0.5 * max(0.0, math.sin(phase + shift + 1.2))
        hip = np.array([x, y + side * 0.09, hip_z])
        knee = hip + 0.44 * np.array([direction * math.sin(swing), 0.0, -math.cos(swing)])
        a = swing - bend
        ankle = knee + 0.43 * np.array([direction * math.sin(a), 0.0, -math.cos(a)])
        out.append(Cone(mats["walker_shorts"], hip, knee, 0.075, 0.05))
        out.append(Cone(mats["walker_skin"], knee, ankle, 0.05, 0.033))
        toe = ankle + np.array([direction * 0.17, 0.0, -0.06])
        out.append(Cone(mats["walker_shoe"], ankle - np.array([0, 0, 0.05]), toe, 0.04, 0.035))
    pelvis = np.array([x, y, hip_z + 0.05])
    out.append(Cone(mats["walker_shorts"], pelvis - 0.11 * Y, pelvis + 0.11 * Y, 0.12, 0.12))
    out.append(Cone(mats["walker_shirt"], pelvis + 0.1 * Z, pelvis + 0.6 * Z, 0.15, 0.16))
    return out
