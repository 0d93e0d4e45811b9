"""How a varied subject's legs, clothing and a room's heat sources look to each camera.

The reference mannequin's materials (:mod:`drivers.synthetic.materials`) stay as they
were; these take their parameters from a :class:`~drivers.synthetic.subjects.Subject`:
the temperature pattern (knee pit, ankle, back of the calf, patches, veins), shorts of
any length, socks of any height, a compression sleeve or a kinesio tape strip on one
calf. The label convention is the reference's: the calf label marks *bare* calf skin
in the calf zone; whatever covers it (sock, sleeve, tape, long shorts) is background.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from drivers.synthetic.materials import CALF_ZONE, REFLECTIVE, Material, Surface, Texture, Thigh
from drivers.synthetic.subjects import SLEEVE_SPAN, Subject

#: Kinesio tape strip: half width (m, around the back of the calf) and span along it.
TAPE_HALF_WIDTH = 0.025
TAPE_SPAN = (0.14, 0.82)


class SubjectLowerLeg(Material):
    """Knee skin, the labelled calf and what covers it, down to the shoe."""

    def __init__(self, name: str, label: int, subject: Subject, side: str, skin_c: float):
        super().__init__(name, subject.skin_rgb, skin_c, label)
        self.p = subject
        self.sleeve = subject.sleeve == side
        self.tape = subject.tape == side

    def regions(self, a: dict[str, Any]) -> dict[str, np.ndarray]:
        """Boolean masks of what covers each hit point (exclusive, outermost wins)."""
        s, p = a["s"], self.p
        sock = s > p.sock_top
        sleeve = (s >= SLEEVE_SPAN[0]) & (s <= SLEEVE_SPAN[1]) & ~sock
        if not self.sleeve:
            sleeve &= False
        shorts = s < p.shorts_below_knee
        sleeve &= ~shorts
        tape = (np.abs(a["arc"]) < TAPE_HALF_WIDTH) & (s >= TAPE_SPAN[0]) & (s <= TAPE_SPAN[1])
        tape &= ~(sock | sleeve | shorts) & self.tape
        return {"sock": sock, "sleeve": sleeve, "shorts": shorts, "tape": tape}

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        s, kind, p = a["s"], a["kind"], self.p
        r = self.regions(a)
        covered = r["sock"] | r["sleeve"] | r["shorts"] | r["tape"]
        calf = (s >= CALF_ZONE[0]) & (s <= CALF_ZONE[1]) & ~covered
        out = Surface(label=np.where(calf, np.uint8(self.label), np.uint8(0)))
        if kind == "thermal":
            cp = a["cos_post"]
            veins = tex.sample(a["arc"] * 0.6, a["axial"] * 0.25 + 3.1, 420.0)
            patches = tex.sample(a["arc"] * 0.3 + 2.0, a["axial"] * 0.3 + 9.0, 120.0)
            skin_t = (
                self.temp_c
                + p.knee_pit_c * np.exp(-((s / 0.16) ** 2))
                - p.ankle_drop_c * s
                + p.back_c * cp
                + p.vein * np.maximum(veins, 0) ** 2
                + p.patch_c * patches
            )
            temp = np.where(r["tape"], skin_t - 0.6, skin_t)
            temp = np.where(r["sleeve"], self.temp_c - 1.8 + 0.3 * cp, temp)
            temp = np.where(r["shorts"], self.temp_c - 2.6 + 0.6 * cp, temp)
            temp = np.where(r["sock"], self.temp_c - 3.2 + 0.4 * cp, temp)
            out.temperature = temp.astype(np.float32)
            # Bare and taped skin warm and sweat fully; a sleeve passes half of it on.
            skin = np.where(r["sock"] | r["shorts"], 0.0, np.where(r["sleeve"], 0.5, 1.0))
            out.skin = skin.astype(np.float32)
        elif kind in REFLECTIVE:
            mottle = tex.sample(a["arc"] + 7.3, a["axial"] + 1.7, 900.0)
            fabric = tex.sample(a["arc"] * 3.0, a["axial"] * 3.0, 600.0)
            rgb = self.rgb * (1.0 + 0.04 * mottle)[:, None]
            for key, colour, grain in (
                ("tape", p.tape_rgb, 0.03),
                ("sleeve", p.sleeve_rgb, 0.15),
                ("shorts", p.shorts_rgb, 0.15),
                ("sock", p.sock_rgb, 0.08),
            ):
                cloth = np.asarray(colour, np.float32) * (1.0 + grain * fabric)[:, None]
                rgb = np.where(r[key][:, None], cloth, rgb)
            cuff = r["sock"] & (s < p.sock_top + 0.02)
            rgb = np.where(cuff[:, None], rgb * 0.35, rgb)
            out.albedo = rgb.astype(np.float32)
        return out


class Radiator(Material):
    """A panel radiator on the wall: hot vertical fins, white paint."""

    def shade(self, a: dict[str, Any], tex: Texture) -> Surface:
        u, kind = a["u"], a["kind"]
        fin = 0.5 + 0.5 * np.cos(2 * np.pi * u / 0.05)
        out = Surface(label=0)
        if kind == "thermal":
            out.temperature = (self.temp_c - 3.0 * (1 - fin)).astype(np.float32)
        elif kind in REFLECTIVE:
            out.albedo = self.rgb * (0.8 + 0.2 * fin)[:, None].astype(np.float32)
        return out


def dress(scene: Any, p: Subject) -> dict[str, int]:
    """Add the subject's materials to ``scene``; returns their ids by part."""
    from drivers.synthetic.materials import Limb, Shoe
    from drivers.truth import DEFAULT_CLASSES

    right_c = p.skin_c + p.asym_c
    add = scene.add
    return {
        "left_calf": add(
            SubjectLowerLeg(
                "left_lower_leg", DEFAULT_CLASSES.index("left_calf"), p, "left", p.skin_c
            )
        ),
        "right_calf": add(
            SubjectLowerLeg(
                "right_lower_leg", DEFAULT_CLASSES.index("right_calf"), p, "right", right_c
            )
        ),
        "left_thigh": add(Thigh("left_thigh", p.skin_rgb, p.skin_c, p.shorts_rgb, p.shorts_end)),
        "right_thigh": add(Thigh("right_thigh", p.skin_rgb, right_c, p.shorts_rgb, p.shorts_end)),
        "shoe": add(Shoe("shoe", p.shoe_rgb, 26.0, dropout=0.25)),
        "shorts": add(Limb("shorts", p.shorts_rgb, p.skin_c - 2.6)),
        "shirt": add(Limb("shirt", p.shirt_rgb, 30.0)),
    }
