"""ONNX models as overlay stages of the live preview (segmentation masks, keypoints).

A model stage is an ordinary pipeline stage ``(FrameSet) -> Overlay``: it runs on the
overlay worker (latest-wins), so a model slower than the camera lowers only its own
rate. The package is loaded lazily, on the worker's first frame, so that adding the
overlay never slows the window's start. A model that cannot be loaded or run does not
raise: its overlay carries a one-line note saying why it is off, which the view and
the status panel show, and the rest of the app keeps running.
"""

from __future__ import annotations

import os
import threading

from app.live.legend import KEYPOINT, class_marks
from app.live.stages import Overlay
from drivers.errors import ThermorigError
from drivers.types import FrameSet
from models.catalog import find_model
from models.package import ModelPackage
from models.runner import ModelRunner


class ModelStage:
    """A pipeline stage running one model package on the ``stream`` frame of each set.

    Segmenters give the overlay's ``labels`` (class ids in the frame's pixels);
    keypoint models its ``points`` ((K, 2), NaN where absent).
    """

    def __init__(
        self, name_or_path: str | os.PathLike, stream: str = "thermal", threads: int | None = None
    ):
        self.spec = str(name_or_path)
        self.stream = stream
        self.threads = threads
        self.runner: ModelRunner | None = None
        #: Why the model is off ("" while it loads or runs fine).
        self.why_off = ""
        self._load_lock = threading.Lock()
        self._tried = False

    @classmethod
    def loaded(cls, package: ModelPackage, stream: str | None = None) -> ModelStage:
        """A stage for a package already loaded and checked (the GUI loads a person's
        model off the GUI thread first, to tell them at once if it is broken), on the
        stream its JSON names unless ``stream`` says otherwise."""
        stage = cls(package.onnx_path, stream or package.manifest.input.stream, package.threads)
        stage.runner = ModelRunner(package)
        stage._tried = True
        return stage

    def load(self) -> ModelRunner | None:
        """The runner, loading the package on first use (None if it cannot load)."""
        with self._load_lock:
            if not self._tried:
                self._tried = True
                try:
                    self.runner = ModelRunner(find_model(self.spec, threads=self.threads))
                except ThermorigError as exc:
                    self.why_off = f"cannot load: {exc}"
                except Exception as exc:  # noqa: BLE001 - a broken file must not stop the app
                    self.why_off = f"cannot load: {type(exc).__name__}: {exc}"
        return self.runner

    @property
    def label(self) -> str:
        return self.runner.package.name if self.runner is not None else self.spec

    def _off(self, fs: FrameSet, why: str) -> Overlay:
        return Overlay(stream=self.stream, frameset=fs.index, note=f"model {self.label} off: {why}")

    def __call__(self, fs: FrameSet) -> Overlay | None:
        runner = self.load()
        if runner is None:
            return self._off(fs, self.why_off)
        frame = fs.frames.get(self.stream)
        if frame is None:
            return None  # a set without this stream: the newest result stays shown
        try:
            result = runner.run(frame.array)
        except ThermorigError as exc:
            return self._off(fs, str(exc))
        note = f"model {self.label}: {1e3 * result.total_s:.0f} ms"
        if result.mask is not None:
            marks = class_marks(runner.package.manifest.classes, f"model {self.label}")
            return Overlay(self.stream, fs.index, labels=result.mask, note=note, marks=marks)
        return Overlay(self.stream, fs.index, points=result.keypoints, note=note, marks=(KEYPOINT,))


def model_stage(
    name_or_path: str | os.PathLike, stream: str = "thermal", threads: int | None = None
) -> ModelStage:
    """A stage running the model ``name_or_path`` (a catalog name or a path to
    NAME.onnx) on the ``stream`` frame; ``threads`` its onnxruntime threads."""
    return ModelStage(name_or_path, stream, threads)
