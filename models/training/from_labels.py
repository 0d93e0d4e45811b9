"""``thermorig train``: a model package from a lab's own sessions and label files,
split by subject and measured on the subjects it never saw.

1. Sessions come from a study index (subjects from ``study.json``) or a list of
   session files (subject from each session's ``subject`` attribute). The last
   ``test_subjects`` subjects (or the ones named) are held out: no frame of theirs is
   trained on, so the figures say how the model does on a new person.
2. Training rows come from each session's label sidecar
   (:mod:`models.training.labelset`: manual, auto or both); a session without one is
   trained on its ground truth only when that is asked for (``truth``: synthetic
   sessions), never silently.
3. The recipe (:mod:`models.training.recipes`) is trained, exported to ONNX, checked
   torch-vs-onnxruntime, and measured through the app's own runner on the test
   subjects' sessions — against their truth where every one has truth, else against
   their manual label rows.
4. ``NAME.onnx`` and ``NAME.json`` are written into ``out`` only if neither exists
   there: a package is published whole (JSON last) or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from drivers.session import SessionReader
from drivers.study import read_study, split_subjects
from models.runner import ModelRunner
from models.spec import InputSpec, Manifest, OutputSpec
from models.training.dataset import Examples, load_session
from models.training.heldout import keypoint_errors, segmentation_iou
from models.training.heldout_labels import label_keypoint_errors, label_segmentation_iou
from models.training.labelset import (
    LABEL_USES,
    TrainingDataError,
    labels_path_for,
    load_labeled_session,
)
from models.training.nets import UNetConfig
from models.training.package_writer import measured_record, package_paths, publish_package
from models.training.recipes import RECIPES
from models.training.train import TrainConfig, train
from models.training.train_bundled import _parity_inputs

Log = Callable[[str], None]


@dataclass
class TrainRequest:
    """What ``thermorig train`` was asked (see the module docstring)."""

    task: str  # "segmenter" or "keypoints"
    recipe: str
    out: Path
    name: str | None = None
    study: Path | None = None
    sessions: list[Path] = field(default_factory=list)
    labels_pattern: str | None = None
    labels_from: str = "both"
    truth: bool = False
    test_subjects: int = 1
    test_subject_ids: list[str] = field(default_factory=list)
    quick: bool = False
    device: str = "cpu"
    steps: int | None = None
    seed: int = 0

    @property
    def package_name(self) -> str:
        return self.name or f"{self.recipe}-{self.task}"


def _subjects(req: TrainRequest, log: Log | None = None) -> dict[str, list[Path]]:
    """Subject id → its sessions, in the study's order or sorted by id."""
    if req.study is not None:
        study = read_study(req.study)
        if log is not None and (warning := study.incomplete_warning()):
            log(warning)
        if not req.test_subject_ids:
            split_subjects(study, req.test_subjects)  # refuses an impossible split
        return {
            s.id: [req.study / x.path for x in s.sessions] for s in study.subjects if s.sessions
        }
    by: dict[str, list[Path]] = {}
    for p in req.sessions:
        with SessionReader(p) as s:
            subject = s.attrs.get("subject") or ""
        if not subject:
            raise TrainingDataError(
                f"{p}: the session names no subject (record with --subject), so it cannot"
                " be split by subject; or use --study"
            )
        by.setdefault(subject, []).append(p)
    return dict(sorted(by.items()))


def split(
    req: TrainRequest, log: Log | None = None
) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """(training subjects, test subjects), each id → sessions; never one in both."""
    subjects = _subjects(req, log)
    if len(subjects) < 2:
        raise TrainingDataError(
            f"{len(subjects)} subject(s) with sessions: a cross-subject split needs at least 2"
        )
    ids = list(subjects)
    if req.test_subject_ids:
        unknown = [i for i in req.test_subject_ids if i not in subjects]
        if unknown:
            raise TrainingDataError(
                f"unknown test subject(s) {', '.join(unknown)}; have {', '.join(ids)}"
            )
        test = [i for i in ids if i in req.test_subject_ids]
    else:
        if not 1 <= req.test_subjects < len(ids):
            raise TrainingDataError(
                f"cannot hold out {req.test_subjects} of {len(ids)} subjects; keep one for training"
            )
        test = ids[-req.test_subjects :]
    if len(test) == len(ids):
        raise TrainingDataError("every subject is a test subject; keep one for training")
    return {i: subjects[i] for i in ids if i not in test}, {i: subjects[i] for i in test}


def _load(req: TrainRequest, sessions: list[Path], size: tuple[int, int]) -> tuple[Examples, dict]:
    use = LABEL_USES[req.labels_from]
    parts, rows = [], []
    for p in sessions:
        labels = labels_path_for(p, req.labels_pattern)
        if labels.is_file():
            ex, counts = load_labeled_session(p, labels, size, use)
            rows.append({"session": str(p), "labels": str(labels), **counts})
        elif req.truth:
            ex = load_session(p, size)
            rows.append({"session": str(p), "labels": "ground truth", "used": {"truth": len(ex)}})
        else:
            raise TrainingDataError(
                f"{labels}: no label file for {p.name} (autolabel, infer or review make one;"
                " --truth trains on a synthetic session's ground truth instead)"
            )
        if req.task == "keypoints":
            keep = [
                i for i in range(len(ex)) if torch.isfinite(torch.from_numpy(ex.keypoints[i])).any()
            ]
            ex = Examples(
                ex.images[keep],
                ex.labels[keep],
                ex.keypoints[keep],
                [ex.sources[i] for i in keep],
                ex.classes,
                ex.keypoint_names,
            )
        if len(ex):
            parts.append(ex)
    if not parts:
        raise TrainingDataError(
            f"no usable {req.task} rows in the training sessions ({req.labels_from} labels)"
        )
    names = {
        tuple(x.classes) if req.task == "segmenter" else tuple(x.keypoint_names) for x in parts
    }
    if len(names) != 1:
        raise TrainingDataError(
            f"the sessions' labels name different classes or keypoints: {sorted(names)}"
        )
    totals: dict[str, int] = {}
    for r in rows:
        for k, v in r["used"].items():
            totals[k] = totals.get(k, 0) + v
    return Examples.concat(parts), {"sessions": rows, "rows_used": totals}


