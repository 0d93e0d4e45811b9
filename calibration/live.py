"""Calibrating the rig live: the calibration wizard's logic, without Qt.

Each FrameSet the wizard's worker takes (latest-wins) is searched for the board in
every rig camera's stream (the depth camera's in its IR image), the cameras in turn
or, when asked, in parallel on the worker's thread pool. Live detection must be quick — the
person watches the corners follow the board — so it is a lighter search than a
calibration view's (:mod:`calibration.live_search`).

A *pose* is captured when every camera that sees the board has seen it still over
the last :data:`STILL_FRAMES` searched frames (corners moved under
:data:`~calibration.coverage.STILL_PX` each time) and at least one camera finds the
view new (:func:`~calibration.coverage.accept_view`, the ROS rule) — or when the
person presses the capture key and the board is still. A captured pose is searched
again at full resolution with every preprocessing, its frames checked to agree and
averaged, exactly as :mod:`calibration.still` does for a recorded session, so the
fit (:func:`~calibration.rig_calibration.calibrate_views`) sees the same data model.
That full search takes ~0.3-1 s; with a pool it runs in the background, one pose at
a time, while the live search goes on.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass

import numpy as np

from calibration.boards import Board, parse_board
from calibration.coverage import STILL_PX, Coverage, accept_view, corner_motion, view_params
from calibration.detect import Detection, detect, validate
from calibration.intrinsics import CalibrationError
from calibration.live_search import LiveCamera, mark_corners, search_camera
from calibration.rig import REFERENCE_STREAM
from calibration.rig_calibration import RIG_CAMERAS, RigCalibration, calibrate_views
from calibration.still import Progress, View, agreeing, average, camera_streams
from drivers.types import Frame, FrameSet, StreamSpec

#: Searched frames over which the board must stay still before a pose is captured.
STILL_FRAMES = 3
#: Largest median corner drift (px) between the frames averaged into one view.
MAX_DRIFT_PX = 0.3
#: Board used when the source does not name one.
DEFAULT_BOARD = "coded:11x9:50.5"


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
            c: LiveCamera(c, s, streams[s].kind or s, history=deque(maxlen=STILL_FRAMES))
            for c, s in self.streams.items()
        }
        self.coverage = {c: Coverage() for c in self.cams}
        self.views: dict[str, list[View]] = {c: [] for c in self.cams}
        self.dropped: list[View] = []
        self._lock = threading.Lock()
        self._next_pose = 0
        self._manual = False
        #: A pose searched in the background: (its job, pose, requested by the key).
        self._pending: tuple[Future, int, bool] | None = None
        #: Capture new still views by themselves (else only on request).
        self.auto = True

    # -- live -------------------------------------------------------------------------
    def request_capture(self) -> None:
        """Capture the next still view whether or not it is new (the capture key)."""
        self._manual = True

    def process(
        self, fs: FrameSet, pool: Executor | None = None, parallel: bool = False
    ) -> LiveState:
        """Search ``fs``; capture a pose when the board is still and the view new.

        With a ``pool``, a pose's full search runs on it in the background: the live
        search goes on meanwhile, and the state of the FrameSet after which it finished
        says ``captured``; with ``parallel`` too, the cameras are searched on it (it
        then needs a thread per camera and one more). Without one, all happens here.
        """
        cams = [c for c in self.cams.values() if c.stream in fs.frames]
        if pool is None or not parallel:
            found = [search_camera(c, fs.frames[c.stream], self.board) for c in cams]
        else:
            jobs = [pool.submit(search_camera, c, fs.frames[c.stream], self.board) for c in cams]
            found = [job.result() for job in jobs]
        searched = dict(zip([c.name for c in cams], found, strict=True))
        live: dict[str, CameraLive] = {}
        for cam in self.cams.values():
            if cam.name not in searched:
                cam.history.clear()
                live[cam.name] = CameraLive(cam.name, cam.stream, None, 1.0, None, math.inf, False)
                continue
            image, scale, det = searched[cam.name]
            previous = cam.history[-1][1] if cam.history else None
            motion = corner_motion(det, previous) if det is not None else math.inf
            if det is None or motion >= self.still_px:
                cam.history.clear()
            if det is not None:
                cam.history.append((fs.frames[cam.stream], det))
            still = len(cam.history) == STILL_FRAMES
            picture = mark_corners(image, scale, det, still)
            live[cam.name] = CameraLive(
                cam.name, cam.stream, image, scale, det, motion, still, picture
            )
        state = LiveState(fs.index, live, {}, 0, {})
        self._capture(state, pool)
        with self._lock:
            state.progress = {c: cov.progress() for c, cov in self.coverage.items()}
            state.views = {c: len(v) for c, v in self.views.items()}
            state.poses = len({v.pose for vs in self.views.values() for v in vs})
        return state

    def _capture(self, state: LiveState, pool: Executor | None) -> None:
        """Finish a pose searched in the background, or begin one; say what to do."""
        seeing = [c for c in state.cameras.values() if c.detection is not None]
        if not seeing:
            state.message = "show the board to the cameras"
        elif not all(c.still for c in seeing):
            state.message = "hold the board still"
        else:
            state.message = "move the board to a new place, distance or tilt"
        if self._pending is not None:
            job, pose, manual = self._pending
            if not job.done():
                state.message = f"capturing pose {pose}…"
                return
            self._pending = None
            state.captured = self._commit(pose, job.result(), manual)
        elif seeing and all(c.still for c in seeing):
            begun = self._begin_capture(seeing)
            if begun is None:
                return
            pose, manual, searches = begun
            if pool is not None:
                self._pending = (pool.submit(self._full_views, searches, pose), pose, manual)
                state.message = f"capturing pose {pose}…"
                return
            state.captured = self._commit(pose, self._full_views(searches, pose), manual)
        else:
            return
        if state.captured is not None:
            state.message = f"pose {state.captured} captured"
        elif manual:
            state.message = "capture failed: the board was not found sharply enough"

    def _begin_capture(self, seeing: list[CameraLive]) -> tuple[int, bool, list] | None:
        """Whether the still view is to be captured: (pose, requested, what to search)."""
        manual, self._manual = self._manual, False
        new = False
        with self._lock:
            for c in seeing if self.auto or manual else ():
                previous = self.cams[c.camera].history[-2][1]
                new |= accept_view(c.detection, previous, self.coverage[c.camera], self.board)
        if not (new or manual):
            return None
        # What the full search needs, copied: the live search goes on meanwhile.
        searches = [
            (cam.name, cam.stream, cam.kind, cam.variant, [f for f, _ in cam.history])
            for cam in (self.cams[c.camera] for c in seeing)
        ]
        return self._next_pose, manual, searches

    def _full_views(self, searches: list, pose: int) -> dict[str, View]:
        views = {}
        for camera, stream, kind, variant, frames in searches:
            view = self._full_view(camera, stream, kind, variant, frames, pose)
            if view is not None:
                views[camera] = view
        return views

    def _commit(self, pose: int, views: dict[str, View], manual: bool) -> int | None:
        """Add a captured pose's views; its number, or None if no camera's view held."""
        if not views:
            return None
        self._next_pose = pose + 1
        with self._lock:
            for cam, view in views.items():
                self.views[cam].append(view)
                if manual:
                    self.coverage[cam].add(view_params(view.detection, self.board))
        return pose

    def _full_view(
        self, camera: str, stream: str, kind: str, variant: str | None, frames: list, pose: int
    ) -> View | None:
        """The camera's view of a still pose: its frames searched at full resolution,
        checked to agree and averaged (as for a recorded session)."""
        found: list[tuple[Frame, Detection]] = []
        for frame in frames:
            source = f"{stream}#{frame.index}"
            det = None
            if variant is not None:
                det = detect(frame.array, self.board, kind, (variant,), source=source)
            if det is None:
                det = detect(frame.array, self.board, kind, source=source)
            if det is not None:
                found.append((frame, det))
        if not found:
            return None
        keep, _ = agreeing([d for _, d in found], MAX_DRIFT_PX)
        if not keep:
            return None
        used = [found[k] for k in keep]
        det = average([d for _, d in used], self.board, f"{stream}#live-pose-{pose}")
        if det is None or validate(det, self.board) is not None:
            return None
        indices = [f.index for f, _ in used]
        time = float(np.mean([f.timestamp for f, _ in used]))
        return View(camera, stream, pose, time, det, indices)

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
