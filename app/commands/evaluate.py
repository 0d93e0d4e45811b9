"""``thermorig evaluate LABELS.h5 --truth SESSION.h5 [--stream thermal] [--json]``, and
``thermorig evaluate A.h5 --against B.h5 --session SESSION.h5 [--status ...]`` to compare
two label files of one session (B the reference)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.analysis.quality import (
    compare_labels,
    evaluate_labels,
    format_agreement,
    format_evaluation,
)
from app.commands.arguments import statuses
from drivers.errors import ThermorigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a label file against a synthetic session's truth (IoU), or against"
        " another label file",
        description="IoU per class and mean IoU over the labeled classes of a label file, "
        "against the ground truth of the synthetic session it was made from. Unknown "
        "pixels count as wrong in the headline figure and are left out in the second. "
        "With --against, compare it with a second label file of the same session (the "
        "reference, e.g. the corrected labels): IoU and Dice per class, pixel agreement, "
        "over frames labeled in both and rejected in neither, pixels both label.",
    )
    p.add_argument("labels", metavar="LABELS.h5", type=Path)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--truth", type=Path, metavar="SESSION.h5", help="synthetic session")
    what.add_argument(
        "--against",
        type=Path,
        metavar="REFERENCE.h5",
        help="reference label file (needs --session)",
    )
    p.add_argument(
        "--session", type=Path, metavar="SESSION.h5", help="the session both label files are of"
    )
    p.add_argument(
        "--status",
        type=statuses,
        metavar="S[,S...]",
        help="with --against: only frames whose reference status is one of these"
        " (unreviewed, accepted, corrected, rejected)",
    )
    p.add_argument("--stream", default="thermal", help="stream to score (default thermal)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.against is None:
        if args.session is not None or args.status is not None:
            raise ThermorigError("--session and --status go with --against REFERENCE.h5")
        d = evaluate_labels(args.labels, args.truth, args.stream)
        print(json.dumps(d, indent=2) if args.json else format_evaluation(d))
        return 0
    if args.session is None:
        raise ThermorigError("--against needs --session SESSION.h5, the session both files label")
    d = compare_labels(args.labels, args.against, args.session, args.stream, statuses=args.status)
    print(json.dumps(d, indent=2) if args.json else format_agreement(d))
    return 0
