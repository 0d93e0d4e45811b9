"""``thermorig simulate OUT.h5 --scene ... --seconds N``: a synthetic session with truth."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from app.commands.arguments import positive
from app.commands.recording import format_summary, record_with_progress
from drivers.recording import check_output
from drivers.sources import open_source

SCENES = ("cycling", "treadmill", "calibration")
#: Streams whose host clock ``--clock-error`` can put wrong (``ir`` is depth's camera).
CLOCK_STREAMS = ("thermal", "depth", "color")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="render a synthetic rig session (with ground truth) to a session file",
        description="Render the synthetic three-camera rig as fast as possible and record it, "
        "with its ground truth (true rig, class masks, keypoints, board poses).",
    )
    p.add_argument("out", metavar="OUT.h5", type=Path)
    p.add_argument("--scene", choices=SCENES, default="cycling")
    p.add_argument("--seconds", type=positive(), default=10.0, help="session length (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same session")
    p.add_argument(
        "--subject",
        type=int,
        default=-1,
        metavar="N",
        help="a varied subject: subject seed N (the same N, the same person), in a rig"
        " placement and room drawn from --seed (default: the reference mannequin)",
    )
    p.add_argument(
        "--hw-sync", action="store_true", help="hardware-triggered capture: all cameras at once"
    )
    p.add_argument("--thermal-fps", type=positive(), default=30.0, help="thermal rate (e.g. 9)")
    p.add_argument(
        "--clock-error",
        type=_clock_error,
        action="append",
        default=[],
        metavar="STREAM=MS",
        help="stamp STREAM's frames MS milliseconds late on the host clock (negative:"
        " early); what they show stays at the exposure; the truth keeps the error"
        " (repeatable; thermal, depth or color)",
    )
    p.add_argument("--codec", default="blosc2-lz4", help="blosc2-lz4 (default), lzf, gzip, none")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.h5 if it exists")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _clock_error(text: str) -> tuple[str, float]:
    stream, _, ms = text.partition("=")
    stream = stream.strip().lower()
    if stream not in CLOCK_STREAMS:
        raise argparse.ArgumentTypeError(
            f"'{text}': the stream is one of {', '.join(CLOCK_STREAMS)} (e.g. thermal=40)"
        )
    try:
        value = float(ms)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}': MS is milliseconds, e.g. thermal=40") from None
    if not math.isfinite(value) or abs(value) > 1000:
        raise argparse.ArgumentTypeError(f"'{text}': use -1000 to 1000 ms")
    return stream, value


def run(args: argparse.Namespace) -> int:
    check_output(args.out, args.overwrite)
    errors = {f"{stream}_clock_error_ms": ms for stream, ms in args.clock_error}
    driver = open_source(
        f"synthetic:{args.scene}",
        seed=args.seed,
        realtime=False,
        duration=args.seconds,
        hw_sync=args.hw_sync,
        thermal_fps=args.thermal_fps,
        subject=args.subject,
        **errors,
    )
    try:
        summary = record_with_progress(
            driver,
            args.out,
            seconds=None,
            expected_seconds=args.seconds,
            quiet=args.quiet,
            overwrite=args.overwrite,
            activity=args.scene,
            codec=args.codec,
            notes=f"synthetic:{args.scene} seed={args.seed} hw_sync={args.hw_sync}"
            + (f" subject={args.subject}" if args.subject >= 0 else ""),
        )
    finally:
        driver.close()
    print(format_summary(summary))
    return 0
