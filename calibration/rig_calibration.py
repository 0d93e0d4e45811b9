"""The whole rig from a calibration session: intrinsics per camera, extrinsics per pair.

1. :mod:`calibration.still` finds the still board poses and makes one averaged view
   per camera per pose (the depth camera's from its IR stream);
2. every camera's intrinsics come from all its views (:func:`calibrate_intrinsics`,
   outlier views dropped, k-fold held-out error);
3. every other camera's pose relative to the reference (depth) comes from the views
   it shares with the reference (:func:`calibrate_pair`: consensus check, fixed
   intrinsics, outliers dropped, held-out error);
4. pairs not fitted directly (thermal–color, the pair label transfer relies on) are
   checked under the composed rig.

The result converts to a :class:`Rig` whose ``quality`` holds the figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from calibration.boards import Board, parse_board
from calibration.detect import Detection
from calibration.intrinsics import CalibrationError, IntrinsicsResult, calibrate_intrinsics
from calibration.rig import REFERENCE_STREAM, Camera, Rig
from calibration.stereo import PairResult, calibrate_pair, evaluate_pair
from calibration.still import Progress, SessionViews, View, session_views
from drivers.session import SessionReader

#: Rig cameras in the order they are reported.
RIG_CAMERAS = ("depth", "thermal", "color")


@dataclass
class RigCalibration:
    """Everything a rig calibration found: per camera, per pair, and what was dropped."""

    board: str
    reference: str
    intrinsics: dict[str, IntrinsicsResult]
    pairs: dict[str, PairResult]
    views: dict[str, list[View]]
    rejected: dict[str, dict[int, str]] = field(default_factory=dict)
    streams: dict[str, str] = field(default_factory=dict)
    poses: int = 0
    frames_searched: int = 0
    hw_sync: bool | None = None
    created: str = ""

    def camera(self, name: str) -> Camera:
        """The calibrated camera, posed relative to the reference."""
        cam = self.intrinsics[name].to_camera()
        if name != self.reference:
            pair = self.pairs[pair_name(self.reference, name)]
            cam.T_ref_cam = np.linalg.inv(pair.T_b_a)
        return cam

    def quality(self) -> dict[str, Any]:
        intr = {}
        for name, res in self.intrinsics.items():
            q = res.quality()
            q["stream"] = self.streams.get(name, name)
            q["views_found"] = len(self.views.get(name, []))
            intr[name] = q
        return {
            "board": self.board,
            "method": "per-camera intrinsics; stereoCalibrate with fixed intrinsics per pair "
            "to the reference; still board poses, frames averaged per pose",
            "intrinsics": intr,
            "pairs": {name: p.quality() for name, p in self.pairs.items()},
            "still_poses": self.poses,
            "frames_searched": self.frames_searched,
            "hw_sync": self.hw_sync,
            "views_rejected": {
                cam: {str(k): why for k, why in rej.items()}
                for cam, rej in self.rejected.items()
                if rej
            },
        }

    def to_rig(self) -> Rig:
        return Rig(
            cameras={n: self.camera(n) for n in self.intrinsics},
            reference=self.reference,
            created=self.created,
            board=self.board,
            quality=self.quality(),
        )


def pair_name(a: str, b: str) -> str:
    return f"{a}-{b}"


def calibrate_views(
    views: dict[str, Sequence[View]],
    board: Board | str,
    reference: str = REFERENCE_STREAM,
    rejected: dict[str, dict[int, str]] | None = None,
    progress: Progress | None = None,
) -> RigCalibration:
    """Calibrate the rig from every camera's views (keyed by board pose)."""
    board = parse_board(board) if isinstance(board, str) else board
    rejected = {c: dict((rejected or {}).get(c, {})) for c in views}
    if reference not in views:
        raise CalibrationError(f"no views of the reference camera '{reference}'")
    intrinsics: dict[str, IntrinsicsResult] = {}
    dets: dict[str, dict[int, Detection]] = {}
    steps = len(views) * 2 - 1
    for n, (cam, vs) in enumerate(views.items()):
        if progress is not None:
            progress("fitting", n, steps)
        vs = list(vs)
        if not vs:
            raise CalibrationError(
                f"the {cam} camera never saw board {board.spec} in a still pose; check the "
                "board spec (--board) and that the board was in this camera's view"
            )
        try:
            res = calibrate_intrinsics([v.detection for v in vs])
        except CalibrationError as exc:
            raise CalibrationError(f"{cam} camera: {exc}") from None
        intrinsics[cam] = res
        for i, why in res.rejected.items():
            rejected[cam][vs[i].pose] = f"intrinsics: {why}"
        dets[cam] = {vs[i].pose: vs[i].detection for i in res.used}
    cams = {c: r.to_camera() for c, r in intrinsics.items()}
    pairs: dict[str, PairResult] = {}
    for n, cam in enumerate(c for c in views if c != reference):
        if progress is not None:
            progress("fitting", len(views) + n, steps)
        try:
            pair = calibrate_pair(
                reference, cam, dets[reference], dets[cam], cams[reference], cams[cam]
            )
        except CalibrationError as exc:
            raise CalibrationError(f"{reference}-{cam} pair: {exc}") from None
        pairs[pair_name(reference, cam)] = pair
        cams[cam].T_ref_cam = np.linalg.inv(pair.T_b_a)
    # Pairs through the reference: checked, not fitted.
    for a, b in combinations([c for c in views if c != reference], 2):
        T_b_a = cams[b].T_cam_ref @ cams[a].T_ref_cam
        derived = evaluate_pair(a, b, dets[a], dets[b], cams[a], cams[b], T_b_a)
        if derived is not None:
            pairs[pair_name(a, b)] = derived
    if progress is not None:
        progress("fitting", steps, steps)
    return RigCalibration(
        board=board.spec,
        reference=reference,
        intrinsics=intrinsics,
        pairs=pairs,
        views={c: list(v) for c, v in views.items()},
        rejected={c: dict(sorted(r.items())) for c, r in rejected.items()},
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def calibrate_session(
    path: str | Path | SessionReader,
    board: Board | str | None = None,
    cameras: Sequence[str] = RIG_CAMERAS,
    samples: int = 3,
    progress: Progress | None = None,
) -> RigCalibration:
    """Calibrate the rig from a recorded calibration session.

    ``board`` defaults to the one the session names (its truth, for synthetic ones).
    """
    reader = path if isinstance(path, SessionReader) else SessionReader(path)
    try:
        reader.require_timestamps([c for c in cameras if c in reader.streams], "calibrate")
        spec = board if board is not None else session_board(reader)
        sv: SessionViews = session_views(reader, spec, cameras, samples, progress=progress)
    finally:
        if not isinstance(path, SessionReader):
            reader.close()
    result = calibrate_views(sv.views, sv.board, REFERENCE_STREAM, sv.rejected, progress)
    result.streams = dict(sv.streams)
    result.poses = len(sv.poses)
    result.frames_searched = sv.frames_searched
    result.hw_sync = sv.hw_sync
    return result


def session_board(reader: SessionReader) -> str:
    """The board a session names (truth attribute, else its rig's), or an error."""
    for source in (reader.truth, reader.rig):
        spec = (source or {}).get("board") if isinstance(source, dict) else None
        if spec:
            return str(spec)
        rig = (source or {}).get("rig") if isinstance(source, dict) else None
        if isinstance(rig, dict) and rig.get("board"):
            return str(rig["board"])
    raise CalibrationError(
        f"{reader.path.name} does not say which board it shows; pass --board SPEC "
        "(e.g. coded:11x9:40 or checker:9x6:25)"
    )


def rig_errors(found: Rig, truth: Rig) -> dict[str, dict[str, float]]:
    """How far a calibrated rig is from a true one, per camera: focal error (%),
    principal point (px), baseline error (mm) and rotation error (degrees)."""
    out = {}
    for name, cam in found.cameras.items():
        ref = truth[name]
        f_err = np.abs(np.diag(cam.K)[:2] / np.diag(ref.K)[:2] - 1).max() * 100
        c_err = float(np.linalg.norm(cam.K[:2, 2] - ref.K[:2, 2]))
        dT = np.linalg.inv(ref.T_ref_cam) @ cam.T_ref_cam
        base = abs(np.linalg.norm(cam.T_ref_cam[:3, 3]) - np.linalg.norm(ref.T_ref_cam[:3, 3]))
        cosang = (np.trace(dT[:3, :3]) - 1) / 2
        out[name] = {
            "focal_pct": float(f_err),
            "principal_px": c_err,
            "translation_mm": float(np.linalg.norm(cam.T_ref_cam[:3, 3] - ref.T_ref_cam[:3, 3]))
            * 1000,
            "baseline_mm": float(base) * 1000,
            "rotation_deg": math.degrees(math.acos(float(np.clip(cosang, -1, 1)))),
        }
    return out
