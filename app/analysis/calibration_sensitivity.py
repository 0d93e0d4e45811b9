"""How much a calibration error costs the labels: the calibration-sensitivity experiment.

Labels carried from RGB into thermal are only as good as the rig. On a synthetic
session (whose true rig and true thermal masks are known) this transfers the true RGB
labels into thermal exactly as ``thermorig autolabel`` does (:class:`FrameLabeler`),
once with the true rig and once per *perturbation* of it, and scores each against the
thermal truth exactly as ``thermorig evaluate`` does (:class:`TruthScore`: mean strict
IoU over the labeled classes), plus the mean symmetric boundary distance in pixels
(:func:`models.metrics.boundary_distance_sums`).

Perturbations (the rig the transfer *believes*, while the frames were made with the
true one):

- ``rotation``: a camera turned about one of its own axes (x right, y down, z along
  the view) by 0.1, 0.25, 0.5, 1, 3, 5 degrees: ``T_ref_cam ← T_ref_cam · R``;
- ``translation``: a camera moved along one of its axes by 2, 5, 10 mm;
- ``clock``: the target's host timestamps late by 5, 10, 33, 66 ms (a driver's delay
  between exposure and timestamp): each thermal frame is paired with the depth and
  colour frames of the shifted instant. Done in memory; the session file is only read.

Frames are sampled (``frames`` evenly spaced target frames, all of which every clock
offset can pair), so a 10 s session takes about a minute. The figures feed the
thresholds of the rig checks (:mod:`calibration.sensitivity_figures`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from app.analysis.quality import TruthScore
from app.labels.autolabel import AutolabelOptions, FrameLabeler, check_session, resolve_rig
from app.labels.sources import open_label_source
from calibration.rig import Camera, Rig
from drivers import stop_request
from drivers.errors import ThermorigError
from drivers.session import SessionReader
from models.metrics import boundary_distance_sums

#: The issue's magnitudes, plus finer ones where the loss crosses a rig check's
#: thresholds (0.02 and 0.05 IoU: about a tenth of a degree, a few milliseconds).
ROTATIONS_DEG = (0.1, 0.25, 0.5, 1.0, 3.0, 5.0)
TRANSLATIONS_MM = (2.0, 5.0, 10.0)
CLOCK_MS = (5.0, 10.0, 33.0, 66.0)
AXES = ("x", "y", "z")
UNITS = {"none": "", "rotation": "deg", "translation": "mm", "clock": "ms"}
#: IoU losses a rig check cares about (what error costs this much).
LOSSES = (0.02, 0.05)


class NoTruthError(ThermorigError):
    """The session has no ground truth: the experiment needs a synthetic session."""


@dataclass(frozen=True)
class Perturbation:
    """One controlled error of the rig or of the target's clock."""

    kind: str = "none"  # none, rotation, translation, clock
    camera: str = ""
    axis: str = ""
    magnitude: float = 0.0

    @property
    def unit(self) -> str:
        return UNITS[self.kind]

    @property
    def name(self) -> str:
        """``thermal rotation x``, ``thermal clock``, ``true rig``."""
        if self.kind == "none":
            return "true rig"
        return " ".join(p for p in (self.camera, self.kind, self.axis) if p)

    def rig(self, rig: Rig) -> Rig:
        """``rig`` with this error applied (clock offsets leave it as it is)."""
        if self.kind not in ("rotation", "translation"):
            return rig
        delta = np.eye(4)
        axis = np.zeros(3)
        axis[AXES.index(self.axis)] = 1.0
        if self.kind == "rotation":
            delta[:3, :3] = cv2.Rodrigues(axis * math.radians(self.magnitude))[0]
        else:
            delta[:3, 3] = axis * self.magnitude * 1e-3
        cam = rig[self.camera]
        moved = Camera(cam.width, cam.height, cam.K, cam.dist, cam.T_ref_cam @ delta)
        return Rig({**rig.cameras, self.camera: moved}, rig.reference, rig.created, rig.board)

    @property
    def shift_s(self) -> float:
        return self.magnitude * 1e-3 if self.kind == "clock" else 0.0


def default_perturbations(
    rotated: Iterable[str] = ("thermal", "color"), target: str = "thermal"
) -> list[Perturbation]:
    """The true rig, then rotations of each ``rotated`` camera, translations of the
    target camera and clock offsets of the target stream."""
    out = [Perturbation()]
    for cam in rotated:
        out += [Perturbation("rotation", cam, a, m) for a in AXES for m in ROTATIONS_DEG]
    out += [Perturbation("translation", target, a, m) for a in AXES for m in TRANSLATIONS_MM]
    out += [Perturbation("clock", target, "", m) for m in CLOCK_MS]
    return out


