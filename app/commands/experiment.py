"""``thermorig experiment calibration-sensitivity SESSION.h5 [--json] [--frames N]
[--report OUT.md] [--plot OUT.png] [--overwrite]``: experiments on synthetic sessions,
whose truth says what the right answer was (one sub-command per experiment)."""

from __future__ import annotations

import argparse
import json
import os
from contextlib import ExitStack
from pathlib import Path

from app.analysis.calibration_sensitivity import calibration_sensitivity
from app.analysis.sensitivity_report import format_table, markdown, write_plot, write_text
from app.commands.arguments import whole
from app.progress import lazy_progress
from drivers.outputs import check_outputs, file_output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "experiment",
        help="experiments on synthetic sessions (calibration sensitivity)",
        description="Controlled experiments on a synthetic session, scored against its truth.",
    )
    exp = p.add_subparsers(
        dest="experiment", metavar="EXPERIMENT", required=True, help="the experiment to run"
    )
    c = exp.add_parser(
        "calibration-sensitivity",
        help="label IoU and boundary error of the RGB-to-thermal transfer with the true rig"
        " turned, moved and its thermal clock shifted",
        description="Transfer the true RGB labels of a synthetic session into thermal (as"
        " autolabel does) with the true rig and with the rig perturbed: each camera turned"
        " 0.1-5 degrees about each of its axes, the thermal camera moved 2-10 mm along each,"
        " the thermal timestamps late by 5-66 ms. Each is scored against the thermal truth"
        " (mean IoU over the labeled classes, as evaluate; boundary error in px). The"
        " session is only read.",
    )
    c.add_argument("session", metavar="SESSION.h5", type=Path, help="a synthetic session")
    c.add_argument(
        "--frames", type=whole("frames", minimum=1), default=20, help="thermal frames to sample"
    )
    c.add_argument("--json", action="store_true", help="print JSON instead of a table")
    c.add_argument("--report", metavar="OUT.md", type=Path, help="write a Markdown report")
    c.add_argument("--plot", metavar="OUT.png", type=Path, help="write IoU against error as PNG")
    c.add_argument("--overwrite", action="store_true", help="replace the report or plot")
    c.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    c.set_defaults(func=run_calibration_sensitivity)


def run_calibration_sensitivity(args: argparse.Namespace) -> int:
    outputs = []
    if args.report:
        outputs.append(file_output("--report", args.report, (".md",)))
    if args.plot:
        outputs.append(file_output("--plot", args.plot, (".png",)))
    check_outputs(outputs, [args.session], overwrite=args.overwrite)
    with ExitStack() as stack:
        progress = lazy_progress(stack, "perturbations x frames", quiet=args.quiet)
        result = calibration_sensitivity(args.session, frames=args.frames, progress=progress)
    if args.plot:
        write_plot(args.plot, result)
    if args.report:
        plot = os.path.relpath(args.plot, args.report.parent) if args.plot else None
        write_text(args.report, markdown(result, plot))
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_table(result))
    return 0
