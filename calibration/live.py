"""Calibrating the rig live: the calibration wizard's logic, without Qt.

Each FrameSet the wizard's worker takes (latest-wins) is searched for the board in
every rig camera's stream (the depth camera's in its IR image). Live detection must
be quick — the person watches the corners follow the board — so frames wider than
:data:`LIVE_WIDTH` are searched shrunk, and each camera tries first the
preprocessing that last found the board, then one other per frame, in turn (a
thermal board may need inversion; trying every variant on every frame without a
board would cost 80 ms a camera).

A *pose* is captured when every camera that sees the board has seen it still over
the last :data:`STILL_FRAMES` searched frames (corners moved under
:data:`~calibration.coverage.STILL_PX` each time) and at least one camera finds the
view new (:func:`~calibration.coverage.accept_view`, the ROS rule) — or when the
person presses the capture key and the board is still. A captured pose is searched
again at full resolution with every preprocessing, its frames checked to agree and
averaged, exactly as :mod:`calibration.still` does for a recorded session, so the
fit (:func:`~calibration.rig_calibration.calibrate_views`) sees the same data model.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from calibration.boards import Board, parse_board
from calibration.coverage import STILL_PX, Coverage, accept_view, corner_motion, view_params
from calibration.detect import DETECTORS, Detection, detect, validate
from calibration.detector_input import VARIANTS_BY_KIND, to_gray, variants
from calibration.intrinsics import CalibrationError
from calibration.rig import REFERENCE_STREAM
from calibration.rig_calibration import RIG_CAMERAS, RigCalibration, calibrate_views
from calibration.still import Progress, View, agreeing, average, camera_streams
from drivers.types import Frame, FrameSet, StreamSpec

#: Frames wider than this are searched shrunk to it while live.
LIVE_WIDTH = 640
#: The wizard's small views get images at most this wide (less to draw at 10+ Hz).
SHOWN_WIDTH = 400
#: Searched frames over which the board must stay still before a pose is captured.
STILL_FRAMES = 3
#: Largest median corner drift (px) between the frames averaged into one view.
MAX_DRIFT_PX = 0.3
#: Board used when the source does not name one.
DEFAULT_BOARD = "coded:11x9:50.5"
#: Corner marks in the wizard's views: green where the board is still, amber moving.
STILL_RGB = (0x3E, 0xE0, 0x7A)
MOVING_RGB = (0xFF, 0xB0, 0x20)
#: Radius of a corner mark, shown-image pixels (the views show them about 1:1).
MARK_RADIUS = 2.5
_SHIFT = 2  # cv2 fixed-point bits: marks sit at sub-pixel positions


@dataclass
class CameraLive:
    """One camera's state after a searched FrameSet (for drawing)."""

    camera: str
    stream: str
    image: np.ndarray | None  # the frame to show, uint8 gray or RGB, at most SHOWN_WIDTH
    scale: float  # shown image pixels per full-resolution pixel
    detection: Detection | None  # full-resolution coordinates
    motion: float  # mean corner motion since the previous searched frame, px
    still: bool
    #: ``image`` as RGB with the corners marked, drawn where the search runs so that
    #: the GUI thread only blits it (no per-corner items to lay out and paint there).
    picture: np.ndarray | None = None


@dataclass
class LiveState:
    """What the wizard shows after each searched FrameSet."""

    frameset: int
    cameras: dict[str, CameraLive]
    progress: dict[str, dict[str, float]]
    poses: int
    views: dict[str, int]
    captured: int | None = None  # pose key captured on this FrameSet
    message: str = ""


@dataclass
class ViewError:
    """One bar of the per-view error chart."""

    camera: str
    pose: int
    rms: float
    rejected: str = ""  # why the fit left it out ("" if used)


def display_image(array: np.ndarray) -> np.ndarray:
    """A frame as uint8 for display and search: RGB kept, others stretched 1-99 %."""
    if array.ndim == 3:
        return np.ascontiguousarray(array[:, :, :3])
    if array.dtype == np.uint8:
        return array
    sample = array[::4, ::4]
    lo, hi = np.percentile(sample, (1.0, 99.0))
    scale = 255.0 / max(float(hi - lo), 1.0)
    return cv2.convertScaleAbs(array.astype(np.float32) - np.float32(lo), alpha=scale)


def mark_corners(image: np.ndarray, scale: float, det: Detection | None, still: bool) -> np.ndarray:
    """``image`` (uint8 gray or RGB, ``scale`` shown pixels per full-resolution pixel)
    as a new RGB image with the detected corners drawn as filled dots."""
    rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image.copy()
    if det is None or not len(det):
        return rgb
    # Pixel centres: full-resolution pixel x covers [x - 0.5, x + 0.5] (as in _scaled).
    pts = (det.image_points.astype(np.float64) + 0.5) * scale - 0.5
    fixed = np.round(pts * (1 << _SHIFT)).astype(np.int32)
    radius = int(round(MARK_RADIUS * (1 << _SHIFT)))
    colour = STILL_RGB if still else MOVING_RGB
    for x, y in fixed.tolist():
        cv2.circle(rgb, (x, y), radius, colour, -1, cv2.LINE_AA, _SHIFT)
    return rgb