@dataclass
class Row:
    """One perturbation's figures."""

    perturbation: Perturbation
    mean_iou: float
    iou: dict[str, float]
    boundary_px: float
    frames: int
    delta_iou: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        p = self.perturbation
        return {
            "perturbation": p.name,
            "kind": p.kind,
            "camera": p.camera,
            "axis": p.axis,
            "magnitude": p.magnitude,
            "unit": p.unit,
            "mean_iou": _r(self.mean_iou),
            "delta_iou": _r(self.delta_iou),
            "boundary_px": _r(self.boundary_px),
            "iou": {k: _r(v) for k, v in self.iou.items()},
            "frames": self.frames,
        }


@dataclass
class SensitivityResult:
    session: str
    frames: list[int]
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "frames": self.frames,
            "headline": "mean_iou: strict mean IoU over the labeled classes (thermorig evaluate)",
            "rows": [r.to_dict() for r in self.rows],
            "loss_per_unit": loss_per_unit(self.rows),
            "magnitude_for_loss": magnitude_for_loss(self.rows),
            "boundary_px_for_loss": boundary_px_for_loss(self.rows),
            "seconds": round(self.seconds, 1),
        }


def _r(v: float) -> float | None:
    return round(float(v), 4) if math.isfinite(v) else None


def sample_frames(
    s: SessionReader, opts: AutolabelOptions, n: int, max_shift_s: float
) -> list[int]:
    """``n`` evenly spaced target frames that every clock offset up to ``max_shift_s``
    still pairs with a depth frame of the recording (within half a depth period of its
    first and last; the session's last ``max_shift_s`` has none)."""
    t, td = s.timestamps(opts.target), s.timestamps("depth")
    half = 0.5 * float(np.median(np.diff(td))) if len(td) > 1 else 0.0
    ok = np.nonzero((t >= td[0] - half) & (t + max_shift_s <= td[-1] + half))[0]
    if not len(ok):
        raise ThermorigError(f"{s.path} is too short for clock offsets of {1e3 * max_shift_s:g} ms")
    pick = np.unique(np.round(np.linspace(0, len(ok) - 1, min(n, len(ok)))).astype(int))
    return [int(i) for i in ok[pick]]


