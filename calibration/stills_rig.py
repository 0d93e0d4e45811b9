"""A whole rig from folders of stills, one folder per camera (``calibrate-images
--camera NAME=DIR ...``).

Labs often capture calibration images with each camera's own tool, so the stills of
one board pose sit in several folders, tied together only by a number in their names
(an index or a timestamp) or by the time the file was written. :func:`match_stills`
pairs them; every camera's board detections go through the rig calibration a session
uses (:func:`calibration.rig_calibration.calibrate_views`: intrinsics per camera,
extrinsics of each camera to the reference, outliers and held-out error).

One trap is handled before that fit. A plain checkerboard carries no mark of which
way up it is, so its detector numbers the corners by where they lie in the image;
two cameras that see the board from slightly different angles, or one mounted
upside down, can number one view's corners 180° apart — and a pattern that is
180°-symmetric (inner corners ``cols + rows`` even) cannot tell them apart by colour
either. The intrinsics do not care, but each such view gives the pair a wrong
relative pose, and a plain ``stereoCalibrate`` averages it in. So, per camera and
shared view, both numberings are posed (solvePnP under the camera's intrinsics), the
relative pose most views agree on is found among all candidates, and each view keeps
the numbering that agrees with it (:func:`order_consistently`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from calibration.boards import Board
from calibration.detect import Detection, detect
from calibration.images import CalibrateImagesError, board_images, read_board_image
from calibration.rig import Camera
from calibration.rig_calibration import RigCalibration, calibrate_views
from calibration.stereo import board_pose
from calibration.still import View
from drivers.colormaps import MAX_RESIDUAL, colormap_residuals
from drivers.types import STREAM_KINDS

#: Stills of two cameras written further apart than this (seconds) are not one pose.
TIME_TOLERANCE_S = 1.0
#: A candidate relative pose agrees with another within these limits.
_AGREE_DEG = 3.0
_AGREE_M = 0.03
#: Fewest corners a camera's view needs to be posed.
_MIN_POSED = 6

Progress = Callable[[str, int, int], None]


def camera_kind(name: str, files: Sequence[Path] = ()) -> str:
    """How a camera's stills are read: its name if it is a stream kind (``depth``:
    the depth camera's IR images); any other name is thermal unless the first readable
    of ``files`` is a colour photograph (it fits no thermal colour map): then colour."""
    if name == "depth":
        return "ir"
    if name in STREAM_KINDS:
        return name
    for path in files[:3]:
        image, _ = read_board_image(path, "color")
        if image is not None:
            photo = image.ndim == 3 and min(colormap_residuals(image).values()) > MAX_RESIDUAL
            return "color" if photo else "thermal"
    return "thermal"


def _digit_keys(files: list[Path]) -> dict[Path, tuple[int, ...]]:
    """Each file's number: the digit groups of its name that vary within the folder
    (a camera id or a date shared by every file is not part of it)."""
    groups = {p: [int(g) for g in re.findall(r"\d+", p.stem)] for p in files}
    width = max((len(g) for g in groups.values()), default=0)
    if any(len(g) != width for g in groups.values()):  # ragged names: all their digits
        return {p: tuple(g) for p, g in groups.items()}
    varying = [i for i in range(width) if len({g[i] for g in groups.values()}) > 1]
    return {p: tuple(g[i] for i in varying) for p, g in groups.items()}


def still_time(path: Path) -> float:
    """When a still was taken (seconds): its EXIF capture time where the camera's tool
    wrote one (copies keep it; they often lose the file time), else the file's
    modification time. EXIF times have no zone; both cameras' tools are assumed to
    use the same clock."""
    try:
        with Image.open(path) as im:
            exif = im.getexif()
            sub = exif.get_ifd(0x8769)  # the Exif IFD: DateTimeOriginal, SubsecTimeOriginal
            stamp = sub.get(36867) or exif.get(306)
            if stamp:
                t = datetime.strptime(str(stamp).strip(), "%Y:%m:%d %H:%M:%S")
                frac = str(sub.get(37521) or "").strip()
                return t.replace(tzinfo=timezone.utc).timestamp() + (
                    float(f"0.{frac}") if frac.isdigit() else 0.0
                )
    except (OSError, ValueError, SyntaxError):
        pass
    return path.stat().st_mtime


def match_stills(folders: dict[str, Path], match: str = "name") -> dict[str, dict[int, Path]]:
    """Every camera's stills keyed by view number (shared across cameras).

    ``name``: the digits in the file names (``thermal_0007.png`` ~ ``rgb_0007.jpg``);
    ``time``: when they were taken (:func:`still_time`), each still joined to the
    first camera's nearest one within :data:`TIME_TOLERANCE_S`.
    """
    files = {cam: board_images(Path(d)) for cam, d in folders.items()}
    if match == "name":
        keys = {}
        for cam, fs in files.items():
            k = _digit_keys(fs)
            if not all(k.values()) or len(set(k.values())) != len(fs):
                raise CalibrateImagesError(
                    f"the names of the images in {folders[cam]} do not number them apart; "
                    "match them by file time (--match time) or rename them"
                )
            keys[cam] = k
        order = sorted({v for k in keys.values() for v in k.values()})
        index = {v: i for i, v in enumerate(order)}
        return {cam: {index[v]: p for p, v in keys[cam].items()} for cam in files}
    if match != "time":
        raise CalibrateImagesError(f"--match {match}: use name or time")
    first = next(iter(files))
    anchors = [still_time(p) for p in files[first]]
    out: dict[str, dict[int, Path]] = {first: dict(enumerate(files[first]))}
    for cam, fs in list(files.items())[1:]:
        out[cam] = {}
        for p in fs:
            t = still_time(p)
            i = int(np.argmin([abs(t - a) for a in anchors]))
            if abs(t - anchors[i]) <= TIME_TOLERANCE_S and i not in out[cam]:
                out[cam][i] = p
    return out


def flipped(det: Detection, board: Board) -> Detection:
    """The same corners numbered from the other end (the board turned by 180°)."""
    ids = (board.corner_count - 1 - np.asarray(det.ids)).astype(np.int32)
    return replace(det, ids=ids, object_points=board.object_points(ids))


def _quick_camera(dets: list[Detection]):
    """A plain calibrateCamera fit, enough to pose views (numbering does not matter)."""
    obj = [np.asarray(d.object_points, np.float32).reshape(-1, 1, 3) for d in dets]
    img = [np.asarray(d.image_points, np.float32).reshape(-1, 1, 2) for d in dets]
    w, h = dets[0].image_size
    _, K, dist, _, _ = cv2.calibrateCamera(obj, img, (w, h), None, None)
    return Camera(width=w, height=h, K=K, dist=dist.ravel())


def _distance(A: np.ndarray, B: np.ndarray) -> tuple[float, float]:
    R = A[:3, :3].T @ B[:3, :3]
    ang = math.degrees(math.acos(float(np.clip((np.trace(R) - 1) / 2, -1.0, 1.0))))
    return ang, float(np.linalg.norm(A[:3, 3] - B[:3, 3]))


def choose_orderings(candidates: dict[int, list[np.ndarray | None]]) -> dict[int, int]:
    """Per view, the candidate (0: as detected, 1: flipped) whose relative pose agrees
    with the most views; views where neither agrees keep 0 (the pair fit rejects them)."""
    pool = [(k, o, T) for k, ts in candidates.items() for o, T in enumerate(ts) if T is not None]
    best, best_score = None, (-1, 0.0)
    for _, _, T in pool:
        agree, spread = 0, []
        for ts in candidates.values():
            d = [_distance(T, U) for U in ts if U is not None]
            if d:
                ang, dist = min(d, key=lambda x: x[0] / _AGREE_DEG + x[1] / _AGREE_M)
                if ang <= _AGREE_DEG and dist <= _AGREE_M:
                    agree += 1
                    spread.append(ang / _AGREE_DEG + dist / _AGREE_M)
        score = (agree, -float(np.median(spread)) if spread else 0.0)
        if score > best_score:
            best, best_score = T, score
    out = {}
    for k, ts in candidates.items():
        cost = [
            math.inf
            if U is None
            else sum(a / b for a, b in zip(_distance(best, U), (_AGREE_DEG, _AGREE_M), strict=True))
            for U in ts
        ]
        out[k] = int(np.argmin(cost)) if min(cost) <= 2.0 else 0
    return out


def order_consistently(
    dets: dict[str, dict[int, Detection]], reference: str, board: Board
) -> dict[str, list[int]]:
    """Renumber, in place, the views in which a camera numbered a plain checkerboard
    180° apart from the reference; returns the views renumbered per camera."""
    if board.kind != "checker" or reference not in dets:
        return {}
    cams = {c: _quick_camera(list(d.values())) for c, d in dets.items() if len(d) >= 3}
    if reference not in cams:
        return {}
    out: dict[str, list[int]] = {}
    for cam in cams:
        if cam == reference:
            continue
        candidates: dict[int, list[np.ndarray | None]] = {}
        for k in sorted(set(dets[reference]) & set(dets[cam])):
            a, b = dets[reference][k], dets[cam][k]
            if min(len(a), len(b)) < _MIN_POSED:
                continue
            Ta = board_pose(a.object_points, a.image_points, cams[reference])
            if Ta is None:
                continue
            inv = np.linalg.inv(Ta)
            poses = [
                board_pose(d.object_points, d.image_points, cams[cam])
                for d in (b, flipped(b, board))
            ]
            candidates[k] = [None if T is None else T @ inv for T in poses]
        if len(candidates) < 2:
            continue
        chosen = choose_orderings(candidates)
        out[cam] = [k for k, o in chosen.items() if o == 1]
        for k in out[cam]:
            dets[cam][k] = flipped(dets[cam][k], board)
    return out


@dataclass
class StillsRig:
    """A rig calibrated from folders of stills, and how the stills were used."""

    result: RigCalibration
    #: Camera → view number → file.
    files: dict[str, dict[int, Path]]
    #: Camera → views whose corner numbering was turned to agree with the reference.
    renumbered: dict[str, list[int]] = field(default_factory=dict)
    #: Camera → files left out, with why (unreadable, no colour map, another size).
    unreadable: dict[str, list[str]] = field(default_factory=dict)

    def quality(self) -> dict:
        q = self.result.quality()
        q["method"] = "folders of stills matched by view; " + q["method"].replace(
            "; still board poses, frames averaged per pose", ""
        )
        q["stills"] = {c: len(f) for c, f in self.files.items()}
        q["renumbered_views"] = {
            c: [self.files[c][k].name for k in ks] for c, ks in self.renumbered.items() if ks
        }
        return q


def calibrate_stills(
    folders: dict[str, Path],
    board: Board,
    reference: str | None = None,
    match: str = "name",
    progress: Progress | None = None,
) -> StillsRig:
    """Detect the board in every camera's stills and calibrate the rig."""
    reference = reference or next(iter(folders))
    if reference not in folders:
        raise CalibrateImagesError(
            f"--reference {reference} is not one of the cameras {', '.join(folders)}"
        )
    files = match_stills(folders, match)
    total = sum(len(f) for f in files.values())
    dets: dict[str, dict[int, Detection]] = {}
    unreadable: dict[str, list[str]] = {}
    done = 0
    kinds = {cam: camera_kind(cam, [fs[k] for k in sorted(fs)]) for cam, fs in files.items()}
    for cam, fs in files.items():
        dets[cam], unreadable[cam] = {}, []
        for k, path in sorted(fs.items()):
            image, problem = read_board_image(path, kinds[cam])
            if image is None:
                unreadable[cam].append(f"{path.name} ({problem})")
            else:
                det = detect(image, board, kind=kinds[cam], source=str(path))
                if det is not None:
                    dets[cam][k] = det
            done += 1
            if progress is not None:
                progress("detecting", done, total)
        if dets[cam]:  # one image size per camera: another mode's stills are named, not mixed in
            size, _ = Counter(d.image_size for d in dets[cam].values()).most_common(1)[0]
            for k in [k for k, d in dets[cam].items() if d.image_size != size]:
                unreadable[cam].append(f"{fs[k].name} (not {size[0]}x{size[1]} like the others)")
                del dets[cam][k]
        if not dets[cam]:
            raise CalibrateImagesError(
                f"board {board.spec} not found in any of {len(fs)} images of camera {cam} "
                f"({folders[cam]}); check --board and the folder"
            )
    renumbered = order_consistently(dets, reference, board)
    views = {
        cam: [View(cam, cam, k, float(k), d, [k]) for k, d in sorted(ds.items())]
        for cam, ds in dets.items()
    }
    result = calibrate_views(views, board, reference)
    result.streams = dict(kinds)
    result.poses = len({k for f in files.values() for k in f})
    return StillsRig(result, files, renumbered, {c: u for c, u in unreadable.items() if u})
