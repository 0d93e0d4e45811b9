"""The calibration-sensitivity experiment's table, Markdown report and plot.

Kept apart from the experiment (:mod:`app.analysis.calibration_sensitivity`) so that
the measuring code stays short; everything here works on its result's rows. The plot
is drawn with OpenCV (already a dependency): one panel per kind of error (rotation,
translation, clock), IoU against magnitude, one line per camera and axis.
"""

from __future__ import annotations

import math
import os
from typing import Any

import cv2
import numpy as np

from app.analysis.calibration_sensitivity import LOSSES, SensitivityResult
from drivers.atomic import atomic_path, atomic_write

#: The ThermoCycleNet authors' proposed rule: verify calibration before labelling if
#: IoU falls by more than this per degree of rotation.
PAPER_LOSS_PER_DEG = 0.1


def _f(v: float | None, fmt: str = ".4f") -> str:
    return "-" if v is None or not math.isfinite(v) else format(v, fmt)


def table_rows(result: SensitivityResult) -> list[tuple[str, ...]]:
    """Header and one row per perturbation: name, magnitude, IoU, ΔIoU, ΔIoU per
    unit, boundary px, frames scored."""
    out = [("perturbation", "magnitude", "IoU", "ΔIoU", "ΔIoU/unit", "boundary px", "frames")]
    for r in result.rows:
        p = r.perturbation
        per = r.delta_iou / p.magnitude if p.magnitude else math.nan
        mag = f"{p.magnitude:g} {p.unit}" if p.unit else "-"
        out.append(
            (
                p.name,
                mag,
                _f(r.mean_iou),
                _f(r.delta_iou, "+.4f"),
                _f(per, "+.4f"),
                _f(r.boundary_px, ".2f"),
                str(r.frames),
            )
        )
    return out