@stop_request.deferred()
def calibration_sensitivity(
    session_path: str | os.PathLike,
    frames: int = 20,
    perturbations: list[Perturbation] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SensitivityResult:
    """Transfer and score the sampled frames once per perturbation (the first row is
    the true rig, the reference of every ΔIoU). Reads the session only; a stop signal
    ends it between two frames."""
    t0 = time.perf_counter()
    opts = AutolabelOptions()
    perts = perturbations or default_perturbations(target=opts.target)
    if perts[0].kind != "none":
        perts = [Perturbation(), *perts]
    with SessionReader(session_path) as s:
        if not s.truth or not s.truth.get("rig"):
            raise NoTruthError(
                f"{session_path} has no ground truth; the calibration-sensitivity experiment"
                " needs a synthetic session with truth (thermorig simulate)"
            )
        check_session(s, opts, "calibration-sensitivity")
        rig, _ = resolve_rig("truth", s)
        max_shift = max((p.shift_s for p in perts), default=0.0)
        picked = sample_frames(s, opts, frames, max_shift)
        source = _CachedLabels(open_label_source("truth", s, opts.source_stream))
        try:
            depth = _cache(lambda j: s.frame("depth", j).array)
            truth = _cache(lambda i: s.frame(opts.target, i).truth["labels"])
            result = SensitivityResult(str(session_path), picked)
            total = len(perts) * len(picked)
            for k, p in enumerate(perts):
                labeler = FrameLabeler(s, p.rig(rig), source, opts, p.shift_s, depth)
                score, b_sum, b_count, done = TruthScore(len(labeler.classes)), 0.0, 0, 0
                for n, i in enumerate(picked):
                    stop_request.check()  # Ctrl-C, SIGTERM: nothing is written yet
                    out = labeler(i)
                    if out is not None:
                        score.add(truth(i), out.labels)
                        bs, bc = boundary_distance_sums(truth(i), out.labels, score.classes)
                        b_sum, b_count, done = b_sum + bs, b_count + bc, done + 1
                    if progress:
                        progress(k * len(picked) + n + 1, total)
                result.rows.append(
                    Row(
                        p,
                        score.mean_iou_strict() if done else math.nan,
                        dict(zip(labeler.classes, score.iou_strict().tolist(), strict=True)),
                        b_sum / b_count if b_count else math.nan,
                        done,
                    )
                )
        finally:
            source.close()
    base = result.rows[0].mean_iou
    for row in result.rows:
        row.delta_iou = row.mean_iou - base
    result.seconds = time.perf_counter() - t0
    return result


def _cache(read: Callable[[int], np.ndarray]) -> Callable[[int], np.ndarray]:
    """``read`` remembered by index: every perturbation reads the same few frames."""
    memo: dict[int, np.ndarray] = {}

    def get(i: int) -> np.ndarray:
        if i not in memo:
            memo[i] = read(i)
        return memo[i]

    return get


class _CachedLabels:
    """A label source whose frames are read once for all perturbations."""

    def __init__(self, source: Any):
        self._source, self.classes = source, source.classes
        self.provenance = source.provenance
        self._memo: dict[int, np.ndarray | None] = {}

    def labels(self, index: int) -> np.ndarray | None:
        if index not in self._memo:
            self._memo[index] = self._source.labels(index)
        return self._memo[index]

    def close(self) -> None:
        self._source.close()


def _curves(rows: list[Row]) -> dict[tuple[str, str, str], list[tuple[float, float]]]:
    """(kind, camera, axis) → [(magnitude, IoU loss), ...] from 0, sorted."""
    out: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for r in rows:
        p = r.perturbation
        if p.kind != "none" and math.isfinite(r.delta_iou):
            out.setdefault((p.kind, p.camera, p.axis), [(0.0, 0.0)]).append(
                (p.magnitude, -r.delta_iou)
            )
    return {k: sorted(v) for k, v in out.items()}


def loss_per_unit(rows: list[Row]) -> dict[str, dict[str, float | None]]:
    """IoU lost per unit (deg, mm, ms) by ``camera kind`` and axis: the steepest mean
    rate from zero over the measured magnitudes (largest loss / magnitude), counting
    only losses of at least 0.005 (smaller ones are noise); None if none is."""
    out: dict[str, dict[str, float | None]] = {}
    for (kind, cam, axis), pts in _curves(rows).items():
        rates = [loss / m for m, loss in pts[1:] if loss >= 0.005]
        out.setdefault(f"{cam} {kind}", {})[axis or "-"] = round(max(rates), 4) if rates else None
    return out


def magnitude_for_loss(
    rows: list[Row], losses: tuple[float, ...] = LOSSES
) -> dict[str, dict[str, float | None]]:
    """Per ``camera kind``: the smallest error (over axes; linear between measured
    magnitudes) that loses each IoU in ``losses``, None beyond the measured range.
    Also ``boundary_px`` at that loss, so a check in pixels can use it."""
    out: dict[str, dict[str, float | None]] = {}
    for (kind, cam, _axis), pts in _curves(rows).items():
        d = out.setdefault(f"{cam} {kind}", {})
        for loss in losses:
            m = _crossing(pts, loss)
            key = f"{loss:g}"
            if m is not None and (d.get(key) is None or m < d[key]):
                d[key] = round(m, 3)
            else:
                d.setdefault(key, None)
    return out


def boundary_px_for_loss(
    rows: list[Row], losses: tuple[float, ...] = LOSSES
) -> dict[str, float | None]:
    """The boundary error (px) that goes with each IoU loss of ``losses``: a straight
    line through (loss, px) of the true rig and every camera rotation or translation
    losing at most 0.2 (beyond, a calf's labels miss it and the relation bends)."""
    pts = np.array(
        [
            (-r.delta_iou, r.boundary_px)
            for r in rows
            if r.perturbation.kind in ("none", "rotation", "translation")
            and math.isfinite(r.delta_iou + r.boundary_px)
            and -r.delta_iou <= 0.2
        ]
    ).reshape(-1, 2)
    if len(pts) < 2 or np.ptp(pts[:, 0]) == 0:
        return {f"{loss:g}": None for loss in losses}
    slope, offset = np.polyfit(pts[:, 0], pts[:, 1], 1)
    return {f"{loss:g}": round(float(offset + slope * loss), 2) for loss in losses}


def _crossing(pts: list[tuple[float, float]], loss: float) -> float | None:
    for (m0, l0), (m1, l1) in zip(pts, pts[1:], strict=False):
        if l1 >= loss:
            return m0 + (m1 - m0) * (loss - l0) / (l1 - l0) if l1 > l0 else m1
    return None
