"""``thermorig batch autolabel|infer|check-rig|stats|export STUDY [the command's options]
[--scheduler local|tcp://HOST:PORT|FILE.json] [--workers N] [--chunk-frames N]``.

Parses the arguments (each sub-command takes its single command's own options) and
runs :class:`app.batch.engine.Batch` on a Dask client; the report goes to
``STUDY/batch-report.json`` and ``.md``. Exit 0 when every session is done, 1 when
some failed (their reasons are in the report), 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys

from app.batch.work import AutolabelWork, CheckRigWork, InferWork, StatsWork, Work
from app.commands import autolabel as autolabel_command
from app.commands import check_rig as check_rig_command
from app.commands import export as export_command
from app.commands import infer as infer_command
from app.commands import stats as stats_command
from app.commands.arguments import whole

COMMANDS = {
    "autolabel": (autolabel_command, "carry RGB labels into every thermal frame (autolabel)"),
    "infer": (infer_command, "run model packages over every session (infer)"),
    "check-rig": (check_rig_command, "check the rig against every session (check-rig)"),
    "stats": (stats_command, "temperature curves of every session's labels (stats)"),
    "export": (export_command, "one export folder of every session's reviewed labels (export)"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch",
        help="run autolabel, infer, check-rig, stats or export over a whole study (Dask)",
        description="Run one command over every session of a study: on this machine's cores"
        " (a local Dask cluster) or on an existing Dask scheduler. Long sessions are"
        " split into frame ranges; each finished range and session is remembered in"
        " STUDY/.thermorig-batch, so a re-run does only what is missing. A session that"
        " fails does not stop the others. Writes STUDY/batch-report.json and .md."
        " See docs/batch.md.",
    )
    cmds = p.add_subparsers(dest="batch_command", metavar="COMMAND", required=True)
    for name, (module, text) in COMMANDS.items():
        c = cmds.add_parser(name, help=text, description=f"thermorig {name} over a study.")
        c.add_argument(
            "study",
            metavar="STUDY",
            help="a study folder (its study.json, else every session below it), a session"
            " file, or a quoted glob of sessions",
        )
        module.add_options(c)
        c.add_argument(
            "--scheduler",
            default="local",
            metavar="local|tcp://HOST:PORT|FILE.json",
            help="local: a Dask cluster of this machine's cores (default); or an existing"
            " scheduler's address or scheduler file",
        )
        c.add_argument(
            "--workers",
            type=whole("workers", minimum=1),
            metavar="N",
            help="local worker processes (default: one per core)",
        )
        c.add_argument(
            "--chunk-frames",
            type=whole("frames", minimum=1),
            default=None,
            metavar="N",
            help="frames per task of a long session (default 900)",
        )
        c.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
        c.set_defaults(func=run)


def work_from(args: argparse.Namespace) -> Work:
    """The per-session work the arguments describe."""
    cmd = args.batch_command
    if cmd == "autolabel":
        return AutolabelWork(
            rig=args.rig,
            rgb_labels=args.rgb_labels,
            stream=args.stream,
            temporal=args.temporal,
            max_gap_s=args.max_gap_ms / 1000.0,
            force=args.force,
        )
    if cmd == "infer":
        models = tuple(args.model)
        return InferWork(models=models, stream=args.stream or "thermal", threads=args.threads or 1)
    if cmd == "check-rig":
        return CheckRigWork(rig=args.rig)
    if cmd == "export":
        from app.batch.export_work import ExportWork

        command = export_command.command_line(args, ["thermorig", "batch", "export", args.study])
        return ExportWork(out=args.out, options=export_command.options(args, command))
    return StatsWork(
        stream=args.stream,
        statuses=tuple(args.status) if args.status else None,
        erode_px=args.erode,
    )


def run(args: argparse.Namespace) -> int:
    from app.batch.cluster import dashboard, open_client
    from app.batch.engine import CHUNK_FRAMES, Batch
    from app.batch.report import check_report, report, table, write_report

    batch = Batch(
        work_from(args),
        args.study,
        chunk_frames=args.chunk_frames or CHUNK_FRAMES,
        quiet=args.quiet,
    )
    check_report(batch.root)
    with open_client(args.scheduler, args.workers) as client:
        link = dashboard(client)
        workers = len(client.scheduler_info().get("workers", {}))
        print(
            f"batch {batch.work.command}: {len(batch.records)} sessions on {workers} workers"
            f" ({args.scheduler})" + (f"; dashboard {link}" if link else ""),
            file=sys.stderr,
            flush=True,
        )
        batch.run(client)
    run_report = report(batch, args.scheduler)
    path = write_report(batch.root, run_report)
    print(table(run_report), end="")
    print(f"wrote {path} and {path.with_suffix('.md').name}")
    return 1 if run_report["failed"] else 0
