"""``thermorig calibrate-images DIR --board SPEC --camera NAME --out RIG.json [--report DIR]``.

One camera's intrinsics from a folder of board images (PNG, JPEG or TIFF, 8 or 16
bit): detect the board in each (thermal-aware), fit with outlier views dropped,
check on held-out views, write a one-camera rig file and optionally a report.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from drivers.errors import ThermorigError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
STREAM_KINDS = ("thermal", "depth", "color", "ir")


class CalibrateImagesError(ThermorigError):
    """A folder, image set or output path that cannot be calibrated from or written."""


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
        "--kind",
        choices=STREAM_KINDS,
        help="how to read the images (default: the camera name if it is a stream kind, else thermal)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise CalibrateImagesError(f"folder not found: {folder}; give a folder of board images")
    files = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    if not files:
        raise CalibrateImagesError(
            f"no images in {folder} (looked for {', '.join(IMAGE_SUFFIXES)}); "
            "point DIR at the folder that holds the board images"
        )
    return files


def run(args: argparse.Namespace) -> int:
    # Imported here so that ``thermorig --help`` does not load OpenCV.
    import cv2
    from tqdm import tqdm

    from calibration.boards import parse_board
    from calibration.detect import detect
    from calibration.intrinsics import calibrate_intrinsics
    from calibration.report import write_report
    from calibration.rig import Rig

    board = parse_board(args.board)
    folder = Path(args.folder)
    files = _images(folder)
    out = Path(args.out)
    if not out.parent.resolve().is_dir():
        raise CalibrateImagesError(
            f"folder for --out does not exist: {out.parent}; create it first"
        )
    kind = args.kind or (args.camera if args.camera in STREAM_KINDS else "thermal")

    detections, unreadable = [], []
    bar = tqdm(files, desc="detecting", unit="img", file=sys.stderr, disable=args.quiet)
    for path in bar:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            unreadable.append(path.name)
            continue
        if image.ndim == 3:  # OpenCV reads BGR(A); the detector expects RGB
            image = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2RGB)
        det = detect(image, board, kind=kind, source=str(path))
        if det is not None:
            detections.append(det)
        bar.set_postfix(found=len(detections), refresh=False)
    bar.close()
    if not detections:
        raise CalibrateImagesError(
            f"board {board.spec} not found in any of {len(files)} images in {folder}; "
            "check --board (checker and coded count inner corners, charuco counts squares)"
        )
    # A folder may hold images of another size (a print file, another camera mode):
    # calibrate the size most views share and say what was left out.
    size, _ = Counter(d.image_size for d in detections).most_common(1)[0]
    other = [d for d in detections if d.image_size != size]
    detections = [d for d in detections if d.image_size == size]
    if other:
        print(
            f"thermorig: skipped {len(other)} image(s) not of size {size[0]}x{size[1]}: "
            + ", ".join(Path(d.source).name for d in other[:5]),
            file=sys.stderr,
        )
    if unreadable:
        print(
            f"thermorig: could not read {len(unreadable)} file(s): {', '.join(unreadable[:5])}",
            file=sys.stderr,
        )

    result = calibrate_intrinsics(detections)
    quality = result.quality() | {"images": len(files), "board_found": len(detections) + len(other)}
    rig = Rig(
        cameras={args.camera: result.to_camera()},
        reference=args.camera,
        board=board.spec,
        quality={"intrinsics": {args.camera: quality}},
    )
    rig.save(out)
    if args.report:
        write_report(
            args.report,
            args.camera,
            result,
            detections,
            board,
            images_total=len(files) - len(other),
        )
    if not args.quiet:
        print(
            f"{args.camera}: board in {quality['board_found']}/{len(files)} images, "
            f"{quality['views_used']} views used, {quality['views_rejected']} rejected, "
            f"RMS {result.rms:.3f} px, held-out {result.heldout_rms:.3f} px -> {out}"
        )
    return 0
