"""``thermorig record OUT.h5 --source SPEC``: record any source to a session file."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands.arguments import positive
from app.commands.recording import format_summary, record_with_progress
from app.progress import progress_bar
from drivers.errors import SourceError
from drivers.recording import check_output
from drivers.session import ACTIVITIES
from drivers.sources import SCHEME_HELP, open_source, parse_spec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record",
        help="record a source (cameras, a file, the synthetic rig) to a session file",
        description="Record every frame of a source into a thermorig session (HDF5, SWMR: "
        "a crash loses at most about a second). Sources: " + "; ".join(SCHEME_HELP.values()),
    )
    p.add_argument("out", metavar="OUT.h5", type=Path)
    p.add_argument("--source", required=True, metavar="SPEC", help="e.g. synthetic:cycling")
    p.add_argument(
        "--seconds",
        type=positive(),
        help="stop after N seconds (default: until Ctrl-C or the source ends)",
    )
    p.add_argument("--activity", choices=ACTIVITIES, help="default: what the source says")
    p.add_argument("--subject", default="", help="subject id (avoid names: pseudonymise)")
    p.add_argument("--notes", default="")
    p.add_argument("--codec", default="blosc2-lz4", help="blosc2-lz4 (default), lzf, gzip, none")
    p.add_argument(
        "--fast",
        action="store_true",
        help="files and synthetic sources: read as fast as possible, not at their own pace",
    )
    p.add_argument("--overwrite", action="store_true", help="replace OUT.h5 if it exists")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _prewarm(driver, quiet: bool) -> None:
    """A live synthetic source renders its cycle once up front, so the recording that
    follows gets every frame at full rate instead of dropping frames while it renders."""
    warm = getattr(driver, "prewarm", None)
    if warm is None or not getattr(driver, "realtime", False):
        return
    with progress_bar(
        None, desc="rendering the synthetic scene once", unit="states", quiet=quiet
    ) as bar:

        def tick(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        warm(progress=tick)


def run(args: argparse.Namespace) -> int:
    # A file or folder the source reads (replay:S.h5, rsbag:..., flir-jpeg:DIR) is an input.
    check_output(args.out, args.overwrite, inputs=[parse_spec(args.source)[1]])
    options = {"realtime": False} if args.fast else {}
    try:
        driver = open_source(args.source, **options)
    except TypeError as exc:
        if "realtime" not in str(exc):
            raise
        raise SourceError(
            f"source '{args.source}' cannot be read faster than real time; drop --fast"
        ) from None
    try:
        _prewarm(driver, quiet=args.quiet)
        summary = record_with_progress(
            driver,
            args.out,
            seconds=args.seconds,
            quiet=args.quiet,
            overwrite=args.overwrite,
            activity=args.activity or driver.info.activity,
            subject=args.subject,
            notes=args.notes,
            codec=args.codec,
        )
    finally:
        driver.close()
    print(format_summary(summary))
    return 0
