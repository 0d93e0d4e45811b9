"""Run a model package on frames: prepare, infer in onnxruntime (CPU), read the output.

The runner keeps the latency of its recent runs so that whoever drives it (the preview,
``thermorig infer``, the benchmark) can show the model's own rate beside the camera's;
capture never waits for it (docs/architecture.md, threads).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from models.errors import ModelOutputError
from models.package import ModelPackage
from models.postprocess import ModelResult
from models.preprocess import prepare
from models.registry import handler_for


@dataclass(frozen=True)
class Latency:
    """Recent run times in milliseconds (network alone and end to end)."""

    runs: int
    inference_median_ms: float
    inference_p95_ms: float
    total_median_ms: float
    total_p95_ms: float


class ModelRunner:
    """``ModelRunner(package).run(frame_array) -> ModelResult`` in that frame's pixels;
    a :class:`ModelOutputError` where the network's output is not finite.

    Safe to call from one worker thread while another reads :attr:`latency`.
    """

    def __init__(self, package: ModelPackage, history: int = 200):
        self.package = package
        self.manifest = package.manifest
        self._handler = handler_for(package.task)
        self._lock = threading.Lock()
        self._inference: deque[float] = deque(maxlen=history)
        self._total: deque[float] = deque(maxlen=history)

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """The network output (4-D outputs as N, C, H, W) for a prepared input
        (1, C, H, W) float32; NHWC models get and give their own layout inside."""
        nhwc = self.manifest.input.layout == "NHWC"
        feed = np.ascontiguousarray(tensor.transpose(0, 2, 3, 1)) if nhwc else tensor
        out = self.package.session.run([self.package.output_name], {self.package.input_name: feed})[
            0
        ]
        return out.transpose(0, 3, 1, 2) if nhwc and out.ndim == 4 else out

    def run(self, frame: np.ndarray) -> ModelResult:
        t0 = time.perf_counter()
        tensor, geometry = prepare(frame, self.manifest.input)
        t1 = time.perf_counter()
        output = self.infer(tensor)
        t2 = time.perf_counter()
        finite = np.isfinite(output)
        if not finite.all():
            bad = output.size - int(np.count_nonzero(finite))
            raise ModelOutputError(
                f"model '{self.package.name}' gave {bad} NaN or infinite values of"
                f" {output.size} for this frame; it cannot be labeled from them",
                model=self.package.name,
            )
        result = self._handler.decode(self.manifest, output, geometry)
        t3 = time.perf_counter()
        result.inference_s, result.total_s = t2 - t1, t3 - t0
        with self._lock:
            self._inference.append(result.inference_s)
            self._total.append(result.total_s)
        return result

    @property
    def latency(self) -> Latency | None:
        with self._lock:
            if not self._total:
                return None
            inf = np.asarray(self._inference) * 1e3
            tot = np.asarray(self._total) * 1e3
        return Latency(
            runs=len(tot),
            inference_median_ms=float(np.median(inf)),
            inference_p95_ms=float(np.percentile(inf, 95)),
            total_median_ms=float(np.median(tot)),
            total_p95_ms=float(np.percentile(tot, 95)),
        )
