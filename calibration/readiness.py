"""When a live calibration is ready to fit, and what to make of the fit: no Qt.

**Ready to calibrate.** The calibration wizard offers *Calibrate* only once every rig
camera has :data:`READY_POSES` views and its coverage bars (:mod:`calibration.coverage`)
reach :data:`READY_COVERAGE`; until then it says, in one line, what is still missing.
The bars that gate are the ones the fit cannot do without: X and Y (board positions
across the image — the distortion model is only constrained where the board has been)
and Skew (tilted views — views of parallel planes cannot tell the focal length from
the distance, Zhang's degenerate case). Size (near and far) helps little once the board
is tilted, so it is only a hint: on the synthetic calibration scene, whose board stays
at about one distance (Size 16-23 %), eight poses fit every focal length within 2 %.
Eight poses, not the fit's minimum of five (:data:`~calibration.intrinsics.MIN_VIEWS`):
the fit drops outlier views and holds some out to check itself.

**Verdict.** After the fit, the worst RMS reprojection error of any camera or camera
pair (the held-out error where there is one: training error flatters a model) against
:data:`GOOD_PX` and :data:`ACCEPTABLE_PX` — the usual rule of thumb (under half a
pixel good, under one acceptable).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from calibration.rig import Rig
from calibration.rig_calibration import RigCalibration

#: Views every camera needs before the fit is offered.
READY_POSES = 8
#: Coverage (0-1, the wizard's bars) every camera needs before the fit is offered.
READY_COVERAGE = {"x": 0.35, "y": 0.35, "skew": 0.4}
#: Below this Size bar the ready line suggests nearer and further views (no gate).
SIZE_HINT = 0.3
#: Worst RMS reprojection error (px) for a "good" and an "acceptable" verdict.
GOOD_PX = 0.5
ACCEPTABLE_PX = 1.0

#: What to do for a bar that is short, for the ready line.
ADVICE = {
    "x": "move the board left and right",
    "y": "move the board up and down",
    "skew": "tilt the board",
    "size": "views nearer and further",
}
BAR_NAMES = {"x": "X", "y": "Y", "skew": "Skew", "size": "Size"}


@dataclass
class Readiness:
    """Whether the fit is offered, and the line that says why (not)."""

    ready: bool
    missing: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        if self.ready:
            line = "ready to calibrate"
            if self.hints:
                line += f" · {ADVICE['size']} would help (Size: {', '.join(self.hints)})"
            return line
        return "not ready: " + "; ".join(self.missing)


def readiness(
    progress: Mapping[str, Mapping[str, float]],
    views: Mapping[str, int],
    cameras: Iterable[str],
) -> Readiness:
    """Whether ``cameras`` (each with its coverage bars in ``progress`` and its view
    count in ``views``) are ready to be fitted; see the module docstring."""
    missing: list[str] = []
    hints: list[str] = []
    for camera in cameras:
        n = views.get(camera, 0)
        bars = progress.get(camera, {})
        short = []
        if n < READY_POSES:
            short.append(f"{n} of {READY_POSES} poses")
        for name, need in READY_COVERAGE.items():
            have = bars.get(name, 0.0)
            if have < need:
                short.append(
                    f"{BAR_NAMES[name]} {100 * have:.0f} % of {100 * need:.0f} % ({ADVICE[name]})"
                )
        if short:
            missing.append(f"{camera}: " + ", ".join(short))
        elif bars.get("size", 0.0) < SIZE_HINT:
            hints.append(f"{camera} {100 * bars.get('size', 0.0):.0f} %")
    return Readiness(not missing, missing, hints)


@dataclass
class Verdict:
    """The fit's worst error and what it means."""

    level: str  # "good", "acceptable", "poor"
    worst_px: float
    worst: str  # which camera or pair

    @property
    def text(self) -> str:
        return (
            f"{self.level}: worst RMS error {self.worst_px:.2f} px ({self.worst}); "
            f"good under {GOOD_PX} px, acceptable under {ACCEPTABLE_PX} px"
        )


def _error(entry: Mapping[str, Any]) -> float:
    """An entry's error: its held-out RMS where there is one, else its RMS."""
    values = [entry.get("rms"), entry.get("heldout_rms")]
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return max(finite) if finite else math.nan


def verdict(quality: Mapping[str, Any]) -> Verdict:
    """The verdict on a fit from its quality figures
    (:meth:`~calibration.rig_calibration.RigCalibration.quality`)."""
    errors = {name: _error(q) for name, q in quality.get("intrinsics", {}).items()}
    errors |= {name: _error(p) for name, p in quality.get("pairs", {}).items()}
    errors = {name: e for name, e in errors.items() if math.isfinite(e)}
    if not errors:
        return Verdict("poor", math.nan, "no error figures")
    worst = max(errors, key=errors.__getitem__)
    e = errors[worst]
    level = "good" if e < GOOD_PX else "acceptable" if e < ACCEPTABLE_PX else "poor"
    return Verdict(level, e, worst)


def intrinsics_lines(rig: Rig) -> list[str]:
    """One line per camera: focal lengths, principal point (px) and distortion."""
    lines = []
    for name, cam in rig.cameras.items():
        K, d = cam.K, cam.dist
        dist = " ".join(f"{v:+.3f}" for v in d[:5])
        lines.append(
            f"{name} {cam.width}×{cam.height}: fx {K[0, 0]:.1f} fy {K[1, 1]:.1f} "
            f"cx {K[0, 2]:.1f} cy {K[1, 2]:.1f} px · distortion (k1 k2 p1 p2 k3) {dist}"
        )
    return lines


def fit_report(result: RigCalibration, rig: Rig) -> list[str]:
    """The fit in a few lines: per camera its intrinsics, RMS and held-out error, the
    pairs' errors, and the verdict last."""
    q = result.quality()

    def px(v) -> str:
        return "–" if v is None else f"{v:.3f}"

    lines = []
    intrinsics = dict(zip(rig.cameras, intrinsics_lines(rig), strict=True))
    for name, c in q["intrinsics"].items():
        lines.append(
            f"{intrinsics.get(name, name)}\n    RMS {px(c['rms'])} px "
            f"(held-out {px(c['heldout_rms'])}), {c['views_used']} views used, "
            f"{c['views_rejected']} left out"
        )
    pairs = [
        f"{name}{'' if p['fitted'] else ' (checked)'} {px(p['rms'])} px"
        for name, p in q["pairs"].items()
    ]
    lines.append("pairs: " + ", ".join(pairs))
    lines.append("verdict: " + verdict(q).text)
    return lines
