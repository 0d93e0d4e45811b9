"""``thermorig stats SESSION.h5 --labels LABELS.h5 [--csv OUT.csv]``: temperature curves;
``thermorig stats --review-time LABELS.h5 [...]``: review seconds per frame."""

from __future__ import annotations

import argparse
import json
from contextlib import ExitStack
from pathlib import Path

from app.analysis.curves import DEFAULT_ERODE_PX, compute_curves, summarize
from app.analysis.review_effort import expand, report_lines, review_time_report
from app.commands.arguments import statuses, whole
from app.labels.sidecar import LabelsError, default_labels_path
from app.progress import lazy_progress
from drivers.outputs import CSV_SUFFIXES, check_outputs, file_output

_pixels = whole("pixels")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stats",
        help="temperature curves of the labeled regions (e.g. calf skin over a test)",
        description="Per labeled class and frame the mean, median and max temperature (°C)"
        " inside the class mask, eroded by --erode pixels so that the silhouette, where"
        " optics and label edges mix skin with background, does not count. Prints per"
        " class the start and end (medians over up to 5 s), min, max and the robust"
        " (Theil-Sen) trend in °C/min; --csv writes every frame. Rejected frames are left"
        " out (NaN). The session is not modified. With --review-time, the files are label"
        " files and it reports the annotation effort instead: active review seconds per"
        " frame by the label source the reviewer started from (none = from scratch,"
        " projected, model), count, median, mean and total per stream.",
    )
    p.add_argument(
        "session",
        metavar="SESSION.h5",
        type=Path,
        nargs="+",
        help="the session (with --review-time: label files LABELS.h5, or globs of them)",
    )
    p.add_argument(
        "--review-time",
        action="store_true",
        help="report review seconds per frame of the label files given, by starting source",
    )
    p.add_argument(
        "--labels",
        type=Path,
        metavar="LABELS.h5",
        help="label file (default: SESSION.labels.h5 beside the session)",
    )
    p.add_argument("--csv", type=Path, metavar="OUT.csv", help="write the curves to a CSV file")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.csv if it exists")
    add_options(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def add_options(p: argparse.ArgumentParser) -> None:
    """Which frames and pixels count: shared with ``thermorig batch stats``."""
    p.add_argument("--stream", default="thermal", help="thermal stream (default thermal)")
    p.add_argument(
        "--status",
        type=statuses,
        metavar="S[,S...]",
        help="only frames of these review statuses (unreviewed, accepted, corrected,"
        " rejected); default every status but rejected",
    )
    p.add_argument(
        "--erode",
        type=_pixels,
        default=DEFAULT_ERODE_PX,
        metavar="PX",
        help=f"shrink each mask by PX pixels first (default {DEFAULT_ERODE_PX}; 0 = as drawn)",
    )


def run(args: argparse.Namespace) -> int:
    if args.review_time:
        return _review_time(args)
    if len(args.session) > 1:
        raise LabelsError("stats takes one session (several files only with --review-time)")
    args.session = args.session[0]
    args.labels = args.labels or default_labels_path(args.session)
    if args.csv is not None:
        check_outputs(
            [file_output("--csv", args.csv, CSV_SUFFIXES)],
            [args.session, args.labels],
            overwrite=args.overwrite,
        )
    with ExitStack() as stack:
        progress = lazy_progress(stack, f"stats {args.session.name}", "frames", args.quiet)
        curves = compute_curves(
            args.session,
            args.labels,
            args.stream,
            statuses=args.status,
            erode_px=args.erode,
            progress=progress,
        )
    if args.csv is not None:
        curves.to_csv(args.csv)
    rows = summarize(curves)
    if args.json:
        d = {
            "session": str(args.session),
            "labels": str(args.labels),
            "stream": args.stream,
            "erode_px": args.erode,
            "frames": len(curves),
            "csv": None if args.csv is None else str(args.csv),
            "classes": rows,
        }
        print(json.dumps(d, indent=2))
        return 0
    print(
        f"{args.session.name} ({args.stream}, {len(curves)} frames), labels {args.labels.name},"
        f" masks eroded by {args.erode} px; mean °C inside each class:"
    )
    print(
        f"{'class':16s} {'frames':>6s} {'start':>7s} {'end':>7s} {'min':>7s} {'max':>7s}"
        f" {'trend °C/min':>13s}"
    )
    for r in rows:
        if not r["frames"]:
            print(f"{r['class']:16s} {0:6d}   (never labeled in the frames counted)")
            continue
        trend = "-" if r["trend_c_per_min"] is None else f"{r['trend_c_per_min']:+.3f}"
        print(
            f"{r['class']:16s} {r['frames']:6d} {r['start_c']:7.2f} {r['end_c']:7.2f}"
            f" {r['min_c']:7.2f} {r['max_c']:7.2f} {trend:>13s}"
        )
    if args.csv is not None:
        print(f"wrote {args.csv}")
    return 0


def _review_time(args: argparse.Namespace) -> int:
    report = review_time_report(expand(args.session))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("\n".join(report_lines(report)))
    return 0
