"""``thermorig simulate-stills DIR --board SPEC [--views N] [--thermal-colormap NAME] ...``.

Parses the arguments and calls :func:`drivers.synthetic.stills.write_stills`: folders
of board stills as camera vendors' tools leave them (thermal, color, ir), matched by
the number in their names, with the true rig in ``DIR/truth.json``.
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from pathlib import Path

from app.commands.arguments import whole
from app.progress import lazy_progress
from drivers.colormaps import ALIASES, STOPS
from drivers.outputs import check_outputs, folder_output


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}': give WxH, e.g. 160x120") from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise argparse.ArgumentTypeError(f"'{text}': width and height are 16 to 4096 pixels")
    return w, h


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate-stills",
        help="write folders of synthetic board stills (thermal, color, ir) with the true rig",
        description="Render the synthetic calibration scene's board poses as the stills a "
        "lab's camera tools save: DIR/thermal (16-bit centikelvin PNG, or 8-bit "
        "colour-mapped with --thermal-colormap), DIR/color (RGB), DIR/ir (the depth "
        "camera's 16-bit IR), one still_NNN.png per pose in each, and DIR/truth.json "
        "(the true rig, the board, every still's board pose).",
    )
    p.add_argument("out", metavar="DIR", type=Path, help="new or empty folder")
    p.add_argument(
        "--board",
        default="checker:8x6:40",
        metavar="SPEC",
        help="checker:COLSxROWS:SQUARE_MM (inner corners; COLS+ROWS even is 180°-symmetric),"
        " coded:... or charuco:... (default checker:8x6:40)",
    )
    p.add_argument("--views", type=whole(minimum=3), default=12, help="stills (3-20, default 12)")
    p.add_argument(
        "--thermal-colormap",
        choices=[*STOPS, *ALIASES],
        metavar="NAME",
        help=f"save thermal as 8-bit RGB through this map ({', '.join([*STOPS, *ALIASES])})",
    )
    p.add_argument(
        "--invert-thermal",
        action="store_true",
        help="mirror the thermal contrast (the board's bare squares warm)",
    )
    p.add_argument(
        "--roll",
        type=float,
        default=0.0,
        metavar="DEG",
        help="turn every other board pose by DEG in its plane (e.g. 90)",
    )
    p.add_argument("--thermal-size", type=_size, default=(640, 512), metavar="WxH")
    p.add_argument("--color-size", type=_size, default=(1280, 720), metavar="WxH")
    p.add_argument("--depth-size", type=_size, default=(640, 480), metavar="WxH")
    p.add_argument("--seed", type=int, default=0, help="sensor noise seed")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drivers.synthetic.stills import StillsOptions, write_stills

    check_outputs([folder_output("DIR", args.out)], [], overwrite=False)
    options = StillsOptions(
        board=args.board,
        views=args.views,
        thermal_colormap=args.thermal_colormap,
        invert_thermal=args.invert_thermal,
        thermal_size=args.thermal_size,
        color_size=args.color_size,
        depth_size=args.depth_size,
        roll_deg=args.roll,
        seed=args.seed,
    )
    with ExitStack() as stack:
        progress = lazy_progress(stack, "rendering", unit="still", quiet=args.quiet)
        truth = write_stills(args.out, options, progress)
    if not args.quiet:
        print(f"{len(truth['poses'])} stills of {truth['board']} per camera -> {args.out}")
    return 0
