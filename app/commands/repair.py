"""``thermorig repair SESSION.h5 [--out NEW.h5]``: a killed recording made a normal file."""

from __future__ import annotations

import argparse
import json
from contextlib import ExitStack
from pathlib import Path

from app.progress import lazy_progress
from drivers.session_repair import BACKUP_SUFFIX, RepairResult, repair_session


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "repair",
        help="make a recording that was killed or crashed a normal, closed session file",
        description="A recorder killed mid-way (kill -9, crash, power loss) leaves its session "
        "marked 'open for write': thermorig reads it, but h5py, HDFView, MATLAB and pandas "
        "refuse it. repair writes a normal closed copy with the same layout and compression, "
        "every complete frame kept (copied byte for byte, rows not complete left out) "
        "and the interruption recorded as an event; it checks the copy, then puts it in "
        f"place of the original, whose bytes stay beside it as SESSION.h5{BACKUP_SUFFIX}. "
        "With --out the copy is written there instead and the original is left alone. "
        "A session that was closed normally is left unchanged; a session still being "
        "recorded is refused. `thermorig info` says when a file needs repair.",
    )
    p.add_argument("session", metavar="SESSION.h5", type=Path)
    p.add_argument(
        "--out",
        type=Path,
        metavar="NEW.h5",
        help="write the repaired session here (a new file) and leave SESSION.h5 untouched",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def format_result(r: RepairResult) -> str:
    """The one line ``repair`` prints."""
    if not r.repaired:
        return f"{r.path} needs no repair: it was closed normally; nothing changed"
    kept = ", ".join(f"{name} {n}" for name, n in r.frames.items())
    where = (
        f"repaired {r.path}"
        if r.out == r.path
        else f"wrote the repaired {r.path} to {r.out} ({r.path} left unchanged)"
    )
    line = (
        f"{where}: complete frames kept {kept}; {r.bytes_after / 1e6:.1f} MB in {r.seconds:.1f} s"
    )
    if r.backup is not None:
        line += f"; original kept as {r.backup}: delete it once you have checked the repaired file"
    return line


def run(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        progress = lazy_progress(stack, f"repair {args.session.name}", "chunks", args.quiet)
        result = repair_session(args.session, args.out, progress)
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_result(result))
    return 0
