"""Folders of board stills as a lab's vendor tools leave them, with the true rig.

Many labs capture calibration images with each camera's own software: a folder of
thermal images (often 8-bit and colour-mapped), one of RGB, one of the depth camera's
IR, matched by a number in the file name. ``thermorig simulate-stills`` writes such
folders from the synthetic calibration scene, so that calibrating from stills can be
tested against the right answer (``truth.json``: the scene's true rig in the rig-JSON
schema of docs/formats/rig.md).

One still per board pose, rendered mid-hold (the board is still) with fresh sensor
noise. An extra roll of every other pose (``roll_deg``) turns the board in its own plane, as a person
does to cover the field of view; on a plain checkerboard that is 180°-symmetric
(``cols + rows`` even) it is what makes corner order differ between cameras.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from drivers.atomic import atomic_path, atomic_write
from drivers.colormaps import apply_colormap, map_name
from drivers.errors import SourceError
from drivers.synthetic.board import BOARD_POSES
from drivers.synthetic.driver import open_synthetic

#: Folder per stream; ``ir`` is the depth camera's (the rig camera named ``depth``).
STILL_STREAMS = ("thermal", "color", "ir")
#: Percentiles of the thermal frame an 8-bit export spans (a vendor's auto range).
_EXPORT_PERCENTILES = (0.5, 99.5)


@dataclass
class StillsOptions:
    """What ``simulate-stills`` writes (see :func:`write_stills`)."""

    board: str = "checker:8x6:40"
    views: int = 12
    thermal_colormap: str | None = None
    invert_thermal: bool = False
    thermal_size: tuple[int, int] = (640, 512)
    color_size: tuple[int, int] = (1280, 720)
    depth_size: tuple[int, int] = (640, 480)
    #: In-plane roll (degrees) of every other board pose (``board_roll_deg``).
    roll_deg: float = 0.0
    seed: int = 0


def pose_order(views: int) -> list[int]:
    """Board poses for ``views`` stills, spread over the scene's poses."""
    n = len(BOARD_POSES)
    if not 3 <= views <= n:
        raise SourceError(f"--views {views}: give 3 to {n} (the scene has {n} board poses)")
    return sorted({int(round(i * (n - 1) / (views - 1))) for i in range(views)})


def thermal_image(frame_ck: np.ndarray, colormap: str | None, invert: bool) -> np.ndarray:
    """A thermal frame as a vendor tool would save it.

    16-bit centikelvin unless ``colormap`` names a map: then 8-bit RGB, the frame's
    robust range stretched over the map. ``invert`` mirrors the contrast over that range
    (a board whose bare squares are the warm ones).
    """
    a = frame_ck.astype(np.float64)
    lo, hi = np.percentile(a, _EXPORT_PERCENTILES)
    if invert:
        a = np.clip(lo + hi - a, 0, 65535)
    if colormap is None:
        return np.rint(a).astype(np.uint16)
    level = np.clip((a - lo) / max(hi - lo, 1e-6) * 255.0, 0, 255)
    return apply_colormap(np.rint(level).astype(np.uint8), colormap)


def _write_png(path: Path, image: np.ndarray) -> None:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise SourceError(f"could not encode {path.name}")
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.tobytes())


def write_stills(
    folder: str | Path,
    options: StillsOptions,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Write ``folder``/{thermal,color,ir}/still_NNN.png and ``truth.json``; returns
    the truth (rig, board, poses written)."""
    folder = Path(folder)
    colormap = None if options.thermal_colormap is None else map_name(options.thermal_colormap)
    poses = pose_order(options.views)
    driver = open_synthetic(
        "calibration",
        seed=options.seed,
        realtime=False,
        board=options.board,
        thermal_size=options.thermal_size,
        color_size=options.color_size,
        depth_size=options.depth_size,
        ir_stream="on",
        board_roll_deg=options.roll_deg,
    )
    driver.open()
    try:
        scene = driver.scene
        slot = scene.hold + scene.move
        for stream in STILL_STREAMS:
            (folder / stream).mkdir(parents=True, exist_ok=True)
        board_poses: dict[str, list] = {s: [] for s in STILL_STREAMS}
        for n, pose in enumerate(poses):
            t = pose * slot + scene.hold / 2
            for stream in STILL_STREAMS:
                frame = driver.render_frame(stream, pose, t)
                board_poses[stream].append(np.round(frame.truth["board_pose"], 9).tolist())
                image = frame.array
                if stream == "thermal":
                    image = thermal_image(image, colormap, options.invert_thermal)
                _write_png(folder / stream / f"still_{n:03d}.png", image)
            if progress is not None:
                progress(n + 1, len(poses))
        truth = {
            "rig": driver.info.truth["rig"],
            "board": driver.info.truth["board"],
            "folders": {"thermal": "thermal", "color": "color", "depth": "ir"},
            "poses": poses,
            # T_cam_board of every still, per folder (metres; corner (i, j) of the board
            # at (i, j) * square, z = 0).
            "board_poses": board_poses,
            "rolled_deg": {str(p): options.roll_deg for p in poses if p % 2},
            "thermal": {
                "colormap": colormap,
                "inverted": options.invert_thermal,
                "units": "8-bit colour-mapped RGB" if colormap else "centikelvin (16-bit)",
            },
        }
        with atomic_write(folder / "truth.json") as fh:
            json.dump(truth, fh, indent=1)
        return truth
    finally:
        driver.close()
