"""``thermorig calibrate-images DIR --board SPEC --camera NAME --out RIG.json [--report DIR]``
and its rig form ``calibrate-images --camera NAME=DIR --camera NAME=DIR ... --board SPEC
--out RIG.json [--match name|time] [--reference NAME]``.

Parses the arguments and calls :func:`calibration.images.calibrate_folder` (one camera's
intrinsics from a folder of board images) or :func:`calibration.stills_rig.calibrate_stills`
(a rig from one folder per camera), then writes the rig file and optionally a report.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path

from app.progress import lazy_progress
from drivers.errors import ThermorigError
from drivers.outputs import RIG_JSON_SUFFIXES, check_outputs, file_output, folder_output
from drivers.types import STREAM_KINDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate-images",
        help="calibrate a camera (DIR) or a rig (--camera NAME=DIR ...) from folders of board images",
        description="Detect the board in every image of DIR (thermal-aware: 16-bit, "
        "colour-mapped 8-bit, low contrast, either polarity), fit the camera model with "
        "outlier views dropped, validate on held-out views and write a one-camera rig "
        "file. With --camera NAME=DIR for two or more cameras instead of DIR: images "
        "are matched across the folders (--match), every camera's intrinsics and its "
        "pose relative to the reference are fitted, and a plain checkerboard's corner "
        "numbering is made consistent between cameras view by view.",
    )
    p.add_argument(
        "folder", metavar="DIR", nargs="?", help="folder of images (png, jpg, tif; 8 or 16 bit)"
    )
    p.add_argument(
        "--board",
        required=True,
        metavar="SPEC",
        help="checker:COLSxROWS:SQUARE_MM (inner corners) | "
        "charuco:SQUARESXxSQUARESY:SQUARE_MM:MARKER_MM:DICT | coded:COLSxROWS:SQUARE_MM",
    )
    p.add_argument(
        "--camera",
        action="append",
        metavar="NAME[=DIR]",
        help="with DIR: the stream name (default thermal); without: NAME=DIR, once per "
        "camera of the rig (depth: its IR images; thermal, color, ir; any other name: "
        "thermal, or colour if its images are colour photographs)",
    )
    p.add_argument(
        "--match",
        choices=("name", "time"),
        default="name",
        help="rig form: match images by the digits in their names (default) or by the time "
        "they were taken (EXIF, else file time)",
    )
    p.add_argument(
        "--reference", metavar="NAME", help="rig form: the camera the others are posed to"
    )
    p.add_argument("--json", action="store_true", help="print the quality figures as JSON")
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


def _rig_folders(cameras: list[str]) -> dict[str, Path]:
    folders: dict[str, Path] = {}
    for text in cameras:
        name, sep, folder = text.partition("=")
        if not sep or not name.strip() or not folder.strip():
            raise ThermorigError(
                f"--camera {text}: give NAME=DIR for each camera, or one folder DIR and "
                "--camera NAME"
            )
        if name.strip() in folders:
            raise ThermorigError(f"--camera {name.strip()} is given twice")
        folders[name.strip()] = Path(folder.strip())
    if len(folders) < 2:
        raise ThermorigError("a rig needs two or more --camera NAME=DIR (one camera: DIR)")
    return folders


def run(args: argparse.Namespace) -> int:
    if args.folder is None:
        return run_rig(args)
    cameras = args.camera or ["thermal"]
    if len(cameras) > 1 or "=" in cameras[0]:
        raise ThermorigError(
            "give either one folder DIR with --camera NAME, or --camera NAME=DIR per camera"
        )
    args.camera = cameras[0]
    return run_one(args)


def run_rig(args: argparse.Namespace) -> int:
    """The rig form: one folder per camera."""
    from calibration.boards import parse_board
    from calibration.images import board_images
    from calibration.report import REPORT_PATTERNS, write_rig_report
    from calibration.stills_rig import calibrate_stills

    folders = _rig_folders(args.camera or [])
    board = parse_board(args.board)
    out = Path(args.out)
    outputs = [file_output("--out", out, RIG_JSON_SUFFIXES)]
    if args.report:
        outputs.append(folder_output("--report", args.report, REPORT_PATTERNS))
    inputs = [p for f in folders.values() for p in (f, *board_images(f))]
    check_outputs(outputs, inputs, overwrite=args.overwrite)
    with ExitStack() as stack:
        bar = lazy_progress(stack, "detecting", unit="img", quiet=args.quiet or args.json)
        cal = calibrate_stills(
            folders, board, args.reference, args.match, lambda _s, d, t: bar(d, t)
        )
    if cal.unreadable:
        print(
            "thermorig: left out "
            + "; ".join(f"{c}: {', '.join(u[:5])}" for c, u in cal.unreadable.items()),
            file=sys.stderr,
        )
    rig = cal.result.to_rig()
    rig.quality = cal.quality()
    rig.save(out)
    if args.report:
        write_rig_report(args.report, cal.result)
    if args.json:
        print(json.dumps({"rig": str(out), **rig.quality}, indent=1))
    elif not args.quiet:
        q = rig.quality
        for name, c in q["intrinsics"].items():
            print(
                f"{name}: board in {c['views_found']}/{q['stills'][name]} images, "
                f"{c['views_used']} views used, RMS {c['rms']} px, held-out {c['heldout_rms']} px"
            )
        for name, p in q["pairs"].items():
            how = "fitted" if p["fitted"] else "through the reference"
            print(
                f"{name} ({how}): {p['views_used']} views, RMS {p['rms']} px, "
                f"held-out {p['heldout_rms']} px"
            )
        for name, files in q["renumbered_views"].items():
            print(
                f"{name}: corner numbering turned to agree with the reference in {', '.join(files)}"
            )
        print(f"-> {out}")
    return 0


def run_one(args: argparse.Namespace) -> int:
    """The one-camera form: a folder of one camera's images."""
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
    if args.json:
        print(json.dumps({"rig": str(out), "intrinsics": {args.camera: cal.quality}}, indent=1))
    elif not args.quiet:
        q, result = cal.quality, cal.result
        print(
            f"{args.camera}: board in {q['board_found']}/{cal.images} images, "
            f"{q['views_used']} views used, {q['views_rejected']} rejected, "
            f"RMS {result.rms:.3f} px, held-out {result.heldout_rms:.3f} px -> {out}"
        )
    return 0
