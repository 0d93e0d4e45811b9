"""The study report: ``STUDY/batch-report.json`` and ``STUDY/batch-report.md``.

One file per study, holding the latest run of each batch command (a run of
``autolabel`` then one of ``stats`` leave both): per session its status, frames,
labeled share, IoU where the session has truth, the rig check, seconds, workers and,
for a failed session, its one-line reason. Rewritten atomically by each run; a file
of that name that thermorig did not write is refused, never replaced.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.batch.engine import Batch, SessionRecord
from drivers.atomic import atomic_write
from drivers.errors import ThermorigError

FORMAT = "thermorig-batch-report"
JSON_NAME, TABLE_NAME = "batch-report.json", "batch-report.md"


def _existing(root: Path) -> dict[str, Any]:
    """The report this study has (an empty one if none); refuses a foreign file."""
    runs: dict[str, Any] = {}
    for name in (JSON_NAME, TABLE_NAME):
        p = root / name
        if not p.exists():
            continue
        if name == TABLE_NAME:
            if not p.read_text(errors="replace").startswith("# thermorig batch report"):
                raise ThermorigError(f"{p} exists and is not a thermorig batch report; move it")
            continue
        try:
            d = json.loads(p.read_text())
            assert d.get("format") == FORMAT
            runs = dict(d.get("runs", {}))
        except (OSError, ValueError, AssertionError, AttributeError):
            raise ThermorigError(
                f"{p} exists and is not a thermorig batch report; move it"
            ) from None
    return runs


def check_report(root: Path) -> None:
    """Before a run: refuse now, not after an hour, a report file we may not replace."""
    _existing(root)


def _row(rec: SessionRecord, root: Path) -> dict[str, Any]:
    r = rec.result
    rows = r.get("rows", rec.rows)
    labeled = r.get("written", 0) + r.get("kept_reviewed", 0)
    try:
        name = str(rec.session.resolve().relative_to(root.resolve()))
    except ValueError:
        name = str(rec.session)
    return {
        "session": name,
        "status": rec.status,
        "frames": rows,
        "labeled_fraction": round(labeled / rows, 4) if rows and "written" in r else None,
        "mean_iou": r.get("mean_iou"),
        "rig_check": r.get("rig_check") if isinstance(r.get("rig_check"), str) else r.get("ok"),
        "seconds": round(rec.seconds, 2),
        "workers": sorted(rec.workers),
        "error": rec.error or None,
        "result": r,
    }


def report(batch: Batch, scheduler: str) -> dict[str, Any]:
    """This run's section of the report."""
    rows = [_row(r, batch.root) for r in batch.records]
    counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "skipped", "failed")}
    return {
        "command": batch.work.command,
        "options": batch.state.folder.name,
        "scheduler": scheduler,
        "seconds": round(batch.seconds, 2),
        "sessions": len(rows),
        **counts,
        "finished": batch.finished,
        "rows": rows,
    }


def table(run: dict[str, Any]) -> str:
    """The readable table (Markdown) of one run."""
    lines = [
        f"## {run['command']}: {run['done']} done, {run['skipped']} skipped (done before),"
        f" {run['failed']} failed of {run['sessions']} sessions in {run['seconds']:.0f} s",
        "",
        "| session | status | frames | labeled | IoU | rig | s | worker | reason |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    if run.get("finished"):
        lines[1:1] = ["", ", ".join(f"{k}: {v}" for k, v in run["finished"].items())]
    for r in run["rows"]:
        lab = "" if r["labeled_fraction"] is None else f"{100 * r['labeled_fraction']:.0f} %"
        iou = "" if r["mean_iou"] is None else f"{r['mean_iou']:.3f}"
        rig = "" if r["rig_check"] is None else str(r["rig_check"])
        lines.append(
            f"| {r['session']} | {r['status']} | {r['frames']} | {lab} | {iou} | {rig} |"
            f" {r['seconds']:.1f} | {', '.join(r['workers'])} | {r['error'] or ''} |"
        )
    return "\n".join(lines) + "\n"


def write_report(root: Path, run: dict[str, Any]) -> Path:
    runs = _existing(root)
    runs[run["command"]] = run
    with atomic_write(root / TABLE_NAME) as f:
        f.write("# thermorig batch report\n\n" + "\n".join(table(r) for r in runs.values()))
    with atomic_write(root / JSON_NAME) as f:
        json.dump({"format": FORMAT, "version": 1, "runs": runs}, f, indent=1, default=str)
    return root / JSON_NAME
