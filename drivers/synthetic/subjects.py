"""Subjects who differ: one person's body, skin, clothing and pace, drawn from a seed.

The reference mannequin (no ``subject`` option) barely varies: a segmenter trained on
it learns one body. Real studies see short and tall people, slim and muscular calves,
women and men, pale and dark skin, warm and cool skin, socks, sleeves and tape — so a
:class:`Subject` holds every parameter of one person and :func:`draw_subject` draws
one from population figures. The same subject seed gives the same person in every
session (a study records each person several times); what changes per session (the
camera placement, the room) is :mod:`drivers.synthetic.session_setup`.

Figures (adult, 5th-95th percentile): stature 1.52-1.90 m, thigh and shank each about
0.245 of stature; calf circumference 30-44 cm, mid-thigh 42-66 cm; resting calf skin
33 ± 1.5 °C during exercise. The truth convention is kept: the calf label marks bare
calf skin, so a sock, a compression sleeve or kinesio tape over the calf is not calf.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Skin tones (linear-ish RGB albedo), Fitzpatrick I to VI.
SKIN_PALETTE = (
    (0.92, 0.74, 0.63),
    (0.87, 0.68, 0.56),
    (0.80, 0.60, 0.47),
    (0.64, 0.46, 0.34),
    (0.46, 0.32, 0.24),
    (0.30, 0.21, 0.16),
)
CLOTH_PALETTE = (
    (0.05, 0.05, 0.06),
    (0.12, 0.14, 0.24),
    (0.45, 0.45, 0.47),
    (0.15, 0.33, 0.62),
    (0.55, 0.07, 0.06),
    (0.20, 0.50, 0.30),
)
SOCK_PALETTE = ((0.90, 0.90, 0.88), (0.08, 0.08, 0.09), (0.55, 0.55, 0.58), (0.80, 0.20, 0.25))
TAPE_PALETTE = ((0.10, 0.35, 0.80), (0.90, 0.35, 0.55), (0.08, 0.08, 0.08), (0.85, 0.72, 0.58))
SHOE_PALETTE = ((0.12, 0.14, 0.24), (0.55, 0.07, 0.06), (0.12, 0.12, 0.12), (0.80, 0.80, 0.78))
#: Where a sock's cuff sits along the lower leg (0 knee joint, 1 ankle joint); a crew
#: sock starts where the calf label ends (the reference mannequin's sock).
SOCK_TOPS = {"none": 1.5, "ankle": 0.95, "crew": 0.86}
#: A compression sleeve covers the lower leg over this span.
SLEEVE_SPAN = (0.10, 0.93)
#: Reference calf circumference at the belly and mid-thigh circumference of the
#: mannequin's solids (radius 0.058 m; thigh cone 0.080 to 0.052 m).
REF_CALF_CIRC = 2 * np.pi * 0.058
REF_THIGH_CIRC = 2 * np.pi * 0.066


@dataclass(frozen=True)
class Subject:
    """Every parameter of one simulated person (lengths m, temperatures °C, rates /min)."""

    id: str
    seed: int
    sex: str
    stature_m: float
    thigh_m: float
    shank_m: float
    hip_width_m: float
    calf_circ_m: float
    thigh_circ_m: float
    #: Ankle radius over the reference's, for the calf's taper (slimmer in women).
    ankle_ratio: float
    skin_rgb: tuple[float, float, float]
    #: Calf skin level (left leg), right leg's offset, and the pattern around it.
    skin_c: float
    asym_c: float
    knee_pit_c: float
    ankle_drop_c: float
    back_c: float
    #: Amplitude of low-frequency warmer/cooler patches, and of superficial veins.
    patch_c: float
    vein: float
    warmup_c_per_min: float
    warmup_max_c: float
    #: Sweat starts cooling the skin at ``sweat_onset_s`` and reaches ``sweat_max_c``
    #: with time constant ``sweat_tau_s``.
    sweat_onset_s: float
    sweat_max_c: float
    sweat_tau_s: float
    shorts: str
    #: Where shorts end along the thigh (0 hip, 1 knee) and, long ones, along the
    #: lower leg below the knee (0: at the knee).
    shorts_end: float
    shorts_below_knee: float
    shorts_rgb: tuple[float, float, float]
    socks: str
    sock_top: float
    sock_rgb: tuple[float, float, float]
    #: ``none``, ``left`` or ``right``: a compression sleeve over that calf (one leg, as
    #: studies of compression compare a sleeved leg with a bare one).
    sleeve: str
    sleeve_rgb: tuple[float, float, float]
    #: ``none``, ``left`` or ``right``: a kinesio tape strip down the back of that calf.
    tape: str
    tape_rgb: tuple[float, float, float]
    shoe_rgb: tuple[float, float, float]
    shirt_rgb: tuple[float, float, float]
    cadence_rpm: float
    speed_kmh: float
    step_rate_spm: float

    @property
    def calf_girth(self) -> float:
        """Calf radius scale against the reference mannequin."""
        return self.calf_circ_m / REF_CALF_CIRC

    @property
    def thigh_girth(self) -> float:
        return self.thigh_circ_m / REF_THIGH_CIRC

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Subject:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def subject_id(seed: int) -> str:
    """The name a subject seed goes by in a study (folder, index)."""
    return f"subject-{int(seed):03d}"


def _pick(r: np.random.Generator, palette: tuple) -> tuple[float, float, float]:
    return tuple(float(v) for v in palette[int(r.integers(len(palette)))])


def _clip(v: float, lo: float, hi: float) -> float:
    return float(min(max(v, lo), hi))


def draw_subject(seed: int) -> Subject:
    """The person of subject seed ``seed`` (the same seed, the same person)."""
    r = np.random.default_rng([int(seed), 1717])
    female = bool(r.random() < 0.5)
    mean_h, sd_h = (1.635, 0.068) if female else (1.770, 0.072)
    stature = _clip(r.normal(mean_h, sd_h), 1.50, 1.95)
    thigh = stature * 0.245 * (1 + 0.03 * r.standard_normal())
    shank = stature * 0.246 * (1 + 0.03 * r.standard_normal())
    hip = (0.19 if female else 0.175) * (1 + 0.05 * r.standard_normal())
    size = stature / 1.70
    calf = _clip(r.normal(0.355 if female else 0.375, 0.028) * size**0.5, 0.30, 0.44)
    thigh_c = _clip(r.normal(0.56 if female else 0.53, 0.045) * size**0.5, 0.42, 0.66)
    ankle = (0.92 if female else 1.0) * (1 + 0.05 * r.standard_normal())
    tone = np.array(_pick(r, SKIN_PALETTE)) * (1 + 0.05 * r.uniform(-1, 1))
    skin_c = _clip(r.normal(33.0, 0.9), 31.5, 34.5)
    asym = _clip(0.2 * r.standard_normal(), -0.5, 0.5)
    pattern = dict(
        knee_pit_c=float(r.uniform(0.4, 1.4)),
        ankle_drop_c=float(r.uniform(0.8, 2.2)),
        back_c=float(r.uniform(0.2, 0.8)),
        patch_c=float(r.uniform(0.0, 0.5)),
        vein=float(r.uniform(0.0, 0.6)),
    )
    warm = dict(
        warmup_c_per_min=float(r.uniform(0.1, 0.6)),
        warmup_max_c=float(r.uniform(0.8, 2.5)),
        sweat_onset_s=float(r.uniform(60.0, 600.0)),
        sweat_max_c=float(r.uniform(0.2, 1.2)),
        sweat_tau_s=float(r.uniform(60.0, 300.0)),
    )
    long_shorts = bool(r.random() < 0.35)
    shorts_end = float(r.uniform(0.85, 1.0) if long_shorts else r.uniform(0.45, 0.75))
    below = float(r.uniform(0.0, 0.10)) if long_shorts else 0.0
    socks = str(r.choice(["none", "ankle", "crew", "mid"], p=[0.15, 0.35, 0.35, 0.15]))
    sock_top = float(r.uniform(0.62, 0.75)) if socks == "mid" else SOCK_TOPS[socks]
    sleeve = str(r.choice(["none", "left", "right"], p=[0.84, 0.08, 0.08]))
    tape = str(r.choice(["none", "left", "right"], p=[0.8, 0.1, 0.1]))
    colours = dict(
        shorts_rgb=_pick(r, CLOTH_PALETTE),
        sock_rgb=_pick(r, SOCK_PALETTE),
        sleeve_rgb=_pick(r, CLOTH_PALETTE),
        tape_rgb=_pick(r, TAPE_PALETTE),
        shoe_rgb=_pick(r, SHOE_PALETTE),
        shirt_rgb=_pick(r, CLOTH_PALETTE),
    )
    speed = float(r.uniform(8.0, 14.0))
    # Taller runners take fewer, longer steps; faster ones a few more.
    step_rate = _clip(172.0 - 60.0 * (stature - 1.70) + 2.0 * (speed - 11.0), 150.0, 192.0)
    return Subject(
        id=subject_id(seed),
        seed=int(seed),
        sex="female" if female else "male",
        stature_m=stature,
        thigh_m=float(thigh),
        shank_m=float(shank),
        hip_width_m=float(hip),
        calf_circ_m=calf,
        thigh_circ_m=thigh_c,
        ankle_ratio=float(ankle),
        skin_rgb=tuple(float(v) for v in np.clip(tone, 0, 1)),
        skin_c=skin_c,
        asym_c=asym,
        **pattern,
        **warm,
        shorts="long" if long_shorts else "short",
        shorts_end=shorts_end,
        shorts_below_knee=below,
        socks=socks,
        sock_top=sock_top,
        sleeve=sleeve,
        tape=tape,
        **colours,
        cadence_rpm=float(r.uniform(60.0, 95.0)),
        speed_kmh=speed,
        step_rate_spm=step_rate,
    )


def skin_change(subject: Subject, t: float) -> float:
    """The subject's skin temperature change (°C) after ``t`` s of exercise: warm-up
    (starts at its rate, saturates) less sweat cooling (from its onset on)."""
    rate = subject.warmup_c_per_min / 60.0
    top = subject.warmup_max_c
    warm = top * (1.0 - float(np.exp(-t * rate / top))) if rate > 0 and top > 0 else 0.0
    wet = max(t - subject.sweat_onset_s, 0.0)
    sweat = subject.sweat_max_c * (1.0 - float(np.exp(-wet / subject.sweat_tau_s)))
    return warm - sweat
