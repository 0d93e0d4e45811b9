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
    return results + _visual_labeler(repeat, threads)


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
