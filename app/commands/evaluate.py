"""``thermorig evaluate LABELS.h5 --truth SESSION.h5 [--stream thermal] [--json]``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.evaluate import evaluate_labels, format_evaluation


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a label file against a synthetic session's ground truth (IoU)",
        description="IoU per class and mean IoU over the labeled classes of a label file, "
        "against the ground truth of the synthetic session it was made from. Unknown "
        "pixels count as wrong in the headline figure and are left out in the second.",
    )
    p.add_argument("labels", metavar="LABELS.h5", type=Path)
    p.add_argument("--truth", required=True, type=Path, metavar="SESSION.h5")
    p.add_argument("--stream", default="thermal", help="stream to score (default thermal)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    d = evaluate_labels(args.labels, args.truth, args.stream)
    print(json.dumps(d, indent=2) if args.json else format_evaluation(d))
    return 0
