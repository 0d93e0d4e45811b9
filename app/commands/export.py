"""``thermorig export SESSION.h5 ... --labels LABELS.h5 ... --format png|coco --out DIR``."""

from __future__ import annotations

import argparse
import json
import shlex
from contextlib import ExitStack
from pathlib import Path

from app.display import THERMAL_MAPS
from app.export.build import ExportOptions, export, parse_formats
from app.export.inputs import DEFAULT_STATUSES
from app.export.split import SPLIT_BY, parse_split
from app.labels.sidecar import STATUS_NAMES, default_labels_path, parse_statuses
from app.progress import lazy_progress

_SPLIT_HELP = (
    "splits, never by frame: fractions, e.g. train=0.8,val=0.1,test=0.1 — each subject"
    " (or session, see --split-by) goes whole to one split, chosen by a SHA-256 hash of its"
    " id, so the same on every machine and run and across separate exports; or lists, e.g."
    " test=subjA,subjB,val=subjC — listed ids go there, all others to train."
    " Default: everything in train"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export reviewed labels for training: 16-bit PNG, indexed masks, COCO RLE",
        description="Export the frames whose review status is chosen (default accepted and"
        " corrected) of one or more sessions: the thermal frame as 16-bit PNG in centikelvin"
        " (the session's exact values), an 8-bit colour-mapped preview, the mask as indexed"
        " PNG (pixel = class id, 255 unlabeled) and/or COCO annotations with RLE masks, split"
        " by subject or session, with manifest.json (provenance of every file). The export is"
        " built beside DIR and appears whole or not at all; an existing non-empty DIR is"
        " never touched. Layout: DIR/<split>/{images,previews,masks}/<session>_<frame>.png,"
        " DIR/annotations_<split>.json, DIR/manifest.json.",
    )
    p.add_argument("sessions", metavar="SESSION.h5", type=Path, nargs="+")
    p.add_argument(
        "--labels",
        type=Path,
        nargs="+",
        metavar="LABELS.h5",
        help="label file of each session, in the same order (made by autolabel, infer or the"
        " review window; default: SESSION.labels.h5 beside each session); checked against"
        " the session's hash",
    )
    add_options(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def add_options(p: argparse.ArgumentParser) -> None:
    """Where to, what and how: shared with ``thermorig batch export``."""
    p.add_argument(
        "--format",
        default="png",
        metavar="png|coco|png,coco",
        help="png: images, previews and indexed mask PNGs; coco: images, previews and"
        " annotations_<split>.json with RLE masks (one annotation per class and frame);"
        " default png",
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="new or empty folder")
    p.add_argument(
        "--status",
        default=",".join(DEFAULT_STATUSES),
        help=f"review statuses to export, among {', '.join(STATUS_NAMES)}"
        f" (default {','.join(DEFAULT_STATUSES)})",
    )
    p.add_argument("--split", action="append", metavar="RULE", help=_SPLIT_HELP)
    p.add_argument(
        "--split-by",
        choices=SPLIT_BY,
        default="subject",
        help="what is kept whole in one split: the session's subject (recorded with --subject;"
        " default) or the session (its file name without .h5)",
    )
    p.add_argument("--stream", default="thermal", help="stream to export (default thermal)")
    p.add_argument(
        "--colormap", choices=THERMAL_MAPS, default=THERMAL_MAPS[0], help="of the previews"
    )


def command_line(args: argparse.Namespace, head: list[str] | None = None) -> str:
    """The export's command line, rebuilt from its parsed arguments (complete and
    normalised, also when called in-process), for the manifest; ``head`` replaces
    ``thermorig export SESSIONS --labels LABELS`` (``thermorig batch export STUDY``)."""
    parts = head or [
        "thermorig", "export", *map(str, args.sessions), "--labels", *map(str, args.labels)
    ]  # fmt: skip
    parts += ["--format", args.format, "--out", str(args.out), "--status", args.status]
    for rule in args.split or []:
        parts += ["--split", rule]
    parts += ["--split-by", args.split_by, "--stream", args.stream, "--colormap", args.colormap]
    return shlex.join(parts)


def options(args: argparse.Namespace, command: str) -> ExportOptions:
    """The export's options from the arguments ``add_options`` made."""
    return ExportOptions(
        formats=parse_formats(args.format),
        statuses=parse_statuses(args.status),
        split=parse_split(args.split, args.split_by),
        stream=args.stream,
        colormap=args.colormap,
        command=command,
    )


def run(args: argparse.Namespace) -> int:
    args.labels = args.labels or [default_labels_path(s) for s in args.sessions]
    opts = options(args, command_line(args))
    with ExitStack() as stack:
        progress = lazy_progress(stack, f"export {args.out.name}", "frames", args.quiet)
        summary = export(args.sessions, args.labels, args.out, opts, progress)
    d = summary.to_dict()
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    splits = ", ".join(f"{name} {c['frames']}" for name, c in d["counts"].items())
    print(
        f"wrote {args.out}: {d['frames']} {args.stream} frames of {d['sessions']} session(s)"
        f" ({splits}) as {'+'.join(opts.formats)} in {d['seconds']} s"
    )
    return 0
