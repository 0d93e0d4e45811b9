"""A calibration's report: a text summary and one PNG a person can judge at a glance.

For a whole rig (:func:`write_rig_report`) the PNG stacks the same per-view bars for
every camera and every pair — a pair's bar is the view's error over both cameras —
and each camera also gets its own report with the coverage map.

The PNG has the per-view reprojection-error bars MATLAB's calibrator users know
(kept views green, rejected red, the overall and held-out errors as lines) and a
coverage map — every view's board outline over the image area, plus ROS-style X / Y
/ Size / Skew bars — because a low RMS from boards all in the image centre still
leaves the distortion at the border unknown. Drawn with OpenCV only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from calibration.boards import Board, parse_board
from calibration.coverage import PARAM_NAMES, Coverage, outline, view_params
from calibration.detect import Detection
from calibration.intrinsics import IntrinsicsResult
from calibration.rig_calibration import RigCalibration
from calibration.stereo import PairResult

_GREEN = (60, 170, 60)
_RED = (50, 50, 210)
_BLUE = (200, 120, 30)
_ORANGE = (0, 140, 255)
_GREY = (120, 120, 120)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def coverage_of(detections: Sequence[Detection], indices: Sequence[int], board: Board) -> Coverage:
    """Coverage of the given views (every view offered, only new ones kept)."""
    cov = Coverage()
    for i in indices:
        cov.add(view_params(detections[i], board))
    return cov


def _bar(frac: float, width: int = 20) -> str:
    n = int(round(max(0.0, min(1.0, frac)) * width))
    return "#" * n + "-" * (width - n)


def summary_text(
    camera: str,
    result: IntrinsicsResult,
    detections: Sequence[Detection],
    board: Board | str,
    images_total: int | None = None,
) -> str:
    """A plain-text summary: errors, views kept and dropped, intrinsics, coverage."""
    board = parse_board(board) if isinstance(board, str) else board
    K, d = result.K, result.dist
    std = result.std_intrinsics if result.std_intrinsics is not None else np.full(4, np.nan)
    found = len(detections)
    lines = [
        f"camera {camera}: {result.image_size[0]}x{result.image_size[1]}, board {board.spec}",
        f"board found in {found}"
        + (f" of {images_total} images" if images_total is not None else " views"),
        f"views used {len(result.used)}, rejected {len(result.rejected)}, corners used {result.points_used}",
        f"RMS reprojection error {result.rms:.3f} px (held-out {result.heldout_rms:.3f} px)",
        f"fx {K[0, 0]:.2f} ± {std[0]:.2f}  fy {K[1, 1]:.2f} ± {std[1]:.2f}  "
        f"cx {K[0, 2]:.2f} ± {std[2]:.2f}  cy {K[1, 2]:.2f} ± {std[3]:.2f}",
        "dist " + " ".join(f"{v:+.5f}" for v in d),
    ]
    for i, why in result.rejected.items():
        lines.append(
            f"  rejected view {i} {Path(result.sources[i]).name if result.sources else ''}: {why}"
        )
    worst = sorted(result.used, key=lambda i: -result.view_rms[i])[:3]
    lines.append(
        "worst kept views: "
        + ", ".join(
            f"{Path(result.sources[i]).name or i} {result.view_rms[i]:.3f} px" for i in worst
        )
    )
    cov = coverage_of(detections, result.used, board)
    lines.append(f"coverage ({len(cov.kept)} distinct views):")
    for name, frac in cov.progress().items():
        lines.append(f"  {name:<5}[{_bar(frac)}] {frac:.2f}")
    return "\n".join(lines) + "\n"


def _text(img, s, org, scale=0.45, color=(30, 30, 30), thick=1):
    cv2.putText(img, s, (int(org[0]), int(org[1])), _FONT, scale, color, thick, cv2.LINE_AA)


def _bars_panel(
    title: str,
    vals: np.ndarray,
    held: np.ndarray,
    rejected: set[int],
    rms: float,
    width: int,
    height: int,
    labels: list[str] | None = None,
) -> np.ndarray:
    """Per-view error bars: green kept, red rejected, orange dots held-out, blue line
    the overall error; ``labels`` names the views under their bars (if they fit)."""
    panel = np.full((height, width, 3), 255, np.uint8)
    n = len(vals)
    left, right, top, bottom = 50, 10, 25, 25
    vals = np.nan_to_num(np.asarray(vals, np.float64), nan=0.0)
    held = np.nan_to_num(np.asarray(held, np.float64), nan=0.0)
    rms_line = rms if np.isfinite(rms) else 0.0
    vmax = max(float(vals.max(initial=0)), float(held.max(initial=0)), rms_line, 1e-3) * 1.15
    plot_h = height - top - bottom

    def ypix(v: float) -> int:
        return int(round(top + plot_h * (1 - v / vmax)))

    cv2.line(panel, (left, top), (left, height - bottom), _GREY, 1)
    cv2.line(panel, (left, height - bottom), (width - right, height - bottom), _GREY, 1)
    for t in np.linspace(0, vmax, 5)[1:]:
        cv2.line(panel, (left - 4, ypix(t)), (left, ypix(t)), _GREY, 1)
        _text(panel, f"{t:.3f}" if vmax < 0.1 else f"{t:.2f}", (2, ypix(t) + 4), 0.35)
    slot = (width - left - right) / max(n, 1)
    for i in range(n):
        x0 = int(left + i * slot + slot * 0.15)
        x1 = int(left + (i + 1) * slot - slot * 0.15)
        color = _RED if i in rejected else _GREEN
        cv2.rectangle(panel, (x0, ypix(vals[i])), (max(x1, x0 + 1), height - bottom), color, -1)
        if held[i] > 0:
            cv2.circle(panel, ((x0 + x1) // 2, ypix(held[i])), 2, _ORANGE, -1)
        if labels is not None and slot >= 18:
            _text(panel, labels[i], (x0, height - bottom + 13), 0.33)
    cv2.line(panel, (left, ypix(rms_line)), (width - right, ypix(rms_line)), _BLUE, 1)
    _text(panel, title, (left, 16))
    _text(panel, "view", (width - right - 35, height - 8), 0.4)
    return panel


def _error_panel(result: IntrinsicsResult, width: int, height: int) -> np.ndarray:
    return _bars_panel(
        "per-view RMS error (px): green kept, red rejected, dots held-out; "
        f"line = overall {result.rms:.3f}",
        result.view_rms,
        result.heldout_view_rms,
        set(result.rejected),
        result.rms,
        width,
        height,
    )


def _coverage_panel(
    result: IntrinsicsResult, detections: Sequence[Detection], board: Board, width: int, height: int
) -> np.ndarray:
    panel = np.full((height, width, 3), 255, np.uint8)
    iw, ih = result.image_size
    map_w = int(width * 0.62)
    ox, oy = 10, 30
    # The map is drawn on its own canvas so that outlines of partial views, which
    # reach beyond the image, are clipped at the map's margin.
    canvas = np.full((height - oy - 5, map_w, 3), 255, np.uint8)
    scale = min((map_w - 60) / iw, (canvas.shape[0] - 40) / ih)
    mx, my = (map_w - iw * scale) / 2, (canvas.shape[0] - ih * scale) / 2
    overlay = canvas.copy()
    for i, det in enumerate(detections):
        quad = (outline(det, board) * scale + (mx, my)).astype(np.int32)
        color = _RED if i in result.rejected else _GREEN
        cv2.fillPoly(overlay, [quad], color)
        cv2.polylines(canvas, [quad], True, color, 1, cv2.LINE_AA)
    canvas = cv2.addWeighted(overlay, 0.15, canvas, 0.85, 0)
    top_left = (int(mx), int(my))
    cv2.rectangle(canvas, top_left, (int(mx + iw * scale), int(my + ih * scale)), (40, 40, 40), 2)
    panel[oy : oy + canvas.shape[0], ox : ox + map_w] = canvas
    _text(panel, f"board outlines over the {iw}x{ih} image", (ox, 18))
    cov = coverage_of(detections, result.used, board)
    bx, bw = map_w + 10, width - map_w - 30
    _text(panel, f"coverage, {len(cov.kept)} distinct views", (bx, 18))
    for k, (name, frac) in enumerate(cov.progress().items()):
        y = 45 + k * 36
        _text(panel, name, (bx, y + 12))
        cv2.rectangle(panel, (bx + 45, y), (bx + bw - 45, y + 16), _GREY, 1)
        fill = _GREEN if frac >= 1.0 - 1e-9 else _ORANGE
        cv2.rectangle(panel, (bx + 46, y + 1), (bx + 46 + int((bw - 92) * frac), y + 15), fill, -1)
        _text(panel, f"{frac:.2f}", (bx + bw - 38, y + 12), 0.4)
    y = 45 + len(PARAM_NAMES) * 36 + 10
    for line in (
        f"RMS {result.rms:.3f} px",
        f"held-out {result.heldout_rms:.3f} px",
        f"views {len(result.used)} kept / {len(result.rejected)} rejected",
    ):
        _text(panel, line, (bx, y))
        y += 20
    return panel


def render_report(
    camera: str, result: IntrinsicsResult, detections: Sequence[Detection], board: Board | str
) -> np.ndarray:
    """The report image (BGR uint8)."""
    board = parse_board(board) if isinstance(board, str) else board
    width = 900
    title = np.full((30, width, 3), 255, np.uint8)
    _text(
        title,
        f"thermorig calibration: camera {camera}, board {board.spec}",
        (10, 20),
        0.55,
        thick=1,
    )
    return np.vstack(
        [
            title,
            _error_panel(result, width, 240),
            _coverage_panel(result, detections, board, width, 360),
        ]
    )


#: fnmatch patterns of the files the reports write into their folder: every output
#: check (``--report DIR``) refuses to replace such a file without ``--overwrite``.
REPORT_PATTERNS = ("*_calibration.txt", "*_calibration.png")


def report_names(camera: str) -> tuple[str, str]:
    """The text and image file :func:`write_report` writes for ``camera``."""
    return f"{camera}_calibration.txt", f"{camera}_calibration.png"


def write_report(
    out_dir: str | Path,
    camera: str,
    result: IntrinsicsResult,
    detections: Sequence[Detection],
    board: Board | str,
    images_total: int | None = None,
) -> list[Path]:
    """Write ``<camera>_calibration.txt`` and ``.png`` into ``out_dir``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    txt, png = (out / name for name in report_names(camera))
    txt.write_text(summary_text(camera, result, detections, board, images_total))
    if not cv2.imwrite(str(png), render_report(camera, result, detections, board)):
        raise OSError(f"could not write {png}")
    return [txt, png]


