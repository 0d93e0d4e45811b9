"""Held-out figures against a lab's manual labels, for sessions without ground truth.

The twin of :mod:`models.training.heldout` (same runner, same pooling), but the
reference is each test session's label file — only its manual rows (accepted,
corrected or painted: what a person vouched for); pixels a person left unlabeled
(255) count for nothing, as in ``thermorig evaluate``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from drivers.session import SessionReader
from models.metrics import class_counts, joint_histogram
from models.runner import ModelRunner
from models.training.heldout import _iou, _r
from models.training.labelset import TrainingDataError, read_label_rows


def _manual_rows(pairs: Sequence[tuple[Path, Path]], stream: str):
    """Yield (session reader, label group, row) for every manual row of every pair."""
    found = 0
    for session, labels in pairs:
        _c, rows, _k, _n = read_label_rows(labels, session, stream, ("manual",))
        with SessionReader(session) as s, h5py.File(labels, "r") as f:
            for i in rows:
                found += 1
                yield s, f[stream], int(i)
    if not found:
        raise TrainingDataError(
            "the test subjects' sessions have neither ground truth nor manual label rows:"
            " nothing to measure the model against (review some of their frames first)"
        )


def label_segmentation_iou(
    runner: ModelRunner, pairs: Sequence[tuple[Path, Path]], stream: str = "thermal"
) -> dict:
    """Pooled IoU per class and mean IoU over the manual rows of (session, labels) pairs."""
    classes = list(runner.manifest.classes)
    c = len(classes)
    total = np.zeros((3, c), np.int64)
    frames = 0
    for s, g, i in _manual_rows(pairs, stream):
        pred = runner.run(s.frame(stream, i).array).mask
        total += np.stack(class_counts(joint_histogram(g["masks"][i], pred, c), c))
        frames += 1
    iou = _iou(total)
    return {
        "iou": {k: _r(v) for k, v in zip(classes, iou, strict=True)},
        "mean_iou": _r(iou[1:].mean()),
        "frames": frames,
    }


def label_keypoint_errors(
    runner: ModelRunner, pairs: Sequence[tuple[Path, Path]], stream: str = "thermal"
) -> dict:
    """Median and 95th-percentile error (frame px) against the manual rows' keypoints,
    matched by name."""
    names = list(runner.manifest.keypoints)
    errors = []
    for s, g, i in _manual_rows(pairs, stream):
        if "keypoints" not in g:
            continue
        have = json.loads(g["keypoints"].attrs.get("names", "[]"))
        ref = np.full((len(names), 2), np.nan)
        for j, n in enumerate(names):
            if n in have:
                ref[j] = g["keypoints"][i][have.index(n)]
        pred = runner.run(s.frame(stream, i).array).keypoints
        errors.append(np.linalg.norm(pred - ref, axis=1))
    e = np.concatenate(errors) if errors else np.empty(0)
    e = e[np.isfinite(e)]
    if not len(e):
        raise TrainingDataError("no manual keypoints in the test subjects' label files")
    return {
        "all": {
            "median_px": _r(np.median(e), 3),
            "p95_px": _r(np.percentile(e, 95), 3),
            "n": int(len(e)),
        }
    }