def format_table(result: SensitivityResult) -> str:
    """The table and the summary, as the command prints them."""
    rows = table_rows(result)
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    lines = [
        f"{result.session}: {len(result.frames)} thermal frames, mean IoU over the labeled"
        f" classes (unknown counted as wrong), {result.seconds:.0f} s"
    ]
    for r in rows:
        lines.append(
            "  ".join(
                c.ljust(w) if k == 0 else c.rjust(w)
                for k, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    return "\n".join(lines + [""] + summary_lines(result.to_dict()))


def summary_lines(d: dict[str, Any]) -> list[str]:
    """IoU loss per unit (vs the paper's 0.1 per degree) and the errors that cost
    0.02 and 0.05 IoU."""
    lines = []
    for what, axes in d["loss_per_unit"].items():
        unit = "deg" if "rotation" in what else "mm" if "translation" in what else "ms"
        rates = ", ".join(f"{a} {_f(v)}" if a != "-" else _f(v) for a, v in axes.items())
        note = ""
        if unit == "deg":
            worst = max((v for v in axes.values() if v is not None), default=None)
            if worst is not None:
                side = "above" if worst > PAPER_LOSS_PER_DEG else "within"
                note = f" ({side} the paper's {PAPER_LOSS_PER_DEG} per degree)"
        lines.append(f"IoU loss per {unit}, {what}: {rates}{note}")
    for what, at in d["magnitude_for_loss"].items():
        unit = "deg" if "rotation" in what else "mm" if "translation" in what else "ms"
        parts = [f"{_f(at.get(f'{loss:g}'), '.3g')} {unit} costs {loss:g}" for loss in LOSSES]
        lines.append(f"{what} (worst axis): {', '.join(parts)} IoU")
    px = d["boundary_px_for_loss"]
    lines.append(
        "boundary error: "
        + ", ".join(f"{_f(px.get(f'{loss:g}'), '.2f')} px costs {loss:g}" for loss in LOSSES)
        + " IoU"
    )
    return lines


def markdown(result: SensitivityResult, plot_name: str | None = None) -> str:
    """A Markdown report: the table, the summary, the plot if one was written."""
    rows = table_rows(result)
    lines = [
        "# Calibration sensitivity",
        "",
        f"Session `{result.session}`, {len(result.frames)} thermal frames"
        f" ({result.frames[0]}..{result.frames[-1]}); IoU: mean over the labeled classes,"
        " unknown counted as wrong (as `thermorig evaluate`).",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + "|".join("---" for _ in rows[0]) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    lines += [""] + [f"- {s}" for s in summary_lines(result.to_dict())]
    if plot_name:
        lines += ["", f"![IoU against calibration error]({plot_name})"]
    return "\n".join(lines) + "\n"


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, encoding="utf-8") as fh:
        fh.write(text)


_COLOURS = [
    (200, 80, 30),
    (40, 150, 40),
    (40, 40, 210),
    (160, 60, 160),
    (0, 160, 200),
    (90, 90, 90),
]
_PANELS = (("rotation", "deg"), ("translation", "mm"), ("clock", "ms"))


def plot_image(result: SensitivityResult, panel: tuple[int, int] = (420, 340)) -> np.ndarray:
    """BGR image: IoU (0..1) against magnitude, one panel per kind of error."""
    pw, ph = panel
    img = np.full((ph, pw * len(_PANELS), 3), 255, np.uint8)
    base = result.rows[0].mean_iou if result.rows else math.nan
    font = cv2.FONT_HERSHEY_SIMPLEX
    for k, (kind, unit) in enumerate(_PANELS):
        x0, left, right, top, bottom = k * pw, k * pw + 50, (k + 1) * pw - 15, 30, ph - 45
        curves: dict[str, list[tuple[float, float]]] = {}
        for r in result.rows:
            p = r.perturbation
            if p.kind == kind and math.isfinite(r.mean_iou):
                curves.setdefault(f"{p.camera} {p.axis}".strip(), [(0.0, base)]).append(
                    (p.magnitude, r.mean_iou)
                )
        top_mag = max((m for c in curves.values() for m, _ in c), default=1.0) or 1.0

        def xy(m: float, v: float) -> tuple[int, int]:
            x = left + (right - left) * m / top_mag  # noqa: B023 - used within the loop
            y = bottom - (bottom - top) * min(max(v, 0.0), 1.0)  # noqa: B023
            return int(round(x)), int(round(y))

        cv2.rectangle(img, (left, top), (right, bottom), (0, 0, 0), 1)
        for v in (0.0, 0.5, 0.9, 1.0):
            cv2.line(img, xy(0, v), xy(top_mag, v), (225, 225, 225), 1)
            cv2.putText(img, f"{v:g}", (x0 + 12, xy(0, v)[1] + 4), font, 0.4, (0, 0, 0), 1)
        for m in sorted({m for c in curves.values() for m, _ in c}):
            x = xy(m, 0)[0]
            cv2.line(img, (x, bottom), (x, bottom + 4), (0, 0, 0), 1)
        for m in (0.0, top_mag / 2, top_mag):
            cv2.putText(img, f"{m:g}", (xy(m, 0)[0] - 8, bottom + 18), font, 0.4, (0, 0, 0), 1)
        cv2.putText(img, f"{kind} ({unit})", (left, ph - 10), font, 0.5, (0, 0, 0), 1)
        cv2.putText(img, "IoU", (x0 + 5, top - 10), font, 0.45, (0, 0, 0), 1)
        for n, (name, pts) in enumerate(sorted(curves.items())):
            colour = _COLOURS[n % len(_COLOURS)]
            poly = np.array([xy(m, v) for m, v in sorted(pts)], np.int32)
            cv2.polylines(img, [poly], False, colour, 2, cv2.LINE_AA)
            for q in poly:
                cv2.circle(img, tuple(int(c) for c in q), 3, colour, -1, cv2.LINE_AA)
            # The legend in the lower left, where curves falling from IoU 1 are not.
            ly = bottom - 10 - 16 * (len(curves) - 1 - n)
            cv2.line(img, (left + 10, ly - 4), (left + 30, ly - 4), colour, 2)
            cv2.putText(img, name, (left + 35, ly), font, 0.4, colour, 1, cv2.LINE_AA)
    return img


def write_plot(path: str | os.PathLike, result: SensitivityResult) -> None:
    """The plot as a PNG, written atomically."""
    with atomic_path(path) as tmp:
        ok, data = cv2.imencode(".png", plot_image(result))
        if not ok:
            raise OSError(f"could not encode the plot for {path}")
        tmp.write_bytes(data.tobytes())