def has_truth(paths: list[Path]) -> bool:
    """Whether every session has ground truth for its thermal frames (synthetic)."""
    for p in paths:
        with SessionReader(p) as s:
            if not s.truth or not s.count("thermal") or s.frame("thermal", 0).truth is None:
                return False
    return True


def _measure(
    req: TrainRequest, runner: ModelRunner, test_sessions: list[Path]
) -> tuple[dict, dict]:
    """(headline figures, full held-out result)."""
    if has_truth(test_sessions):
        against = "ground truth of every frame of the test subjects' sessions"
        if req.task == "segmenter":
            full = segmentation_iou(runner, test_sessions)
        else:
            full = keypoint_errors(runner, test_sessions)
    else:
        against = "the manual rows (accepted, corrected, painted) of the test subjects' label files"
        pairs = [(p, labels_path_for(p, req.labels_pattern)) for p in test_sessions]
        if req.task == "segmenter":
            full = label_segmentation_iou(runner, pairs)
        else:
            full = label_keypoint_errors(runner, pairs)
    if req.task == "segmenter":
        figs = {"mean_iou": full["mean_iou"]}
        figs.update({f"iou_{k}": v for k, v in full["iou"].items() if k != "background"})
    else:
        figs = {"median_error_px": full["all"]["median_px"], "p95_error_px": full["all"]["p95_px"]}
    full["measured_against"] = against
    return figs, full


def train_package(req: TrainRequest, log: Log = print) -> dict:
    """Train, export, measure and publish one package; returns the summary."""
    recipe = RECIPES[req.recipe]
    package_paths(req.out, req.package_name)  # refused before training, not after
    if req.device == "cuda" and not torch.cuda.is_available():
        raise TrainingDataError(
            "--device cuda: this torch build has no CUDA device; use --device cpu"
        )
    t0 = time.perf_counter()
    train_subj, test_subj = split(req, log)
    train_sessions = [p for ps in train_subj.values() for p in ps]
    test_sessions = [p for ps in test_subj.values() for p in ps]
    log(
        f"subjects: {len(train_subj)} training ({len(train_sessions)} sessions),"
        f" {len(test_subj)} held out ({', '.join(test_subj)})"
    )
    ex, data = _load(req, train_sessions, recipe.input_size)
    log(f"training rows: {len(ex)} ({', '.join(f'{k} {v}' for k, v in data['rows_used'].items())})")
    seg = req.task == "segmenter"
    arch = UNetConfig(1, len(ex.classes) if seg else len(ex.keypoint_names), recipe.channels)
    steps = req.steps or (recipe.quick_steps if req.quick else recipe.steps)
    cfg = TrainConfig(
        steps=steps,
        batch_size=min(recipe.batch_size, len(ex)),
        window_c=recipe.window_c,
        augment=recipe.augment,
        seed=req.seed,
        device=req.device,
    )
    model, stats = train(ex, arch, cfg, "segmentation" if seg else "keypoints", log)
    w, h = recipe.input_size
    manifest = Manifest(
        task="segmentation" if seg else "keypoints",
        input=InputSpec(w, h, "thermal", "thermal", "grayscale", recipe.window_c),
        output=OutputSpec("logits", "logits") if seg else OutputSpec("heatmaps", "heatmaps"),
        classes=tuple(ex.classes) if seg else (),
        keypoints=() if seg else tuple(ex.keypoint_names),
        description=f"{req.task} trained by thermorig train ({req.recipe}) on {len(train_subj)} subjects",
    )

    def provenance(par: dict, figures: dict, heldout: dict, onnx_tmp: Path) -> dict:
        log(f"parity torch vs onnxruntime: max abs diff {par['max_abs_diff']:.2e}")
        return {
            "trained_by": f"thermorig train {req.task} --recipe {req.recipe}"
            + (" --quick" if req.quick else ""),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "recipe": req.recipe,
            "training_data": {"labels_from": req.labels_from, **data, "frames": len(ex)},
            "cross_subject": {
                "train_subjects": list(train_subj),
                "test_subjects": list(test_subj),
                "test_sessions": [str(p) for p in test_sessions],
            },
            "training": stats,
            **measured_record(model, arch.to_dict(), par, figures, heldout, onnx_tmp),
        }

    pub = publish_package(
        model,
        manifest,
        req.out,
        req.package_name,
        _parity_inputs(test_sessions, manifest),
        lambda runner: _measure(req, runner, test_sessions),
        provenance,
    )
    onnx_final, json_final, par, figures = pub.onnx, pub.json, pub.parity, pub.figures
    heldout = pub.heldout
    log(f"wrote {onnx_final} and {json_final.name} in {time.perf_counter() - t0:.0f} s")
    return {
        "package": str(onnx_final),
        "task": req.task,
        "recipe": req.recipe,
        "train_subjects": list(train_subj),
        "test_subjects": list(test_subj),
        "rows_used": data["rows_used"],
        "figures": figures,
        "measured_against": heldout["measured_against"],
        "parity_max_abs_diff": par["max_abs_diff"],
        "seconds": round(time.perf_counter() - t0, 1),
    }
