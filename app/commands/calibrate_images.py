"""``thermorig calibrate-images DIR --board SPEC --camera NAME --out RIG.json [--report DIR]``.

Parses the arguments and calls :func:`calibration.images.calibrate_folder` (one camera's
intrinsics from a folder of board images), then writes the one-camera rig file and
optionally a report.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

from app.progress import lazy_progress
from drivers.outputs import RIG_JSON_SUFFIXES, check_outputs, file_output, folder_output
from drivers.types import STREAM_KINDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate-images",
        help="calibrate one camera's intrinsics from a folder of board images",
        description="Detect the board in every image of DIR (thermal-aware: 16-bit, "
        "low contrast, either polarity), fit the camera model with outlier views "
        "dropped, validate on held-out views and write a one-camera rig file.",
    )
    p.add_argument("folder", metavar="DIR", help="folder of images (png, jpg, tif; 8 or 16 bit)")
    p.add_argument(
        "--board",
        required=True,
        metavar="SPEC",
        help="checker:COLSxROWS:SQUARE_MM (inner corners) | "
        "charuco:SQUARESXxSQUARESY:SQUARE_MM:MARKER_MM:DICT | coded:COLSxROWS:SQUARE_MM",
    )
    p.add_argument(
        "--camera", default="thermal", metavar="NAME", help="stream name (default thermal)"
    )
    p.add_argument("--out", required=True, metavar="RIG.json", help="rig file to write")
    p.add_argument("--report", metavar="DIR", help="also write a text and PNG report here")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing output files (RIG.json, the report's files)",
    )
    p.add_argument(
        "--kind",
        choices=STREAM_KINDS,
        help="how to read the images (default: the camera name if it is a stream kind, else thermal)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that ``thermorig --help`` does not load OpenCV.
    from calibration.boards import parse_board
    from calibration.images import board_images, calibrate_folder
    from calibration.report import report_names, write_report

    board = parse_board(args.board)
    out = Path(args.out)
    outputs = [file_output("--out", out, RIG_JSON_SUFFIXES)]
    if args.report:
        outputs.append(folder_output("--report", args.report, report_names(args.camera)))
    folder = Path(args.folder)
    inputs = [folder, *board_images(folder)]
    check_outputs(outputs, inputs, overwrite=args.overwrite)
    kind = args.kind or (args.camera if args.camera in STREAM_KINDS else "thermal")
    with ExitStack() as stack:
        progress = lazy_progress(stack, "detecting", unit="img", quiet=args.quiet)
        cal = calibrate_folder(args.folder, board, args.camera, kind, progress)
    notes = []  # one stderr line for all of them
    if cal.other_size:
        size = cal.detections[0].image_size
        notes.append(
            f"skipped {len(cal.other_size)} image(s) not of size {size[0]}x{size[1]}: "
            + ", ".join(cal.other_size[:5])
        )
    if cal.unreadable:
        notes.append(
            f"could not read {len(cal.unreadable)} file(s): {', '.join(cal.unreadable[:5])}"
        )
    if notes:
        print(f"thermorig: {'; '.join(notes)}", file=sys.stderr)
    cal.to_rig(board).save(out)
    if args.report:
        write_report(
            args.report,
            args.camera,
            cal.result,
            cal.detections,
            board,
            images_total=cal.images - len(cal.other_size),
        )
    if not args.quiet:
        q, result = cal.quality, cal.result
        print(
            f"{args.camera}: board in {q['board_found']}/{cal.images} images, "
            f"{q['views_used']} views used, {q['views_rejected']} rejected, "
            f"RMS {result.rms:.3f} px, held-out {result.heldout_rms:.3f} px -> {out}"
        )
    return 0
