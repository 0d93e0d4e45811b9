"""``thermorig info SESSION.h5 [--json]``."""

from __future__ import annotations

import argparse
import json

from drivers.session_info import describe_session, format_session


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="describe a session file: streams, frame counts, measured fps, sync, truth",
        description="Describe a thermorig session file (HDF5). Figures are measured from "
        "the recorded timestamps.",
    )
    p.add_argument("session", metavar="SESSION.h5")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    d = describe_session(args.session)
    print(json.dumps(d, indent=2) if args.json else format_session(d))
    return 0
