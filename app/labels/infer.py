"""Inference over a session: model packages run on every frame of a stream, into a
label sidecar (:mod:`app.labels.sidecar`).

Class masks of a segmenter and keypoints of a keypoint model (give both to get both in
one file), each row marked source "model", status "unreviewed". Rows a person made or
reviewed in an existing file are kept: the label writer never overwrites them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from app.labels.sidecar import SOURCE_MODEL
from app.labels.sidecar_writer import LabelWriter
from drivers import stop_request
from drivers.errors import ThermorigError
from drivers.session import SessionReader
from drivers.truth import DEFAULT_CLASSES
from models.catalog import find_model
from models.errors import ModelOutputError
from models.runner import ModelRunner

#: Tasks whose result is a class mask (the other task, keypoints, gives points).
MASK_TASKS = ("segmentation", "visual-labeler")


def pick_models(runners: list[ModelRunner]) -> tuple[ModelRunner | None, ModelRunner | None]:
    """(segmenter, keypoint model) of one run: at most one of each, on one stream."""
    masks = [r for r in runners if r.package.task in MASK_TASKS]
    points = [r for r in runners if r.package.task == "keypoints"]
    if len(masks) > 1 or len(points) > 1:
        raise ThermorigError("give at most one segmentation model and one keypoint model per run")
    streams = {r.manifest.input.stream for r in runners}
    if len(streams) > 1:
        raise ThermorigError(
            f"the models read different streams ({', '.join(sorted(streams))}); run them separately"
        )
    return (masks[0] if masks else None), (points[0] if points else None)


@stop_request.deferred()
def infer(
    session_path: str | Path,
    models: list[str],
    out_path: str | Path,
    *,
    stream: str | None = None,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    frames: range | None = None,
) -> dict[str, Any]:
    """Run ``models`` (names or paths) over ``stream`` of the session (or its rows
    ``frames`` only: a batch chunk) into ``out_path``;
    returns the summary ``thermorig infer --json`` prints. A stop signal ends it
    between two frames, the old ``out_path`` untouched."""
    if threads is not None and threads < 1:
        raise ThermorigError("--threads must be at least 1")
    session_path, out_path = Path(session_path), Path(out_path)
    runners = [ModelRunner(find_model(m, threads=threads)) for m in models]
    seg, kp = pick_models(runners)
    model_stream = runners[0].manifest.input.stream
    t0 = time.perf_counter()
    with SessionReader(session_path) as s:
        stream = stream or model_stream
        if stream not in s.streams:
            have = ", ".join(s.streams) or "none"
            raise ThermorigError(f"{session_path} has no '{stream}' stream (it has {have})")
        kind = s.streams[stream].kind
        if kind != model_stream:
            raise ThermorigError(
                f"the model reads {model_stream} frames but stream '{stream}' is {kind}"
            )
        n = s.count(stream)
        if n == 0:
            raise ThermorigError(f"{session_path} has no {stream} frames to label")
        h, w = s.streams[stream].shape[:2]
        truth_classes = (s.truth or {}).get("classes") or DEFAULT_CLASSES
        classes = list(seg.manifest.classes) if seg else list(truth_classes)
        extras: tuple[str, ...] = ("confidence",) if seg else ()
        names: tuple[str, ...] = ()
        if kp:
            extras += ("keypoints",)
            names = tuple(kp.manifest.keypoints)
        written = non_finite = 0
        with LabelWriter(
            out_path, session=session_path, classes=classes, command="thermorig infer"
        ) as writer:
            writer.create_stream(stream, n, (h, w), extras, keypoint_names=names)
            rows = range(n) if frames is None else range(n)[frames.start : frames.stop]
            for k, i in enumerate(rows):
                stop_request.check()  # Ctrl-C, SIGTERM: the writer removes its file
                frame = s.frame(stream, i).array
                row: dict = {}
                mask = np.full((h, w), 255, np.uint8)
                try:
                    if seg:
                        r = seg.run(frame)
                        mask, row["confidence"] = r.mask, r.confidence
                    if kp:
                        row["keypoints"] = kp.run(frame).keypoints
                except ModelOutputError as exc:
                    non_finite += 1  # The row stays unlabeled (source none).
                    if non_finite == len(rows):  # Nothing to write: the old file stays.
                        raise ModelOutputError(
                            f"model '{exc.model}' gave NaN or infinite outputs on all {len(rows)}"
                            f" frames of {session_path}; nothing was written: the model is"
                            " broken (export it again) or does not fit these frames",
                            model=exc.model,
                        ) from None
                else:
                    written += writer.write(stream, i, mask, SOURCE_MODEL, **row)
                if progress is not None:
                    progress(k + 1, len(rows))
    return {
        "labels": str(out_path),
        "session": str(session_path),
        "stream": stream,
        "frames": len(rows),
        "written": int(written),
        "kept_reviewed": int(len(rows) - written - non_finite),
        "non_finite_output": int(non_finite),
        "seconds": round(time.perf_counter() - t0, 2),
        "models": {
            r.package.name: {
                "task": r.package.task,
                "path": str(r.package.onnx_path),
                "inference_median_ms": round(r.latency.inference_median_ms, 2),
                "total_median_ms": round(r.latency.total_median_ms, 2),
            }
            for r in runners
            if r.latency is not None
        },
    }