def live_detect(image: np.ndarray, board: Board, kind: str, variant: str) -> Detection | None:
    """The board in one preprocessing of ``image``, for the live view: the detector's
    own corners, without the sub-pixel fit and checks a calibration view gets (2-3×
    faster; the corners are within ~0.2 px, plenty to draw and to tell stillness)."""
    gray = to_gray(image)
    reference = gray.astype(np.float32)
    for name, img in variants(gray, kind, (variant,)):
        raw = DETECTORS[board.kind](img, reference, board)
        if raw is None:
            continue
        ids, pts = raw
        return Detection(
            board=board.spec,
            ids=np.asarray(ids, np.int32),
            image_points=np.asarray(pts, np.float32),
            object_points=board.object_points(ids),
            image_size=(gray.shape[1], gray.shape[0]),
            preprocessing=name,
            contrast=math.nan,
            blur=math.nan,
            noise=math.nan,
        )
    return None


def _scaled(det: Detection, scale: float, size: tuple[int, int]) -> Detection:
    """A detection in a shrunk image, in full-resolution pixel coordinates."""
    pts = (det.image_points.astype(np.float64) + 0.5) / scale - 0.5
    return replace(det, image_points=pts.astype(np.float32), image_size=size)


@dataclass
class _Camera:
    name: str
    stream: str
    kind: str
    variant: str | None = None
    turn: int = 0
    history: deque = field(default_factory=lambda: deque(maxlen=STILL_FRAMES))


