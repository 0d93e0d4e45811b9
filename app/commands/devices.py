"""``thermorig devices [--json] [--network]``: the cameras connected now and how to
open them; GigE Vision cameras only with ``--network`` (finding them broadcasts)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "devices",
        help="list connected cameras (RealSense, UVC thermal, plain; GigE with --network), "
        "their modes and specs",
        description="List the cameras connected to this computer, the streams and modes "
        "each offers, and the source spec that opens it (for record/preview). Nothing is "
        "started, so this is quick and safe while another program uses a camera.",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--network",
        action="store_true",
        help="also look for GigE Vision cameras: broadcasts a discovery request on every "
        "network interface (needs Aravis: bash scripts/install gige)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drivers.discovery import NOTHING_FOUND, discover, format_devices

    devices = discover(network=True) if args.network else discover()
    if args.json:
        print(
            json.dumps(
                {
                    "devices": [d.to_dict() for d in devices],
                    "hint": "" if devices else NOTHING_FOUND,
                },
                indent=2,
            )
        )
    else:
        print(format_devices(devices))
    return 0
