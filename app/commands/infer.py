"""``thermorig infer SESSION.h5 --model NAME|PATH [--model ...] --out LABELS.h5``.

Runs one or more model packages over every frame of a stream and writes what they
produce into a label sidecar (:mod:`app.labels.sidecar`): class masks of a segmenter,
keypoints of a keypoint model, each row marked source "model", status "unreviewed".
Give a segmenter and a keypoint model together to get both in one file; rows a person
made or reviewed in an existing file are kept (the label writer's rule).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from app.labels.sidecar import SOURCE_MODEL, LabelWriter, default_labels_path
from app.progress import progress_bar
from drivers.errors import ThermorigError
from drivers.session import SessionReader
from drivers.truth import DEFAULT_CLASSES
from models.catalog import find_model
from models.runner import ModelRunner

#: Tasks whose result is a class mask, and the one whose result is keypoints.
MASK_TASKS = ("segmentation", "visual-labeler")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "infer",
        help="run segmentation/keypoint models over a session into a label file",
        description="Run model packages (see thermorig models) over every frame of a stream"
        " of a session and write a label file: class masks from a segmenter, keypoints"
        " from a keypoint model, marked as model labels awaiting review.",
    )
    p.add_argument("session", metavar="SESSION.h5", type=Path)
    p.add_argument(
        "--model",
        required=True,
        action="append",
        metavar="NAME|PATH",
        help="model name or NAME.onnx path; repeat for a segmenter plus a keypoint model",
    )
    p.add_argument("--stream", help="stream to label (default: the models' input stream)")
    p.add_argument(
        "--out",
        type=Path,
        metavar="LABELS.h5",
        help="label file to write (default: SESSION.labels.h5 beside the session)",
    )
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads per model")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _check_models(runners: list[ModelRunner]) -> tuple[ModelRunner | None, ModelRunner | None]:
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


def run(args: argparse.Namespace) -> int:
    args.out = args.out or default_labels_path(args.session)
    if args.threads is not None and args.threads < 1:
        raise ThermorigError("--threads must be at least 1")
    runners = [ModelRunner(find_model(m, threads=args.threads)) for m in args.model]
    seg, kp = _check_models(runners)
    model_stream = runners[0].manifest.input.stream
    with SessionReader(args.session) as s:
        stream = args.stream or model_stream
        if stream not in s.streams:
            have = ", ".join(s.streams) or "none"
            raise ThermorigError(f"{args.session} has no '{stream}' stream (it has {have})")
        kind = s.streams[stream].kind
        if kind != model_stream:
            raise ThermorigError(
                f"the model reads {model_stream} frames but stream '{stream}' is {kind}"
            )
        n = s.count(stream)
        if n == 0:
            raise ThermorigError(f"{args.session} has no {stream} frames to label")
        h, w = s.streams[stream].shape[:2]
        truth_classes = (s.truth or {}).get("classes") or DEFAULT_CLASSES
        classes = list(seg.manifest.classes) if seg else list(truth_classes)
        extras: tuple[str, ...] = ("confidence",) if seg else ()
        names: tuple[str, ...] = ()
        if kp:
            extras += ("keypoints",)
            names = tuple(kp.manifest.keypoints)
        t0 = time.perf_counter()
        written = 0
        with (
            LabelWriter(args.out, session=args.session, classes=classes) as writer,
            progress_bar(n, f"infer {args.session.name}", "frames", args.quiet) as bar,
        ):
            writer.create_stream(stream, n, (h, w), extras, keypoint_names=names)
            for i in range(n):
                frame = s.frame(stream, i).array
                row: dict = {}
                mask = np.full((h, w), 255, np.uint8)
                if seg:
                    r = seg.run(frame)
                    mask, row["confidence"] = r.mask, r.confidence
                if kp:
                    row["keypoints"] = kp.run(frame).keypoints
                written += writer.write(stream, i, mask, SOURCE_MODEL, **row)
                bar.update(1)
    seconds = time.perf_counter() - t0
    summary = {
        "labels": str(args.out),
        "session": str(args.session),
        "stream": stream,
        "frames": n,
        "written": int(written),
        "kept_reviewed": int(n - written),
        "seconds": round(seconds, 2),
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
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(
        f"wrote {args.out}: {written}/{n} {stream} frames labeled by model in {seconds:.1f} s"
        + (f" ({n - written} reviewed rows kept)" if written < n else "")
    )
    for name, m in summary["models"].items():
        print(
            f"  {name} ({m['task']}): {m['inference_median_ms']:.1f} ms network,"
            f" {m['total_median_ms']:.1f} ms per frame with pre/post-processing (median)"
        )
    return 0
