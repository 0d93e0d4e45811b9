"""Projected labels in the live preview: the RGB side's labels carried into the thermal
view through the depth camera and the rig in force.

This is the preview's version of what auto-labeling does offline (``app.labels.autolabel``):
for every FrameSet with depth and RGB, a *live labeler* gives the RGB label mask (the
RGB frame's ground truth for synthetic sources, or the MediaPipe pose labeler), and a
:class:`~calibration.projection.Projector` built from the rig turns it into the
thermal label mask with a reason code per pixel. Seeing it live tells the person,
before recording, whether the rig and the labels will give usable thermal labels.

The stage runs on the overlay worker (latest-wins), never on the GUI thread. A rig
change only swaps a small config object; the Projector (about a second to build) is
rebuilt by the worker on its next frame. When the overlay cannot be computed — no rig,
a missing stream, no labels — the stage returns an overlay with only a note that says
why, so the view can tell the person instead of silently showing nothing.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from app.display import projected_rgba
from app.live.labeler_worker import Entry, LabelerWorker, TransferTrack
from app.live.legend import PROJECTED_UNKNOWN, class_marks
from app.live.stages import Overlay, StageStats
from calibration.projection import Projector, Transfer
from calibration.rig import Rig
from drivers.errors import ThermorigError
from drivers.truth import DEFAULT_CLASSES, UNKNOWN_LABEL
from drivers.types import Frame, FrameSet, StreamSpec

#: ``(FrameSet) -> (H, W) uint8 class mask of the source stream (255 unknown) | None``.
#: A labeler may keep a ``reason`` attribute: why its last call gave None (one line,
#: e.g. "no person detected"), which the overlay shows instead of a generic note.
LiveLabeler = Callable[[FrameSet], "np.ndarray | None"]

#: A FrameSet that lacks its depth or RGB partner (a frame lost while recording, the
#: camera a few ms late) borrows the newest one seen, if it is at most this far
#: (seconds) from the thermal frame: the labels are drawn with that time gap in the
#: note and the confidence, instead of vanishing for a frame.
MAX_BORROW_S = 0.07

#: Thermal sets kept waiting for the labeler result after them (~0.5 s at 30/s).
WAITING = 16

#: What the GUI calls the labelers it offers.
TRUTH_LABELER_NAME = "RGB ground truth"
MEDIAPIPE_LABELER_NAME = "MediaPipe pose"


def truth_labeler(stream: str = "color") -> LiveLabeler:
    """The ground-truth class mask a synthetic ``stream`` frame carries (None without)."""

    def labeler(fs: FrameSet) -> np.ndarray | None:
        frame = fs.frames.get(stream)
        if frame is None or not frame.truth:
            return None
        return frame.truth.get("labels")

    return labeler


class VisualLiveLabeler:
    """A visual labeler (:mod:`models.visual_labeler`) as a live labeler of ``stream``.

    A frame where it finds no confident legs gives None and says why in :attr:`reason`,
    so the overlay tells the person ("no person detected") instead of keeping labels of
    an older frame on screen.
    """

    def __init__(self, labeler, stream: str = "color"):
        self.labeler = labeler
        self.stream = stream
        self.classes = list(labeler.classes)
        self.reason = ""

    def __call__(self, fs: FrameSet) -> np.ndarray | None:
        frame = fs.frames.get(self.stream)
        if frame is None:
            self.reason = f"no {self.stream} frame in this set"
            return None
        rgb = frame.array
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            self.reason = f"the {self.stream} stream is not 8-bit RGB"
            return None
        result = self.labeler.label(np.ascontiguousarray(rgb))
        self.reason = result.reason if result.labels is None else ""
        return result.labels


def mediapipe_labeler(
    stream: str = "color", threads: int = 1, track: bool = False
) -> VisualLiveLabeler:
    """The bundled MediaPipe pose labeler as a live labeler (loads two ONNX networks,
    ~0.1 s: call it off the GUI thread). Raises ModelError if it cannot load.
    ``track``: crops from the previous frame's landmarks (a stream, not stills)."""
    from models.visual_labeler import open_visual_labeler  # onnxruntime only when asked

    labeler = open_visual_labeler("mediapipe-pose", threads=threads, track=track)
    return VisualLiveLabeler(labeler, stream)


def threaded_mediapipe_labeler(stream: str = "color", threads: int = 1) -> LabelerWorker:
    """The MediaPipe labeler for the live preview: tracking, on its own thread; the
    projected labels interpolate its results onto every thermal frame."""
    return LabelerWorker(mediapipe_labeler(stream, threads, True), MEDIAPIPE_LABELER_NAME, stream)


@dataclass(frozen=True)
class _Config:
    """What the worker should project with; replaced whole (one assignment) by the GUI."""

    rig: Rig | None
    depth_scale: float
    why_off: str
    version: int


@dataclass(frozen=True)
class LastTransfer:
    """The newest transfer and the FrameSet it came from (for the cursor's 3-D point)."""

    frameset: int
    transfer: Transfer
    rig: Rig


