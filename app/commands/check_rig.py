"""``thermorig check-rig SESSION.h5 --rig RIG.json|truth [--refine OUT.json] [--json]``."""

from __future__ import annotations

import argparse
import json
from contextlib import ExitStack
from pathlib import Path

from app.labels.rig_check import check_session_rig, format_result
from app.progress import lazy_progress
from drivers.outputs import RIG_JSON_SUFFIXES, check_outputs, file_output

#: Exit status of a check that ran and found the rig drifted.
EXIT_DRIFTED = 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-rig",
        help="check from a session's own frames (no board) whether the rig still aligns"
        " its cameras; estimate a correction",
        description="Score how well a rig aligns the thermal camera with the depth camera"
        " on an ordinary session (a warm person in front of a cooler room; no board):"
        " the thermal camera's rotation error and the thermal clock's offset against"
        " depth. Exit 0 when the rig is fine, 1 when it has drifted, 2 on bad input."
        " See docs/rig-check.md.",
    )
    p.add_argument("session", metavar="SESSION.h5", type=Path)
    add_options(p)
    p.add_argument(
        "--refine",
        type=Path,
        metavar="OUT.json",
        help="write the rig with the estimated rotation applied here (a new file; the rig"
        " checked is never touched)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --refine file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def add_options(p: argparse.ArgumentParser) -> None:
    """The rig to check: shared with ``thermorig batch check-rig``."""
    p.add_argument(
        "--rig",
        metavar="RIG.json|RIG.yaml|truth",
        help="rig file, or 'truth' for a synthetic session's true rig (default: the rig"
        " recorded with the session)",
    )


def run(args: argparse.Namespace) -> int:
    rig_input = None if args.rig == "truth" else args.rig
    outputs = [file_output("--refine", args.refine, RIG_JSON_SUFFIXES)] if args.refine else []
    check_outputs(outputs, [args.session, rig_input], overwrite=args.overwrite)
    with ExitStack() as stack:
        progress = lazy_progress(stack, f"check-rig {args.session.name}", "frames", args.quiet)
        result, described = check_session_rig(args.session, args.rig, progress)
    if args.refine:
        result.refined.save(args.refine)
    if args.json:
        print(json.dumps({**result.to_dict(), "rig": described}, indent=2))
    else:
        print(format_result(result, described))
        if args.refine:
            print(f"wrote {args.refine}")
    return 0 if result.ok else EXIT_DRIFTED
