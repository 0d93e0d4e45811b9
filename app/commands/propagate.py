"""``thermorig propagate SESSION.h5 --keyframes LABELS.h5|truth:N --stream color --out OUT.h5``.

Parses the arguments and calls :func:`app.labels.propagate.propagate`, which carries a
few labeled frames through the session by optical flow into a label sidecar.
"""

from __future__ import annotations

import argparse
import json
from contextlib import ExitStack
from pathlib import Path

from app.commands.arguments import label_output
from app.labels.propagate import propagate
from app.labels.sidecar import default_labels_path
from app.progress import lazy_progress
from drivers.outputs import check_outputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "propagate",
        help="carry a few labeled frames (keyframes) through a session by optical flow",
        description="Propagate the labeled frames of a stream (keyframes: rows a person made,"
        " accepted or corrected) to every other frame by optical flow, forward from the"
        " keyframe before and backward from the one after, with a confidence that decays"
        " away from the keyframes, and write a label sidecar (keyframe rows kept as they"
        " are, the others as model labels awaiting review). Carry the result into thermal"
        " with thermorig autolabel --rgb-labels OUT.h5. The session is not modified.",
    )
    p.add_argument("session", metavar="SESSION.h5", type=Path)
    p.add_argument(
        "--keyframes",
        required=True,
        metavar="LABELS.h5|truth:N",
        help="a label file with labeled frames of the stream, or truth:N (every N-th"
        " frame's ground truth of a synthetic session, for tests and demos)",
    )
    p.add_argument("--stream", default="color", help="stream to propagate (default color)")
    p.add_argument(
        "--out",
        type=Path,
        metavar="OUT.h5",
        help="label file to write; may be the keyframes' own file, whose rows a person made"
        " are kept (default: SESSION.labels.h5 beside the session)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    args.out = args.out or default_labels_path(args.session)
    # --keyframes may name the label file itself: its rows a person made are kept.
    check_outputs([label_output("--out", args.out)], [args.session], overwrite=None)
    with ExitStack() as stack:
        progress = lazy_progress(stack, f"propagate {args.session.name}", "frames", args.quiet)
        summary = propagate(args.session, args.keyframes, args.out, args.stream, progress=progress)
    d = summary.to_dict()
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    conf = d["confidence"]
    print(
        f"wrote {args.out}: {d['propagated']}/{d['frames']} {args.stream} frames propagated"
        f" from {len(d['keyframes'])} keyframes in {d['seconds']} s ({d['ms_per_frame']} ms/frame)"
        + (f"; confidence {conf['mean']:.3f} mean, {conf['min']:.3f} min" if conf else "")
        + (f"; {d['kept_reviewed']} reviewed rows kept" if d["kept_reviewed"] else "")
    )
    return 0
