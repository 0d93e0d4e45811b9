"""``thermorig simulate OUT.h5 --scene ... --seconds N``: a synthetic session with truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands.arguments import positive
from app.commands.recording import format_summary, record_with_progress
from drivers.recording import check_output
from drivers.sources import open_source

SCENES = ("cycling", "treadmill", "calibration")


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
        "--hw-sync", action="store_true", help="hardware-triggered capture: all cameras at once"
    )
    p.add_argument("--thermal-fps", type=positive(), default=30.0, help="thermal rate (e.g. 9)")
    p.add_argument("--codec", default="blosc2-lz4", help="blosc2-lz4 (default), lzf, gzip, none")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.h5 if it exists")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.out, args.overwrite)
    driver = open_source(
        f"synthetic:{args.scene}",
        seed=args.seed,
        realtime=False,
        duration=args.seconds,
        hw_sync=args.hw_sync,
        thermal_fps=args.thermal_fps,
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
            notes=f"synthetic:{args.scene} seed={args.seed} hw_sync={args.hw_sync}",
        )
    finally:
        driver.close()
    print(format_summary(summary))
    return 0
