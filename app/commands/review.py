"""``thermorig review SESSION.h5 [--labels LABELS.h5] [--rig RIG.json|RIG.yaml] [--stream thermal|color]``:
the review window.

Qt is imported only when the window opens (as for ``thermorig gui``), so a machine
without a display gets the same one-line message and exit code 2, not a traceback.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands.arguments import label_output
from app.commands.gui import check_window_can_open, qt_import_error
from app.labels.sidecar import default_labels_path
from drivers.errors import ThermorigError
from drivers.outputs import check_outputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "review",
        help="review and correct a session's labels: accept, paint, reject, worst first",
        description="Open the review window on a session's thermal labels: a timeline by "
        "status and source, the thermal frame with its mask and edit tools (brush, eraser, "
        "polygon, flood fill, temperature wand), the RGB frame beside it with a linked "
        "cursor through the rig, and a worst-first queue. R switches to the RGB side: the "
        "same tools (but the wand), journal and undo on the RGB labels (keyframes for "
        "thermorig propagate). Every edit is journaled (a killed "
        "process loses no completed stroke); closing saves and prints what it saved. Active"
        " review seconds per frame (gaps between inputs capped at 30 s) are journaled and"
        " saved too: thermorig stats --review-time reports them. Press H in"
        " the window for keys.",
    )
    p.add_argument("session", metavar="SESSION.h5", type=Path)
    p.add_argument(
        "--labels",
        type=Path,
        metavar="LABELS.h5",
        help="label file (default: SESSION.labels.h5 beside the session; when it is missing"
        " the window offers to make it with autolabel or infer, or to start unlabeled; a"
        " file named here is created unlabeled if missing)",
    )
    p.add_argument(
        "--rig",
        type=Path,
        metavar="RIG.json|RIG.yaml",
        help="rig file (JSON or YAML) for the linked cursor (default: the session's recorded"
        " or true rig)",
    )
    p.add_argument(
        "--stream",
        choices=("thermal", "color"),
        default="thermal",
        help="the labels edited first (default thermal; R in the window switches): color"
        " opens the RGB side, to paint RGB keyframes for thermorig propagate (a label file"
        " without RGB labels gains unlabeled RGB rows)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_window_can_open()
    if not args.session.is_file():
        raise ThermorigError(f"session file not found: {args.session}; check the path")
    labels = args.labels or default_labels_path(args.session)
    check_outputs([label_output("--labels", labels)], [args.session, args.rig], overwrite=None)
    try:
        from app.ui.review.launch import run_review
    except ImportError as exc:  # Qt's system libraries missing
        raise qt_import_error(exc) from None
    return run_review(args.session, args.labels, args.rig, args.stream)
