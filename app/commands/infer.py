"""``thermorig infer SESSION.h5 --model NAME|PATH [--model ...] --out LABELS.h5``.

Parses the arguments and calls :func:`app.labels.infer.infer`, which runs the model
packages over every frame of a stream into a label sidecar.
"""

from __future__ import annotations

import argparse
import json
from contextlib import ExitStack
from pathlib import Path

from app.commands.arguments import add_labels_out, label_output
from app.labels.infer import infer
from app.labels.sidecar import default_labels_path
from app.progress import lazy_progress
from drivers.outputs import check_outputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "infer",
        help="run segmentation/keypoint models over a session into a label file",
        description="Run model packages (see thermorig models) over every frame of a stream"
        " of a session and write a label file: class masks from a segmenter, keypoints"
        " from a keypoint model, marked as model labels awaiting review.",
    )
    p.add_argument("session", metavar="SESSION.h5", type=Path)
    add_options(p)
    add_labels_out(p)
    p.set_defaults(func=run)


def add_options(p: argparse.ArgumentParser) -> None:
    """Which models on which stream: shared with ``thermorig batch infer``."""
    p.add_argument(
        "--model",
        required=True,
        action="append",
        metavar="NAME|PATH",
        help="model name or NAME.onnx path; repeat for a segmenter plus a keypoint model",
    )
    p.add_argument("--stream", help="stream to label (default: the models' input stream)")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads per model")


def run(args: argparse.Namespace) -> int:
    args.out = args.out or default_labels_path(args.session)
    check_outputs([label_output("--out", args.out)], [args.session, *args.model], overwrite=None)
    with ExitStack() as stack:
        summary = infer(
            args.session,
            args.model,
            args.out,
            stream=args.stream,
            threads=args.threads,
            progress=lazy_progress(stack, f"infer {args.session.name}", quiet=args.quiet),
        )
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    n, written, stream = summary["frames"], summary["written"], summary["stream"]
    kept, bad = summary["kept_reviewed"], summary["non_finite_output"]
    print(
        f"wrote {args.out}: {written}/{n} {stream} frames labeled by model"
        f" in {summary['seconds']:.1f} s"
        + (f" ({kept} reviewed rows kept)" if kept else "")
        + (f" ({bad} left unlabeled: the model gave NaN or infinite outputs)" if bad else "")
    )
    for name, m in summary["models"].items():
        print(
            f"  {name} ({m['task']}): {m['inference_median_ms']:.1f} ms network,"
            f" {m['total_median_ms']:.1f} ms per frame with pre/post-processing (median)"
        )
    return 0
