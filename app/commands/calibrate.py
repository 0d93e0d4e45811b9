"""``thermorig calibrate SESSION.h5 [--board SPEC] --out RIG.json [--report DIR] [--yaml OUT.yaml]``.

The whole rig from one recorded calibration session: find the poses where the board
stood still, detect it in every camera (the depth camera through its IR stream),
fit each camera's intrinsics and each camera's pose relative to the depth camera,
check everything on held-out poses, and write the rig (JSON, optionally OpenCV YAML)
with its quality figures and an optional report.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from drivers.errors import ThermorigError
from drivers.outputs import (
    RIG_JSON_SUFFIXES,
    RIG_YAML_SUFFIXES,
    check_outputs,
    file_output,
    folder_output,
)


class CalibrateError(ThermorigError):
    """Arguments calibrate cannot work with."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="calibrate the whole rig (intrinsics and extrinsics) from a calibration session",
        description="Calibrate every camera of the rig and their poses relative to the depth "
        "camera from a recorded session of a board held still at several poses. Uses only "
        "poses where the board stood still, so free-running cameras calibrate as well as "
        "hardware-synchronized ones; validates on held-out poses.",
    )
    p.add_argument("session", metavar="SESSION.h5", help="calibration session (thermorig record)")
    p.add_argument(
        "--board",
        metavar="SPEC",
        help="board spec (default: the board the session names): checker:COLSxROWS:SQUARE_MM "
        "| coded:COLSxROWS:SQUARE_MM | charuco:SQUARESXxSQUARESY:SQUARE_MM:MARKER_MM:DICT",
    )
    p.add_argument("--out", required=True, metavar="RIG.json", help="rig file to write")
    p.add_argument("--report", metavar="DIR", help="also write a text and PNG report here")
    p.add_argument("--yaml", metavar="OUT.yaml", help="also write the rig as OpenCV YAML")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing output files (RIG.json, OUT.yaml, the report's files)",
    )
    p.add_argument(
        "--samples",
        type=int,
        default=3,
        metavar="N",
        help="frames averaged per still pose and camera (default 3)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that ``thermorig --help`` does not load OpenCV.
    from app.progress import StageBars
    from calibration.boards import parse_board
    from calibration.report import REPORT_PATTERNS, write_rig_report
    from calibration.rig_calibration import calibrate_session
    from calibration.rig_yaml import save_rig_yaml
    from drivers.session import SessionReader

    if args.samples < 1:
        raise CalibrateError(f"--samples {args.samples}: give at least 1 frame per pose")
    board = parse_board(args.board).spec if args.board else None
    out = Path(args.out)
    outputs = [file_output("--out", out, RIG_JSON_SUFFIXES)]
    if args.yaml:
        outputs.append(file_output("--yaml", args.yaml, RIG_YAML_SUFFIXES))
    if args.report:
        outputs.append(folder_output("--report", args.report, REPORT_PATTERNS))
    check_outputs(outputs, [args.session], overwrite=args.overwrite)
    bars = StageBars(args.quiet)
    try:
        with SessionReader(args.session) as reader:
            result = calibrate_session(reader, board, samples=args.samples, progress=bars)
    finally:
        bars.close()
    rig = result.to_rig()
    rig.save(out)
    if args.yaml:
        save_rig_yaml(rig, args.yaml)
    if args.report:
        write_rig_report(args.report, result)
    if not args.quiet:
        for name, res in result.intrinsics.items():
            print(
                f"{name}: {len(res.used)} poses used, {len(res.rejected)} rejected, "
                f"RMS {res.rms:.3f} px, held-out {res.heldout_rms:.3f} px"
            )
        for name, pair in result.pairs.items():
            kind = "" if pair.fitted else " (checked)"
            print(
                f"{name}{kind}: {len(pair.used)} poses, RMS {pair.rms:.3f} px, "
                f"held-out {pair.heldout_rms:.3f} px"
            )
        print(f"rig -> {out}" + (f", {args.yaml}" if args.yaml else ""))
    return 0
