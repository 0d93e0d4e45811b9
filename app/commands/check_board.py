"""``thermorig check-board SESSION.h5 --rig RIG.json|truth [--frames N] [--json]``.

Is the rig still calibrated? From a few frames of a session in which the board is held
up, carry the board seen by one camera through the rig into the others and report the
transfer error per camera pair (:mod:`calibration.board_check`). Exit 0 when every
pair is within the threshold, 1 when one is over it (recalibrate), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json

from app.commands.arguments import whole

_frames = whole("frame sets", minimum=1)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-board",
        help="check the rig from a board held up in a session: transfer error per camera pair",
        description="Check whether the rig is still calibrated: in frames where the board "
        "stood still, pose it from each camera in turn, carry its corners through the rig "
        "into the other cameras and compare them with where those cameras found them. "
        "Prints the error per camera pair (median and 90th percentile, px). Exit 0 when "
        "every pair's median is within the threshold, 1 when one is over it (recalibrate).",
    )
    p.add_argument("session", metavar="SESSION.h5", help="a session showing the board")
    p.add_argument(
        "--rig",
        required=True,
        metavar="RIG.json|RIG.yaml|truth",
        help="rig file (JSON or YAML), or 'truth' for a synthetic session's true rig",
    )
    p.add_argument(
        "--board",
        metavar="SPEC",
        help="board spec (default: the board the session names, else the rig's)",
    )
    p.add_argument(
        "--frames",
        type=_frames,
        default=None,
        metavar="N",
        help="frame sets to search, spread over the still board poses (default 12)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that ``thermorig --help`` does not load OpenCV.
    from app.labels.autolabel import resolve_rig
    from app.progress import StageBars
    from calibration.board_check import DEFAULT_FRAMES, board_for, check_session
    from drivers.session import SessionReader

    bars = StageBars(args.quiet)
    try:
        with SessionReader(args.session) as reader:
            rig, rig_name = resolve_rig(args.rig, reader)
            board = board_for(reader, rig, args.board)
            result = check_session(
                reader, rig, board, frames=args.frames or DEFAULT_FRAMES, progress=bars
            )
    finally:
        bars.close()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(
            f"board {result.board} in {result.frames_used} of {result.frames_searched} frame "
            f"sets; rig: {rig_name}; threshold {result.threshold_px:g} px (median per pair)"
        )
        for name, pair in result.pairs.items():
            over = "  OVER" if pair.median_px > result.threshold_px else ""
            print(
                f"  {name:<15} median {pair.median_px:7.2f} px  p90 {pair.p90_px:7.2f} px"
                f"  {len(pair.errors)} corners{over}"
            )
        worst = result.worst()
        verdict = "ok" if result.ok else "recalibrate"
        print(f"{verdict}: worst pair {worst.name}, median {worst.median_px:.2f} px")
    return 0 if result.ok else 1
