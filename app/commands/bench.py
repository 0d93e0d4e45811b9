"""``thermorig bench [--json] [--only NAME] [--quick]``."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

from app.bench import format_table, load_benchmarks
from drivers.errors import ThermorigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure the hot paths (render, record, replay, sync, ...) with peers side by side",
        description="Run thermorig's benchmarks on this machine and print figures and ratios "
        "against peers run side by side in the same process.",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--only", action="append", metavar="NAME", help="run only this benchmark (repeatable)"
    )
    p.add_argument(
        "--quick", action="store_true", help="fewer repetitions (for tests and smoke runs)"
    )
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    benches = load_benchmarks()
    if args.list:
        print("\n".join(benches))
        return 0
    names = args.only or list(benches)
    unknown = [n for n in names if n not in benches]
    if unknown:
        raise ThermorigError(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(benches)}")
    results = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.extend(benches[name](args.quick))
    if args.json:
        doc = {
            "command": "thermorig bench"
            + "".join(f" --only {n}" for n in args.only or [])
            + (" --quick" if args.quick else ""),
            "machine": {
                "date": time.strftime("%Y-%m-%d"),
                "python": platform.python_version(),
                "cpu": platform.processor() or platform.machine(),
                "cores": os.cpu_count(),
                # At the end of the run: the figures' context (no load average on Windows).
                "load": round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None,
            },
            "results": [r.to_dict() for r in results],
        }
        print(json.dumps(doc, indent=2))
    else:
        print(format_table(results))
    return 0