class ProjectedLabelsStage:
    """A pipeline stage ``(FrameSet) -> Overlay``: projected labels on the ``dst`` view.

    ``labeler`` gives the ``src`` stream's labels; ``classes`` their names.
    """

    def __init__(
        self,
        labeler: LiveLabeler | None = None,
        *,
        labeler_name: str = TRUTH_LABELER_NAME,
        classes: Sequence[str] = DEFAULT_CLASSES,
        src: str = "color",
        dst: str = "thermal",
    ):
        self.src, self.dst = src, dst
        #: (labeler, its name, class names), swapped whole by the GUI thread so the
        #: worker never pairs one labeler with another's name or classes.
        self._labeler = (labeler or truth_labeler(src), labeler_name, list(classes))
        self._config = _Config(None, 0.0, "no source open", 0)
        self._built: tuple[int, Projector | None, str] = (-1, None, "")
        self._last_overlay: Overlay | None = None
        self._partners: dict[str, Frame] = {}  # newest depth and source frames seen
        self.last: LastTransfer | None = None
        #: Why the stage is paused ("" when running): it yields the CPU to another
        #: tool (the calibration wizard's board search) without losing its rig.
        self.paused = ""
        # A labeler on its own thread (LabelerWorker): its results in the thermal
        # camera, the thermal sets waiting for the result after them, and what the
        # track was made with (a rig or labeler change starts it afresh).
        self._track = TransferTrack()
        self._waiting: deque[FrameSet] = deque(maxlen=WAITING)
        self._track_made: tuple[int, object] = (-1, None)

    # -- GUI side ---------------------------------------------------------------------
    def set_labeler(self, labeler: LiveLabeler, name: str, classes: Sequence[str]) -> None:
        """Take labels from another live labeler (e.g. an RGB model) from now on; a
        threaded one replaced stops its thread (handed back, it starts again)."""
        old = self._labeler[0]
        self._labeler = (labeler, name, list(classes))
        self._last_overlay = None
        self._track_made = (-1, None)  # a labeler handed back starts a new track
        if isinstance(old, LabelerWorker) and old is not labeler:
            old.stop()

    @property
    def hold_s(self) -> float | None:
        """How long the pacer should hold a frame for its labels: a threaded labeler's
        result after a frame comes a labeler period later (None: the pacer's own)."""
        labeler = self._labeler[0]
        return labeler.hold_s if isinstance(labeler, LabelerWorker) else None

    def stop(self) -> None:
        """End a threaded labeler's thread (the window closes)."""
        if isinstance(self._labeler[0], LabelerWorker):
            self._labeler[0].stop()

    def labeler_stats(self) -> StageStats | None:
        """A threaded labeler's own figures (rate, compute, age), None for others."""
        labeler = self._labeler[0]
        return labeler.stats() if isinstance(labeler, LabelerWorker) else None

    @property
    def labeler(self) -> LiveLabeler:
        return self._labeler[0]

    @property
    def labeler_name(self) -> str:
        return self._labeler[1]

    @property
    def classes(self) -> list[str]:
        return self._labeler[2]

    def set_rig(self, rig: Rig | None, streams: dict[str, StreamSpec]) -> None:
        """Project with ``rig`` (None: off) for a source with ``streams``."""
        why = ""
        missing = [s for s in (self.dst, "depth", self.src) if s not in streams]
        depth = streams.get("depth")
        if not streams:
            why = "no source open"
        elif missing:
            why = f"the source has no {' or '.join(missing)} stream"
        elif rig is None:
            why = "no rig — load a rig file or calibrate one (Tools)"
        elif not (depth.depth_scale and depth.depth_scale > 0):
            why = "the depth stream does not say its scale (metres per unit)"
        scale = float(depth.depth_scale or 0.0) if depth is not None else 0.0
        self._config = _Config(rig, scale, why, self._config.version + 1)
        self._last_overlay = None
        self.last = None

    @property
    def rig(self) -> Rig | None:
        return self._config.rig

    # -- worker side ------------------------------------------------------------------
    def _projector(self, cfg: _Config) -> tuple[Projector | None, str]:
        version, projector, why = self._built
        if version != cfg.version:
            try:
                projector, why = Projector(cfg.rig, cfg.depth_scale, self.src, self.dst), ""
            except ThermorigError as exc:
                projector, why = None, f"the rig cannot project: {exc}"
            self._built = (cfg.version, projector, why)
        return projector, why

    def _partner(self, fs: FrameSet, stream: str) -> Frame | None:
        """``fs``'s frame of ``stream``, or the newest one seen if ``fs`` has none and
        it lies within :data:`MAX_BORROW_S` of the set's own time."""
        frame = fs.frames.get(stream)
        if frame is not None:
            self._partners[stream] = frame
            return frame
        recent = self._partners.get(stream)
        if recent is not None and abs(recent.timestamp - fs.timestamp) <= MAX_BORROW_S:
            return recent
        return None

    def _off(self, fs: FrameSet, why: str) -> Overlay:
        return Overlay(stream=self.dst, frameset=fs.index, note=f"projected labels off: {why}")

    def __call__(self, fs: FrameSet) -> Overlay | None:
        cfg = self._config
        if cfg.why_off or self.paused:
            return self._off(fs, cfg.why_off or self.paused)
        depth, source = self._partner(fs, "depth"), self._partner(fs, self.src)
        if depth is None or source is None:
            # Nothing near enough to borrow: keep the newest result (the pacer draws it
            # only on a frame near its own, else says how far it is).
            return self._last_overlay
        projector, why = self._projector(cfg)
        if projector is None:
            return self._off(fs, why)
        labeler, name, classes = self._labeler
        if fs.frames.get("depth") is not depth or fs.frames.get(self.src) is not source:
            borrowed = {**fs.frames, "depth": depth, self.src: source}
            fs = FrameSet(fs.index, fs.timestamp, fs.pivot, borrowed)
        if isinstance(labeler, LabelerWorker):
            return self._threaded(fs, labeler, projector, cfg)
        labels = labeler(fs)
        if labels is None:
            why = getattr(labeler, "reason", "")
            return self._off(
                fs, f"{name}: {why}" if why else f"no labels from {name} for this frame"
            )
        target = fs.frames.get(self.dst)
        gap = math.nan
        if target is not None:
            gap = max(abs(f.timestamp - target.timestamp) for f in (depth, source))
        try:
            tr = projector.transfer_labels(depth.array, labels, len(classes), gap)
        except ThermorigError as exc:
            return self._off(fs, str(exc))
        if self._config is not cfg:
            return None  # the rig changed meanwhile: this result belongs to the old one
        self.last = LastTransfer(fs.index, tr, cfg.rig)
        note = f"projected from {name}: confidence {tr.confidence:.2f}"
        note += f", {100 * (1.0 - tr.unknown_share):.0f}% known"
        if math.isfinite(gap):
            note += f", Δt {1e3 * gap:.0f} ms"
        overlay = Overlay(
            stream=self.dst,
            frameset=fs.index,
            labels=tr.labels,
            rgba=projected_rgba(tr.labels, tr.reason),
            note=note,
            marks=class_marks(classes, f"projected from {name}") + PROJECTED_UNKNOWN,
            reason=tr.reason,
        )
        self._last_overlay = overlay
        return overlay

    # -- a labeler on its own thread ----------------------------------------------------
    def _threaded(
        self, fs: FrameSet, worker: LabelerWorker, projector: Projector, cfg: _Config
    ) -> Overlay | None:
        """Hand ``fs`` to the labeler's thread, carry its new results into the thermal
        camera (once each, through the depth frame of the set it labeled), and label
        the oldest waiting thermal set that two results bracket — interpolated to its
        time. Until one is bracketed, the newest overlay stays."""
        _, name, classes = self._labeler
        if self._track_made != (cfg.version, worker):
            self._track, self._track_made = TransferTrack(), (cfg.version, worker)
            self._waiting.clear()
        worker.submit(fs)
        for r in worker.results_after(self._track.seq):
            tr, why = None, f"{name}: {r.reason}" if r.reason else f"no labels from {name}"
            if r.labels is not None:
                depth, target = r.frameset.frames["depth"], r.frameset.frames.get(self.dst)
                gap = abs(depth.timestamp - r.time)
                if target is not None:
                    gap = max(gap, abs(target.timestamp - r.time))
                try:
                    tr = projector.transfer_labels(depth.array, r.labels, len(classes), gap)
                except ThermorigError as exc:
                    why = str(exc)
            self._track.add(Entry(r.time, tr, why), r.seq)
        if self.dst in fs.frames:
            self._waiting.append(fs)
        while self._waiting:
            w = self._waiting[0]
            t = w.frames[self.dst].timestamp
            if t > self._track.newest:
                return self._last_overlay  # its labels come with the next result
            self._waiting.popleft()
            got = self._track.at(t, len(classes))
            if got is not None:
                break
        else:
            return self._last_overlay
        if self._config is not cfg:
            return None  # the rig changed meanwhile
        when = f"{100 * got.a:.0f}% of the {1e3 * got.span:.0f} ms between two RGB results"
        if got.labels is None:
            overlay = self._off(w, got.why)
        else:
            near = got.nearer.transfer
            self.last = LastTransfer(w.index, near, cfg.rig)
            known = 100.0 * np.count_nonzero(got.labels != UNKNOWN_LABEL) / got.labels.size
            overlay = Overlay(
                stream=self.dst,
                frameset=w.index,
                labels=got.labels,
                rgba=projected_rgba(got.labels, got.reason),
                note=f"projected from {name}: confidence {near.confidence:.2f}, {known:.0f}%"
                f" known, interpolated at {when}",
                time=w.timestamp,
                marks=class_marks(classes, f"projected from {name}") + PROJECTED_UNKNOWN,
                reason=got.reason,
            )
        overlay.time = w.timestamp
        self._last_overlay = overlay
        return overlay