class LiveCalibration:
    """Views captured live, their coverage, and the rig fitted from them.

    ``process`` runs on the wizard's worker; ``calibrate``, ``drop`` and the figures
    may be called from other threads (a lock guards the views).
    """

    def __init__(
        self,
        board: str | Board,
        streams: dict[str, StreamSpec],
        cameras: Sequence[str] = RIG_CAMERAS,
        still_px: float = STILL_PX,
    ):
        self.board = parse_board(board) if isinstance(board, str) else board
        self.streams = camera_streams(list(streams), cameras)
        self.still_px = float(still_px)
        self.cams = {
            c: _Camera(c, s, streams[s].kind or s) for c, s in self.streams.items()
        }  # fmt: skip
        self.coverage = {c: Coverage() for c in self.cams}
        self.views: dict[str, list[View]] = {c: [] for c in self.cams}
        self.dropped: list[View] = []
        self._lock = threading.Lock()
        self._next_pose = 0
        self._manual = False
        #: Capture new still views by themselves (else only on request).
        self.auto = True

    # -- live -------------------------------------------------------------------------
    def request_capture(self) -> None:
        """Capture the next still view whether or not it is new (the capture key)."""
        self._manual = True

    def _search(self, cam: _Camera, frame: Frame) -> tuple[np.ndarray, float, Detection | None]:
        image = display_image(frame.array)
        h, w = image.shape[:2]
        scale = min(1.0, LIVE_WIDTH / w)
        if scale < 1.0:
            size = (int(round(w * scale)), int(round(h * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        names = VARIANTS_BY_KIND.get(cam.kind, VARIANTS_BY_KIND["thermal"])
        tries = [cam.variant] if cam.variant else []
        other = names[cam.turn % len(names)]
        cam.turn += 1
        if other not in tries:
            tries.append(other)
        det = None
        for name in tries:
            det = live_detect(image, self.board, cam.kind, name)
            if det is not None:
                cam.variant = name
                break
        if det is not None and scale < 1.0:
            det = _scaled(det, scale, (w, h))
        shown = min(1.0, SHOWN_WIDTH / w)
        if shown < scale:
            size = (int(round(w * shown)), int(round(h * shown)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return image, min(shown, scale), det

    def process(self, fs: FrameSet) -> LiveState:
        """Search ``fs``; capture a pose when the board is still and the view new."""
        live: dict[str, CameraLive] = {}
        for cam in self.cams.values():
            frame = fs.frames.get(cam.stream)
            if frame is None:
                cam.history.clear()
                live[cam.name] = CameraLive(cam.name, cam.stream, None, 1.0, None, math.inf, False)
                continue
            image, scale, det = self._search(cam, frame)
            previous = cam.history[-1][1] if cam.history else None
            motion = corner_motion(det, previous) if det is not None else math.inf
            if det is None or motion >= self.still_px:
                cam.history.clear()
            if det is not None:
                cam.history.append((frame, det))
            still = len(cam.history) == STILL_FRAMES
            picture = mark_corners(image, scale, det, still)
            live[cam.name] = CameraLive(
                cam.name, cam.stream, image, scale, det, motion, still, picture
            )
        seeing = [c for c in live.values() if c.detection is not None]
        state = LiveState(fs.index, live, {}, 0, {})
        if not seeing:
            state.message = "show the board to the cameras"
        elif not all(c.still for c in seeing):
            state.message = "hold the board still"
        else:
            state.captured = self._maybe_capture(seeing)
            if state.captured is not None:
                state.message = f"pose {state.captured} captured"
            elif self._manual:
                state.message = "capture failed: the board was not found sharply enough"
                self._manual = False
            else:
                state.message = "move the board to a new place, distance or tilt"
        with self._lock:
            state.progress = {c: cov.progress() for c, cov in self.coverage.items()}
            state.views = {c: len(v) for c, v in self.views.items()}
            state.poses = len({v.pose for vs in self.views.values() for v in vs})
        return state

    def _maybe_capture(self, seeing: list[CameraLive]) -> int | None:
        manual, self._manual = self._manual, False
        new = False
        with self._lock:
            for c in seeing if self.auto or manual else ():
                previous = self.cams[c.camera].history[-2][1]
                new |= accept_view(c.detection, previous, self.coverage[c.camera], self.board)
        if not (new or manual):
            return None
        pose = self._next_pose
        views = {}
        for c in seeing:
            view = self._full_view(self.cams[c.camera], pose)
            if view is not None:
                views[c.camera] = view
        if not views:
            return None
        self._next_pose += 1
        with self._lock:
            for cam, view in views.items():
                self.views[cam].append(view)
                if manual:
                    self.coverage[cam].add(view_params(view.detection, self.board))
        return pose

    def _full_view(self, cam: _Camera, pose: int) -> View | None:
        """The camera's view of a still pose: its frames searched at full resolution,
        checked to agree and averaged (as for a recorded session)."""
        found: list[tuple[Frame, Detection]] = []
        for frame, _ in cam.history:
            source = f"{cam.stream}#{frame.index}"
            det = None
            if cam.variant is not None:
                det = detect(frame.array, self.board, cam.kind, (cam.variant,), source=source)
            if det is None:
                det = detect(frame.array, self.board, cam.kind, source=source)
            if det is not None:
                found.append((frame, det))
        if not found:
            return None
        keep, _ = agreeing([d for _, d in found], MAX_DRIFT_PX)
        if not keep:
            return None
        used = [found[k] for k in keep]
        det = average([d for _, d in used], self.board, f"{cam.stream}#live-pose-{pose}")
        if det is None or validate(det, self.board) is not None:
            return None
        frames = [f.index for f, _ in used]
        time = float(np.mean([f.timestamp for f, _ in used]))
        return View(cam.name, cam.stream, pose, time, det, frames)

    # -- views and the fit ------------------------------------------------------------
    @property
    def poses(self) -> list[int]:
        with self._lock:
            return sorted({v.pose for vs in self.views.values() for v in vs})

    def drop(self, camera: str, pose: int) -> bool:
        """Leave ``camera``'s view of ``pose`` out of the next fit; False if absent."""
        with self._lock:
            views = self.views.get(camera, [])
            gone = [v for v in views if v.pose == pose]
            self.views[camera] = [v for v in views if v.pose != pose]
            self.dropped += gone
            return bool(gone)

    def restore(self) -> int:
        """Put every dropped view back; returns how many."""
        with self._lock:
            back, self.dropped = self.dropped, []
            for v in back:
                self.views[v.camera].append(v)
                self.views[v.camera].sort(key=lambda x: x.pose)
            return len(back)

    def snapshot(self) -> dict[str, list[View]]:
        with self._lock:
            return {c: list(v) for c, v in self.views.items()}

    def calibrate(self, progress: Progress | None = None) -> RigCalibration:
        """Fit the rig to the views captured so far (seconds: run it on a worker)."""
        views = self.snapshot()
        if not views.get(REFERENCE_STREAM):
            raise CalibrationError(
                f"the {REFERENCE_STREAM} camera has no views yet; show the board to it "
                f"({self.streams.get(REFERENCE_STREAM, REFERENCE_STREAM)} stream) and capture"
            )
        result = calibrate_views(views, self.board, progress=progress)
        result.streams = dict(self.streams)
        result.poses = len({v.pose for vs in views.values() for v in vs})
        return result


def view_errors(result: RigCalibration) -> list[ViewError]:
    """Per camera and pose: the fitted model's error on that view, and whether the fit
    left it out (for the wizard's bar chart)."""
    out = []
    for cam, res in result.intrinsics.items():
        rejected = result.rejected.get(cam, {})
        for i, view in enumerate(result.views.get(cam, [])):
            rms = float(res.view_rms[i]) if i < len(res.view_rms) else math.nan
            out.append(ViewError(cam, view.pose, rms, rejected.get(view.pose, "")))
    return out
