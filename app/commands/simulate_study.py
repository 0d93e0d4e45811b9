"""``thermorig simulate-study DIR --subjects N --seconds S --scene ...``: a synthetic
study of varied subjects, each in its own sessions, with a ``study.json`` index."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands.arguments import positive, whole
from app.progress import progress_bar
from app.study.generate import SCENE_CHOICES, default_workers, generate_study, plan
from drivers import stop_request
from drivers.stop_request import Interrupted


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate-study",
        help="render a synthetic study: N varied subjects, their sessions, a study.json index",
        description="Render synthetic sessions of N subjects who differ (body, girth, skin "
        "temperature, clothing, pace), each session in its own rig placement and room, to "
        "DIR/<subject>/<scene>[-k].h5 with the index DIR/study.json (docs/formats/study.md)."
        " Refuses a DIR that already holds a study index or any of the sessions.",
    )
    p.add_argument("dir", metavar="DIR", type=Path)
    p.add_argument("--subjects", type=whole("subjects", 1), required=True, help="how many")
    p.add_argument("--seconds", type=positive("s"), required=True, help="each session's length")
    p.add_argument("--scene", choices=SCENE_CHOICES, default="cycling")
    p.add_argument(
        "--seed", type=whole("seed", 0), default=0, help="study seed (0: subjects 0..N-1)"
    )
    p.add_argument(
        "--sessions-per-subject",
        type=whole("sessions", 1),
        default=1,
        metavar="K",
        help="sessions of each subject per scene, each in its own setup (default 1)",
    )
    p.add_argument(
        "--workers",
        type=whole("processes", 1),
        default=None,
        help="processes rendering sessions at once (default: one per core)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    jobs = plan(
        args.dir, args.subjects, args.seconds, args.scene, args.seed, args.sessions_per_subject
    )
    workers = args.workers or default_workers(len(jobs))
    generator = {
        "command": "simulate-study",
        "subjects": args.subjects,
        "seconds": args.seconds,
        "scene": args.scene,
        "seed": args.seed,
        "sessions_per_subject": args.sessions_per_subject,
    }
    total = len(jobs) * args.seconds
    with progress_bar(total, f"study {args.dir.name}", unit="s", quiet=args.quiet) as bar:

        def on_progress(seconds: float, _total: float) -> None:
            bar.n = seconds
            bar.refresh()

        study = generate_study(
            args.dir, jobs, workers=workers, generator=generator, progress=on_progress
        )
    made = len(study.sessions())
    signum = stop_request.requested()
    if signum is not None:
        raise Interrupted(signum, f"{made} of {len(jobs)} sessions whole, index marked incomplete")
    print(f"wrote {args.dir}: {len(study.subjects)} subjects, {made} sessions, {INDEX}")
    return 0


INDEX = "study.json"