# -- rig (several cameras and pairs) ---------------------------------------------------


def _fmt(v: float) -> str:
    return f"{v:.3f}" if np.isfinite(v) else "n/a"


def rig_summary_text(result: RigCalibration) -> str:
    """Plain text: per camera and per pair errors, views kept and dropped, the rig."""
    rig = result.to_rig()
    lines = [
        f"rig calibration, board {result.board}, reference camera {result.reference}",
        f"still board poses {result.poses}"
        # Stills (calibrate-images) have no frames to search: one image per view.
        + (f", frames searched {result.frames_searched}" if result.frames_searched else "")
        + (
            "" if result.hw_sync is None else f", hardware sync {'on' if result.hw_sync else 'off'}"
        ),
        "",
        "cameras (intrinsics; RMS reprojection error, held-out in brackets):",
    ]
    for name, res in result.intrinsics.items():
        K = res.K
        stream = result.streams.get(name, name)
        lines.append(
            f"  {name:<8} ({stream}) {res.image_size[0]}x{res.image_size[1]}  RMS {_fmt(res.rms)} px "
            f"({_fmt(res.heldout_rms)})  views {len(res.used)} used / {len(res.rejected)} rejected  "
            f"fx {K[0, 0]:.2f} fy {K[1, 1]:.2f} cx {K[0, 2]:.2f} cy {K[1, 2]:.2f}"
        )
    lines += ["", "pairs (RMS over both cameras of each shared view, held-out in brackets):"]
    for name, pair in result.pairs.items():
        how = "fitted" if pair.fitted else "checked through the reference, not fitted"
        lines.append(
            f"  {name:<14} RMS {_fmt(pair.rms)} px ({_fmt(pair.heldout_rms)})  views "
            f"{len(pair.used)} used / {len(pair.rejected)} rejected  [{how}]"
        )
        for key, why in pair.rejected.items():
            lines.append(f"    rejected pose {key}: {why}")
    lines += ["", "poses (T_ref_cam: camera in the reference frame):"]
    for name, cam in rig.cameras.items():
        T = cam.T_ref_cam
        angle = float(np.degrees(np.linalg.norm(cv2.Rodrigues(T[:3, :3])[0])))
        t = T[:3, 3] * 1000
        lines.append(
            f"  {name:<8} t = ({t[0]:+.1f}, {t[1]:+.1f}, {t[2]:+.1f}) mm, "
            f"|t| {np.linalg.norm(t):.1f} mm, rotation {angle:.2f} deg"
        )
    dropped = {c: r for c, r in result.rejected.items() if r}
    if dropped:
        lines += ["", "views not used:"]
        for cam, rej in dropped.items():
            for key, why in rej.items():
                lines.append(f"  {cam} pose {key}: {why}")
    return "\n".join(lines) + "\n"


