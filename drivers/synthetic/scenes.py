"""The three lab scenes as solids in world metres (X right, Y forward, Z up).

The rig stands behind the subject and looks forward at the backs of the lower legs
(the posterior view of ThermoCycleNet and StereoThermoLegs), so the subject's left
leg is on the image's left. A scene splits into static solids (rendered once per
camera) and moving ones, and maps any instant to a *state key*: periodic motion is
quantized to a phase grid and the calibration board is keyed by pose, so renders can
be cached and replayed with fresh sensor noise.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from drivers.synthetic.camera import CameraModel, invert, rotation, transform
from drivers.synthetic.config import BoardSpec, SyntheticConfig
from drivers.synthetic.kinematics import FORWARD, Body, Pedalling, Running
from drivers.synthetic.materials import (
    Limb,
    LowerLeg,
    Material,
    Shoe,
    Thigh,
    Wall,
)
from drivers.synthetic.raycast import Cone, Disk, Prim, Rect
from drivers.synthetic.session_setup import (
    Setup,
    draw_setup,
    room_prims,
    setup_materials,
    walker_prims,
)
from drivers.synthetic.subject_materials import dress
from drivers.synthetic.subjects import Subject, draw_subject
from drivers.truth import DEFAULT_CLASSES

LEFT_CALF = DEFAULT_CLASSES.index("left_calf")
RIGHT_CALF = DEFAULT_CLASSES.index("right_calf")

X = np.array([1.0, 0.0, 0.0])
Y = np.array([0.0, 1.0, 0.0])
Z = np.array([0.0, 0.0, 1.0])

SKIN_TONES = ((0.87, 0.68, 0.56), (0.80, 0.60, 0.47), (0.64, 0.46, 0.34), (0.46, 0.32, 0.24))
SHOE_COLOURS = ((0.12, 0.14, 0.24), (0.55, 0.07, 0.06), (0.12, 0.12, 0.12), (0.80, 0.80, 0.78))
SHIRT_COLOURS = ((0.15, 0.33, 0.62), (0.70, 0.22, 0.15), (0.20, 0.50, 0.30), (0.85, 0.70, 0.20))


def camera_pose(position, pitch_down_deg: float) -> np.ndarray:
    """T_world_cam of a camera at ``position`` looking forward (+Y), pitched down."""
    base = np.array([X, -Z, Y]).T  # columns: camera x, y, z axes in world
    return transform(base @ rotation(-pitch_down_deg, 0, 0), position)


class Scene:
    """Solids, materials and the mapping from time to a renderable state."""

    name = "scene"
    #: Length of the repeating cycle, seconds (None: not periodic).
    period: float | None = None
    #: The person and the session's setup (None: the reference mannequin and room).
    subject: Subject | None = None
    setup: Setup | None = None

    def __init__(self, config: SyntheticConfig, seed: int):
        self.config = config
        self.seed = seed
        self.rng = np.random.default_rng([seed, 7])
        self.materials: list[Material] = []
        self.T_world_ref = camera_pose((0.02, -1.50, 0.50), 1.0)
        self.board: BoardSpec | None = None

    def add(self, material: Material) -> int:
        self.materials.append(material)
        return len(self.materials)

    def room(self, wall_y: float) -> list[Prim]:
        wall = self.add(Wall("wall", (0.80, 0.78, 0.72), 21.65, 0.08, 0.35, 0.02))
        floor = self.add(Wall("floor", (0.33, 0.33, 0.35), 21.3, 0.0, 0.0, 0.12))
        return [Rect(wall, np.array([0.0, wall_y, 0.0]), X, Z), Rect(floor, np.zeros(3), X, Y)]

    def static_prims(self) -> list[Prim]:
        raise NotImplementedError

    def key(self, t: float) -> tuple[Hashable, float]:
        """(cache key, the instant actually rendered) for scene time ``t``."""
        raise NotImplementedError

    def transient(self, key: Hashable) -> bool:
        """Whether the state of ``key`` is not worth caching (it never comes back)."""
        return False

    def dynamic_prims(self, t: float) -> list[Prim]:
        raise NotImplementedError

    def states(self) -> list[tuple[Hashable, float]]:
        """Every (key, instant) the scene loops through that is worth caching ahead."""
        return []

    def points(self, t: float) -> dict[str, np.ndarray]:
        """Named 3-D points (world) at ``t``: keypoints and calf surface centres."""
        return {}

    def board_pose(self, t: float) -> np.ndarray | None:
        """T_world_board at ``t`` (calibration scene), else None."""
        return None


class _PeriodicLegs(Scene):
    """Shared by cycling and running: a subject whose legs repeat every ``period``."""

    #: Wall distance (m) of the reference room; a setup may move the wall back.
    wall_y = 1.25

    def __init__(self, config: SyntheticConfig, seed: int):
        super().__init__(config, seed)
        self.N = int(config.phases_per_cycle)
        self.cadence_rpm, self.speed_kmh = config.cadence_rpm, config.speed_kmh
        self.step_rate_spm = config.step_rate_spm
        if config.subject >= 0:
            self.subject = p = draw_subject(config.subject)
            self.body = Body(thigh=p.thigh_m, shank=p.shank_m, hip_width=p.hip_width_m)
            self.thigh_g, self.calf_g = p.thigh_girth, p.calf_girth
            self.ankle_g = p.calf_girth * p.ankle_ratio
            self.shirt = p.shirt_rgb
            self.mat = dress(self, p)
            self.cadence_rpm, self.speed_kmh = p.cadence_rpm, p.speed_kmh
            self.step_rate_spm = p.step_rate_spm
            return
        r = self.rng
        self.body = Body(
            thigh=0.43 * (1 + 0.03 * r.uniform(-1, 1)),
            shank=0.43 * (1 + 0.03 * r.uniform(-1, 1)),
        )
        self.girth = 1 + 0.06 * r.uniform(-1, 1)
        skin = np.array(SKIN_TONES[r.integers(len(SKIN_TONES))]) * (1 + 0.04 * r.uniform(-1, 1))
        skin_c = float(np.clip(32.8 + 0.35 * r.standard_normal(), 32.2, 33.4))
        asym = float(np.clip(0.15 * r.standard_normal(), -0.3, 0.3))
        shoe = SHOE_COLOURS[r.integers(len(SHOE_COLOURS))]
        self.shirt = SHIRT_COLOURS[r.integers(len(SHIRT_COLOURS))]
        sock = (0.90, 0.90, 0.88)
        shorts = (0.05, 0.05, 0.06)
        self.mat = {
            "left_calf": self.add(LowerLeg("left_lower_leg", LEFT_CALF, skin, skin_c, sock)),
            "right_calf": self.add(
                LowerLeg("right_lower_leg", RIGHT_CALF, skin, skin_c + asym, sock)
            ),
            "left_thigh": self.add(Thigh("left_thigh", skin, skin_c, shorts)),
            "right_thigh": self.add(Thigh("right_thigh", skin, skin_c + asym, shorts)),
            "shoe": self.add(Shoe("shoe", shoe, 26.0, dropout=0.25)),
            "shorts": self.add(Limb("shorts", shorts, 30.2)),
            "shirt": self.add(Limb("shirt", self.shirt, 30.0)),
        }
        self.thigh_g = self.calf_g = self.ankle_g = self.girth

    def place(self) -> None:
        """Draw the session's setup (a varied subject's sessions only): rig and room."""
        if self.subject is not None:
            self.setup, self.T_world_ref = draw_setup(self, self.seed, self.wall_y)
            self.mat.update(setup_materials(self, self.setup))

    def key(self, t: float) -> tuple[Hashable, float]:
        assert self.period is not None
        step = self.period / self.N
        idx = int(round(t / step))
        t_render = idx * step
        if self.setup is not None and self.setup.walker_at(t_render) is not None:
            return ("walker", idx), t_render
        return ("phase", idx % self.N), t_render

    def transient(self, key: Hashable) -> bool:
        return isinstance(key, tuple) and key[0] == "walker"

    def room(self, wall_y: float) -> list[Prim]:
        if self.setup is None:
            return super().room(wall_y)
        return super().room(wall_y + self.setup.wall_back_m) + room_prims(
            self.setup, wall_y, self.mat
        )

    def people(self, t: float) -> list[Prim]:
        """Whoever else is in the room at ``t`` (the walker of the setup)."""
        return [] if self.setup is None else walker_prims(self.setup, t, self.mat)

    def states(self) -> list[tuple[Hashable, float]]:
        assert self.period is not None
        return [(("phase", i), i * self.period / self.N) for i in range(self.N)]

    def legs(self, phase: float) -> dict[str, dict[str, np.ndarray]]:
        raise NotImplementedError

    def phase(self, t: float) -> float:
        assert self.period is not None
        return (t / self.period) % 1.0

    def leg_prims(self, legs: dict[str, dict[str, np.ndarray]]) -> list[Prim]:
        out: list[Prim] = []
        tg, cg, ag = self.thigh_g, self.calf_g, self.ankle_g
        post = -FORWARD
        for side in ("left", "right"):
            j = legs[side]
            hip, knee, ankle, f, up = j["hip"], j["knee"], j["ankle"], j["f"], j["g"]
            axis = (ankle - knee) / np.linalg.norm(ankle - knee)
            back = post - (post @ axis) * axis
            back /= np.linalg.norm(back)
            belly = knee + 0.32 * (ankle - knee) + 0.010 * back
            out.append(
                Cone(self.mat[f"{side}_thigh"], hip, knee, 0.080 * tg, 0.052 * tg, e_post=post)
            )
            calf = self.mat[f"{side}_calf"]
            out.append(Cone(calf, knee, belly, 0.048 * cg, 0.058 * cg, 0.0, 0.32, e_post=post))
            out.append(Cone(calf, belly, ankle, 0.058 * cg, 0.034 * ag, 0.32, 1.0, e_post=post))
            heel, toe = self.shoe_ends(ankle, f, up)
            out.append(Cone(self.mat["shoe"], heel, toe, 0.043, 0.035, e_post=-f))
        return out

    def shoe_ends(self, ankle, f, up) -> tuple[np.ndarray, np.ndarray]:
        b = self.body
        heel = ankle - (b.heel_back - 0.043) * f - (b.ankle_up - 0.043) * up
        toe = ankle + (b.ball_fwd + 0.06) * f - (b.ankle_up - 0.035) * up
        return heel, toe

    def points(self, t: float) -> dict[str, np.ndarray]:
        legs = self.legs(self.phase(t))
        out: dict[str, np.ndarray] = {}
        for side in ("left", "right"):
            j = legs[side]
            heel, _ = self.shoe_ends(j["ankle"], j["f"], j["g"])
            out[f"{side}_knee"] = j["knee"]
            out[f"{side}_ankle"] = j["ankle"]
            out[f"{side}_heel"] = heel - 0.043 * j["f"]
            # A point on the back of the calf belly: the calf's most visible spot.
            knee, ankle = j["knee"], j["ankle"]
            axis = (ankle - knee) / np.linalg.norm(ankle - knee)
            back = -FORWARD - (-FORWARD @ axis) * axis
            back /= np.linalg.norm(back)
            centre = knee + 0.35 * (ankle - knee) + 0.010 * back
            out[f"{side}_calf_centre"] = centre + 0.057 * self.calf_g * back
        return out


class CyclingScene(_PeriodicLegs):
    """A rider pedalling an ergometer at ``cadence_rpm``, seen from behind."""

    name = "cycling"

    def __init__(self, config: SyntheticConfig, seed: int):
        super().__init__(config, seed)
        self.period = 60.0 / self.cadence_rpm
        self.kin = Pedalling(self.body)
        self.hip_h = self.kin.hip_height()
        self.place()
        m = self.add
        self.frame_mat = m(Material("frame", (0.10, 0.10, 0.11), 22.4, dropout=0.05, shiny=0.4))
        self.crank_mat = m(Material("crank", (0.55, 0.56, 0.58), 22.8, shiny=0.8))
        self.pedal_mat = m(Material("pedal", (0.06, 0.06, 0.06), 23.5, dropout=0.15, shiny=0.2))
        self.saddle_mat = m(Limb("saddle", (0.04, 0.04, 0.04), 27.0, shiny=0.3))

    def legs(self, phase: float) -> dict[str, dict[str, np.ndarray]]:
        return self.kin.legs(phase, self.hip_h)

    def static_prims(self) -> list[Prim]:
        bb = np.array(self.kin.bb)
        hip_z = bb[2] + self.hip_h
        f, s = self.frame_mat, self.saddle_mat
        seat_top = np.array([0.0, -0.24, hip_z - 0.10])
        prims: list[Prim] = self.room(wall_y=self.wall_y)
        prims += [
            Cone(f, np.array([0.0, 0.08, bb[2]]), np.array([0.0, 0.60, 0.52]), 0.085, 0.095),
            Cone(f, np.array([-0.07, 0.0, bb[2]]), np.array([0.07, 0.0, bb[2]]), 0.032, 0.032),
            Cone(f, np.array([0.0, -0.20, 0.06]), seat_top, 0.03, 0.026),
            Cone(f, np.array([0.0, -0.32, 0.05]), np.array([0.0, 0.70, 0.05]), 0.045, 0.045),
            Cone(f, np.array([-0.30, -0.32, 0.035]), np.array([0.30, -0.32, 0.035]), 0.035, 0.035),
            Cone(f, np.array([0.0, -0.20, 0.10]), np.array([0.0, 0.0, bb[2]]), 0.03, 0.03),
            Disk(f, np.array([0.068, 0.0, bb[2]]), Y, Z, 0.105),
            Cone(
                s,
                seat_top + np.array([0, -0.06, 0.05]),
                seat_top + np.array([0, 0.19, 0.04]),
                0.065,
                0.022,
            ),
            Cone(
                self.mat["shorts"],
                np.array([-0.085, -0.25, hip_z + 0.06]),
                np.array([0.085, -0.25, hip_z + 0.06]),
                0.12,
                0.12,
            ),
            Cone(
                self.mat["shirt"],
                np.array([0.0, -0.22, hip_z + 0.15]),
                np.array([0.0, 0.0, hip_z + 0.65]),
                0.15,
                0.16,
            ),
        ]
        return prims

    def dynamic_prims(self, t: float) -> list[Prim]:
        phase = self.phase(t)
        bb = np.array(self.kin.bb)
        prims = self.leg_prims(self.legs(phase)) + self.people(t)
        for side in (+1, -1):
            x_arm = side * 0.078
            root = np.array([x_arm, bb[1], bb[2]])
            tip = self.kin.spindle(phase, side, x_arm)
            prims.append(Cone(self.crank_mat, root, tip, 0.016, 0.012))
            a = self.kin.spindle(phase, side, side * 0.09)
            b = self.kin.spindle(phase, side, side * 0.18)
            prims.append(Cone(self.pedal_mat, a, b - np.array([0, 0, 0.004]), 0.013, 0.013))
        return prims


class TreadmillScene(_PeriodicLegs):
    """A runner on a treadmill at ``speed_kmh`` and ``step_rate_spm``, seen from behind."""

    name = "treadmill"
    wall_y = 1.6

    def __init__(self, config: SyntheticConfig, seed: int):
        super().__init__(config, seed)
        self.period = 120.0 / self.step_rate_spm
        self.kin = Running(self.body, speed=self.speed_kmh / 3.6, stride_period=self.period)
        self.hip_h = self.kin.hip_height()
        self.T_world_ref = camera_pose((0.0, -1.62, 0.62), 4.0)
        self.place()
        m = self.add
        self.belt_mat = m(Wall("belt", (0.13, 0.13, 0.14), 24.2, 0.0, 0.0, 0.06))
        self.deck_mat = m(Material("deck", (0.33, 0.34, 0.36), 23.0, shiny=0.5))

    def legs(self, phase: float) -> dict[str, dict[str, np.ndarray]]:
        return self.kin.legs(phase, self.hip_h)

    def static_prims(self) -> list[Prim]:
        bz = self.kin.belt_z
        d = self.deck_mat
        prims: list[Prim] = self.room(wall_y=self.wall_y)
        prims.append(
            Rect(self.belt_mat, np.array([0.0, 0.0, bz]), X, Y, (-0.25, 0.25, -0.85, 0.85))
        )
        prims.append(
            Rect(d, np.array([0.0, -0.88, bz / 2]), X, Z, (-0.34, 0.34, -bz / 2, bz / 2 - 0.01))
        )
        for side in (-1, 1):
            x = side * 0.30
            prims.append(
                Cone(
                    d, np.array([x, -0.86, bz - 0.01]), np.array([x, 0.86, bz - 0.01]), 0.045, 0.045
                )
            )
            prims.append(
                Cone(
                    d,
                    np.array([side * 0.36, 0.80, bz]),
                    np.array([side * 0.36, 0.80, 1.05]),
                    0.03,
                    0.03,
                )
            )
            prims.append(
                Cone(
                    d,
                    np.array([side * 0.36, 0.80, 1.05]),
                    np.array([side * 0.36, 0.05, 1.05]),
                    0.025,
                    0.025,
                )
            )
        prims.append(
            Cone(
                d,
                np.array([-0.33, -0.88, bz - 0.04]),
                np.array([0.33, -0.88, bz - 0.04]),
                0.05,
                0.05,
            )
        )
        return prims

    def dynamic_prims(self, t: float) -> list[Prim]:
        legs = self.legs(self.phase(t))
        pz = legs["left"]["hip"][2]
        prims = self.leg_prims(legs) + self.people(t)
        prims.append(
            Cone(
                self.mat["shorts"],
                np.array([-0.085, -0.05, pz + 0.06]),
                np.array([0.085, -0.05, pz + 0.06]),
                0.12,
                0.12,
            )
        )
        prims.append(
            Cone(
                self.mat["shirt"],
                np.array([0.0, -0.02, pz + 0.15]),
                np.array([0.0, 0.08, pz + 0.65]),
                0.15,
                0.16,
            )
        )
        return prims


def world_to_camera(scene: Scene, cam: CameraModel) -> np.ndarray:
    """T_cam_world for one camera of the rig in this scene."""
    return invert(scene.T_world_ref @ cam.pose)


__all__ = ["Scene", "world_to_camera"]
