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

import numpy as np

from app.pipeline import Overlay
from drivers.errors import ThermorigError
from drivers.types import FrameSet
from models.catalog import find_model
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
        self._clear: np.ndarray | None = None

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
            return Overlay(self.stream, fs.index, labels=result.mask, note=note)
        return Overlay(
            self.stream,
            fs.index,
            rgba=self._transparent(frame.array.shape[:2]),
            points=result.keypoints,
            note=note,
        )

    def _transparent(self, shape: tuple[int, ...]) -> np.ndarray:
        """A see-through layer for a points-only overlay: the preview draws an overlay's
        points only with a layer of the view's size (one array, reused)."""
        if self._clear is None or self._clear.shape[:2] != shape:
            self._clear = np.zeros((*shape, 4), np.uint8)
        return self._clear


def model_stage(
    name_or_path: str | os.PathLike, stream: str = "thermal", threads: int | None = None
) -> ModelStage:
    """A stage running the model ``name_or_path`` (a catalog name or a path to
    NAME.onnx) on the ``stream`` frame; ``threads`` its onnxruntime threads."""
    return ModelStage(name_or_path, stream, threads)
