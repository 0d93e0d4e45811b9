"""Auto labels for a study's sessions, made the way a lab makes them: ``autolabel``
with a rig the lab calibrated (``thermorig calibrate`` of a calibration session
recorded with the same rig) and an RGB annotator that is not the truth.

The training experiments live in ``models/training``, which may not import ``app``;
the command calls this first and hands the experiment the folder. Each session's
labels go to ``FOLDER/<subject>/<scene>.labels.h5`` with a summary beside it
(``.autolabel.json``: what autolabel reported, the rig check, and — for a synthetic
session — the labels' IoU against its truth). A label file already there from an
earlier run is reused, never replaced (training checks it belongs to its session).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from app.analysis.quality import evaluate_labels
from app.labels.autolabel import AutolabelOptions, autolabel
from app.labels.rig_check import require_aligned
from drivers.atomic import atomic_write
from drivers.session import SessionReader
from models.training.experiments.common import ExperimentRequest, study_split
from models.training.experiments.thermocyclenet_data import auto_labels_path, summary_path
from models.training.from_labels import has_truth

Log = Callable[[str], None]


def autolabel_sessions(
    study: Path,
    sessions: Sequence[Path],
    folder: Path,
    rig: str | None,
    rgb_labels: str,
    force: bool,
    log: Log,
) -> list[Path]:
    """Label every session into ``folder`` (see the module docstring); the label files.

    ``rig``: a rig file, ``truth`` (a synthetic session's true rig: a test shortcut,
    recorded as such in the summary) or None (the rig recorded with each session).
    ``force`` skips the rig check, as ``thermorig autolabel --force`` does."""
    t0 = time.perf_counter()
    made = []
    for n, session in enumerate(sessions, 1):
        out = auto_labels_path(folder, study, session)
        made.append(out)
        if out.exists():
            log(f"auto labels {n}/{len(sessions)}: reusing {out}")
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        note = "rig not checked: the true rig" if rig == "truth" else "rig not checked: --force"
        if rig != "truth" and not force:
            note = require_aligned(session, rig)
        summary = autolabel(session, out, rig, rgb_labels, AutolabelOptions())
        d = {
            "session": str(session),
            "labels": str(out),
            "rig": summary.rig,
            "rgb_labels": rgb_labels,
            "rig_check": note,
            **{k: v for k, v in summary.to_dict().items() if k != "rig"},
        }
        with SessionReader(session) as s:
            synthetic = bool(s.truth)
        if synthetic:  # how good the auto labels are: the ceiling of what S learns
            quality = evaluate_labels(out, session)
            d["mean_iou_strict"] = quality["mean_iou_strict"]
            d["mean_iou_known"] = quality["mean_iou_known"]
        with atomic_write(summary_path(out)) as f:
            json.dump(d, f, indent=2)
            f.write("\n")
        log(
            f"auto labels {n}/{len(sessions)}: {out} ({d['labeled']}/{d['frames']} frames,"
            f" IoU vs truth {d.get('mean_iou_known', 'n/a')}; {note})"
        )
    log(f"auto labels ready in {time.perf_counter() - t0:.0f} s")
    return made


def prepare_thermocyclenet(
    req: ExperimentRequest,
    folder: Path | None,
    rig: str | None,
    rgb_labels: str,
    force: bool,
    log: Log,
) -> ExperimentRequest:
    """The request with its auto labels: for a synthetic study (every session has
    truth) the training subjects' sessions are auto-labeled into ``folder`` (default
    ``OUT/labels``); a lab's study uses its sessions' own label sidecars as they are."""
    split = study_split(req)
    sessions = split.sessions("train")
    if not has_truth(sessions + split.sessions("test")):
        return req
    folder = folder or req.out / "labels"
    autolabel_sessions(req.study, sessions, folder, rig, rgb_labels, force, log)
    return replace(req, auto_labels=folder)