def _pair_panel(pair: PairResult, width: int, height: int) -> np.ndarray:
    keys = sorted(pair.view_rms)
    vals = np.array([pair.view_rms[k] for k in keys])
    held = np.array([pair.heldout_view_rms.get(k, np.nan) for k in keys])
    rejected = {i for i, k in enumerate(keys) if k in pair.rejected}
    how = "" if pair.fitted else " (checked, not fitted)"
    title = (
        f"pair {pair.a}-{pair.b}{how}: per-pose RMS (px), both cameras; "
        f"overall {_fmt(pair.rms)}, held-out {_fmt(pair.heldout_rms)}"
    )
    return _bars_panel(title, vals, held, rejected, pair.rms, width, height, [str(k) for k in keys])


def render_rig_report(result: RigCalibration) -> np.ndarray:
    """The rig report image (BGR uint8): error bars per camera, then per pair."""
    width = 900
    title = np.full((30, width, 3), 255, np.uint8)
    _text(
        title,
        f"thermorig rig calibration: board {result.board}, reference {result.reference}, "
        f"{result.poses} still poses",
        (10, 20),
        0.55,
    )
    panels = [title]
    for name, res in result.intrinsics.items():
        labels = [str(v.pose) for v in result.views.get(name, [])]
        panels.append(
            _bars_panel(
                f"camera {name}: per-pose RMS (px); overall {_fmt(res.rms)}, "
                f"held-out {_fmt(res.heldout_rms)}",
                res.view_rms,
                res.heldout_view_rms,
                set(res.rejected),
                res.rms,
                width,
                170,
                labels if len(labels) == len(res.view_rms) else None,
            )
        )
    for pair in result.pairs.values():
        panels.append(_pair_panel(pair, width, 170))
    return np.vstack(panels)


def write_rig_report(out_dir: str | Path, result: RigCalibration) -> list[Path]:
    """Write ``rig_calibration.txt``/``.png`` and each camera's own report into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    txt, png = out / "rig_calibration.txt", out / "rig_calibration.png"
    txt.write_text(rig_summary_text(result))
    if not cv2.imwrite(str(png), render_rig_report(result)):
        raise OSError(f"could not write {png}")
    paths = [txt, png]
    for name, res in result.intrinsics.items():
        dets = [v.detection for v in result.views.get(name, [])]
        if len(dets) == len(res.view_rms):
            paths += write_report(out, name, res, dets, result.board)
    return paths
