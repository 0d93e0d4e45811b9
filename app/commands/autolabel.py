"""``thermorig autolabel SESSION.h5 --rig RIG.json|truth --rgb-labels SPEC --out LABELS.h5``."""

from __future__ import annotations

import argparse
import json
from contextlib import ExitStack
from pathlib import Path

from app.commands.arguments import add_labels_out, label_output, positive
from app.labels.autolabel import TEMPORAL_MODES, AutolabelOptions, autolabel
from app.labels.rig_check import require_aligned
from app.labels.sidecar import default_labels_path
from app.progress import lazy_progress
from drivers.outputs import check_outputs

_ms = positive("ms")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "autolabel",
        help="carry RGB labels into every thermal frame through depth and the rig",
        description="Label every thermal frame of a session by carrying labels of the RGB "
        "image through the depth camera and the rig, with occlusion tests, and write a "
        "label sidecar (masks, per-pixel validity codes, per-class confidence, time gaps). "
        "The session is not modified.",
    )
    p.add_argument("session", metavar="SESSION.h5", type=Path)
    add_options(p)
    add_labels_out(p)
    p.set_defaults(func=run)


def add_options(p: argparse.ArgumentParser) -> None:
    """What to label and how: shared with ``thermorig batch autolabel``."""
    p.add_argument(
        "--rig",
        metavar="RIG.json|RIG.yaml|truth",
        help="rig file (JSON or YAML), or 'truth' for a synthetic session's true rig"
        " (default: the rig recorded with the session)",
    )
    p.add_argument(
        "--rgb-labels",
        required=True,
        metavar="truth|simulated[:S]|LABELS.h5|model:NAME",
        help="where the RGB labels come from: the synthetic truth; the truth through a"
        " simulated RGB annotator of strength S, 0 to 1 (default 0.5: a decent segmenter's"
        " errors, see docs/simulated-annotator.md); a label file with color labels; or a"
        " model",
    )
    p.add_argument("--stream", default="thermal", help="stream to label (default thermal)")
    p.add_argument(
        "--temporal",
        choices=TEMPORAL_MODES,
        default="auto",
        help="free-running clocks: blend the two bracketing depth frames (interpolate) or"
        " take the nearest; auto interpolates unless the session was hardware-synced",
    )
    p.add_argument(
        "--max-gap-ms",
        type=_ms,
        default=50.0,
        help="leave frames unlabeled whose nearest depth/RGB frames are farther (default 50)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="label even with a rig the rig check calls drifted (see thermorig check-rig)",
    )


def run(args: argparse.Namespace) -> int:
    args.out = args.out or default_labels_path(args.session)
    # --rgb-labels may name the label file itself: its color rows are carried over.
    rig = None if args.rig == "truth" else args.rig
    check_outputs([label_output("--out", args.out)], [args.session, rig], overwrite=None)
    opts = AutolabelOptions(
        target=args.stream, temporal=args.temporal, max_gap_s=args.max_gap_ms / 1000.0
    )
    note = "rig not checked: --force" if args.force else "rig not checked: the true rig"
    if not args.force and args.rig != "truth":  # the true rig of a synthetic session is exact
        with ExitStack() as stack:
            checking = lazy_progress(stack, f"rig check {args.session.name}", "frames", args.quiet)
            note = require_aligned(args.session, args.rig, args.stream, checking)
    with ExitStack() as stack:
        progress = lazy_progress(stack, f"autolabel {args.session.name}", "frames", args.quiet)
        summary = autolabel(args.session, args.out, args.rig, args.rgb_labels, opts, progress)
    d = {**summary.to_dict(), "rig_check": note}
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    gap, conf, unk = d["time_gap_ms"], d["confidence"], d["unknown_share"]
    print(
        f"wrote {args.out}: {d['labeled']}/{d['frames']} {args.stream} frames labeled"
        f" ({d['temporal']}, {d['interpolated']} interpolated) in {d['seconds']} s"
        f" ({d['ms_per_frame']} ms/frame); rig: {d['rig']}; {note}"
    )
    if gap:
        print(
            f"time gap {gap['mean']:.1f} ms mean, {gap['max']:.1f} ms max; confidence"
            f" {conf['mean']:.3f} mean, {conf['min']:.3f} min; unknown {100 * unk['mean']:.1f}%"
            " of pixels"
        )
    skipped = {
        "no depth/RGB frame within --max-gap-ms": d["no_partner_within_max_gap"],
        "no RGB label": d["no_source_label"],
        "reviewed rows kept": d["kept_reviewed"],
    }
    for what, count in skipped.items():
        if count:
            print(f"  {count} frames: {what}")
    return 0
