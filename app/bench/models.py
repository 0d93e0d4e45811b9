"""Benchmark of the model packages: onnxruntime latency per model, and for the bundled
segmenter the same network in PyTorch eager mode side by side.

Every model found by ``thermorig models`` runs on a real synthetic thermal frame with
the runner's own thread setting. Figures are per frame: the network alone (median
and 95th percentile), and end to end with preprocessing and resampling back to frame
size. The torch peer is the same architecture (from the JSON's provenance) with the
same number of threads; its weights are random, which does not change its run time.
PyTorch is optional (the ``train`` extra): without it the row says so.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from app.bench import Result, benchmark, time_calls
from models.catalog import BUNDLED_SEGMENTER, list_models
from models.package import ModelPackage, default_threads
from models.preprocess import prepare
from models.runner import ModelRunner


def _thermal_frame() -> np.ndarray:
    from drivers.synthetic import open_synthetic

    driver = open_synthetic("cycling", realtime=False, duration=1.0, seed=7)
    driver.open()
    try:
        return driver.render_frame("thermal", 0, 0.2).array
    finally:
        driver.close()


def _colour_frame() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)


def _torch_peer(
    pkg: ModelPackage, tensor: np.ndarray, repeat: int
) -> tuple[np.ndarray | None, str]:
    """Torch eager run times of the same network, or None and why not (torch lives
    under models/training only)."""
    try:
        from models.training.bench_peer import torch_eager_call
    except ImportError:
        return None, "torch not installed (pip install -e .[train])"
    call, why = torch_eager_call(pkg, tensor)
    return (None, why) if call is None else (time_calls(call, repeat, warmup=3), "")


@benchmark("models")
def bench_models(quick: bool) -> list[Result]:
    repeat = 20 if quick else 200
    threads = default_threads()
    results: list[Result] = []
    thermal = None
    for entry in list_models(threads=threads):
        pkg = entry.package
        if pkg is None:
            results.append(Result("models", entry.name, float("nan"), "ms", note=entry.error))
            continue
        if pkg.manifest.input.stream == "thermal":
            thermal = _thermal_frame() if thermal is None else thermal
            frame = thermal
        else:
            frame = _colour_frame()
        runner = ModelRunner(pkg)
        tensor, _ = prepare(frame, pkg.manifest.input)
        net = time_calls(lambda r=runner, t=tensor: r.infer(t), repeat, warmup=3) * 1e3
        total = time_calls(lambda r=runner, f=frame: r.run(f), max(10, repeat // 4), warmup=1) * 1e3
        note = f"{threads} thread(s), input {pkg.manifest.input.width}x{pkg.manifest.input.height}"
        peer, peer_note = None, ""
        if (
            pkg.task == "segmentation"
            and entry.origin == "bundled"
            and entry.name == BUNDLED_SEGMENTER
        ):
            times, peer_note = _torch_peer(pkg, tensor, max(10, repeat // 2))
            peer = None if times is None else times * 1e3
        median_note = note + (f"; {peer_note}" if peer_note else "")
        results += [
            Result(
                "models",
                f"{pkg.name} network median",
                float(np.median(net)),
                "ms",
                "torch eager" if peer is not None else "",
                None if peer is None else float(np.median(peer)),
                median_note,
            ),
            Result(
                "models",
                f"{pkg.name} network p95",
                float(np.percentile(net, 95)),
                "ms",
                "torch eager" if peer is not None else "",
                None if peer is None else float(np.percentile(peer, 95)),
                note,
            ),
            Result(
                "models",
                f"{pkg.name} frame end to end median",
                float(np.median(total)),
                "ms",
                note=f"{frame.shape[1]}x{frame.shape[0]} frame in,"
                f" {'points' if pkg.task == 'keypoints' else 'mask'} out",
            ),
        ]
    if not results:
        results.append(Result("models", "no model packages", float("nan"), "ms", note="none found"))
    return results + _visual_labeler(repeat, threads) + _live_labeler(quick)


def _visual_labeler(repeat: int, threads: int) -> list[Result]:
    """The MediaPipe visual labeler's two stages on a 1280x720 RGB frame, each with its
    warp and normalisation: the detector runs on every frame, the landmark model (with
    the person mask) on every frame where a person is found."""
    from models.errors import ModelError
    from models.visual_labeler import MediaPipeVisualLabeler

    try:
        labeler = MediaPipeVisualLabeler(threads=threads)
    except ModelError as exc:
        return [Result("models", "mediapipe-pose", float("nan"), "ms", note=str(exc))]
    rgb = _colour_frame()
    crop = labeler.crop_transform(np.array([640.0, 500.0]), np.array([640.0, 200.0]))
    n = max(10, repeat // 4)
    det = time_calls(lambda: labeler.detect(rgb), n, warmup=2) * 1e3
    lms = time_calls(lambda: labeler.landmarks(rgb, crop), n, warmup=2) * 1e3
    note = f"{threads} thread(s), 1280x720 RGB frame"
    return [
        Result("models", f"mediapipe-pose {stage} median", float(np.median(t)), "ms",
               note=f"{note}; p95 {np.percentile(t, 95):.1f} ms")
        for stage, t in (("detector stage", det), ("landmark + mask stage", lms))
    ]  # fmt: skip


#: Labels per second the live projection needs from its RGB labeler (issue 21).
TARGET_LIVE_HZ = 10.0


def _photo_stream() -> list[np.ndarray] | None:
    """A 1280x720 RGB stream of a real person walking across (``bus.jpg``, the photo
    the labeler's tests use, moved 3 px a frame), or None where the photo is not here
    (``scripts/install test`` fetches it)."""
    import cv2

    from models.convert.mediapipe_parity import read_photo

    root = Path(__file__).resolve().parents[2]
    cache = Path(os.environ.get("THERMORIG_TEST_WHEELS") or root / ".cache" / "test-wheels")
    wheels = sorted(cache.glob("ultralytics-8.4.190-*.whl"))
    if not wheels:
        return None
    rgb = read_photo(wheels[0], "bus.jpg")
    small = cv2.resize(rgb, (round(rgb.shape[1] * 720 / rgb.shape[0]), 720), cv2.INTER_AREA)
    frames = []
    for k in range(30):
        frame = np.zeros((720, 1280, 3), np.uint8)
        x = 200 + 3 * k
        frame[:, x : x + small.shape[1]] = small
        frames.append(frame)
    return frames


def _live_labeler(quick: bool) -> list[Result]:
    """The MediaPipe labeler as the live projection runs it (its own thread, tracking,
    one onnxruntime thread) on a 30 frames/s 1280x720 stream: labels per second."""
    from app.live.projected_labels import threaded_mediapipe_labeler
    from drivers.types import Frame, FrameSet
    from models.errors import ModelError

    name = f"mediapipe-pose live labels/s on a 1280x720 stream (target >= {TARGET_LIVE_HZ:g})"
    frames = _photo_stream()
    if frames is None:
        note = "needs the real photo of its tests: run scripts/install test"
        return [Result("models", name, float("nan"), "Hz", note=note)]
    try:
        worker = threaded_mediapipe_labeler("color", threads=1)
    except ModelError as exc:
        return [Result("models", name, float("nan"), "Hz", note=str(exc))]
    seconds, warmup = (3.0, 1.0) if quick else (8.0, 2.0)
    start = time.perf_counter()
    k, counted, ages, busy = 0, None, [], []
    try:
        while (now := time.perf_counter()) - start < warmup + seconds:
            frame = Frame("color", k, now, frames[k % len(frames)])
            worker.submit(FrameSet(k, now, "color", {"color": frame}))
            if counted is None and now - start >= warmup:
                counted = (worker.stats().runs, now)
            stats = worker.stats()
            if counted is not None and stats.runs > len(ages) + counted[0]:
                ages.append(stats.latency_ms)
                busy.append(stats.busy_ms)
            k += 1
            time.sleep(max(0.0, start + k / 30.0 - time.perf_counter()))
        runs = worker.stats().runs - counted[0]
        rate = runs / (time.perf_counter() - counted[1])
    finally:
        worker.stop()
    inner = worker.labeler.labeler
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    note = (
        f"own thread, tracking ({inner.detections} detector runs in {inner.frames} frames),"
        f" 1 onnxruntime thread; compute median {np.median(busy):.0f} ms, age (frame"
        f" handed over to labels) median {np.median(ages):.0f} ms; {runs} results in"
        f" {seconds:g} s; load average {load:.1f}; target >= {TARGET_LIVE_HZ:g} Hz"
        f" ({'met' if rate >= TARGET_LIVE_HZ else 'not met'})"
    )
    return [Result("models", name, rate, "Hz", note=note)]
