"""Held-out figures of an exported model, measured the way the app will run it.

The model package is loaded and run with :class:`models.runner.ModelRunner` on full
frames of held-out sessions, so the figures include the export, the preprocessing and
the resampling back to frame size — what ``thermorig infer`` produces. Segmentation
IoU pools pixels over all frames per class, exactly as ``thermorig evaluate`` does (a
model labels every pixel, so its strict and known-only IoU coincide); the mean is
over the labeled classes (all but background). Keypoint errors are Euclidean distances
in frame pixels.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from drivers.session import SessionReader
from models.metrics import class_counts, iou, joint_histogram
from models.runner import ModelRunner


def _iou(counts: np.ndarray) -> np.ndarray:
    """Per class IoU of (3, C) pooled TP, FP, FN; 0 for a class in neither (as before:
    a model that never predicts an absent class is not rewarded with NaN)."""
    return np.nan_to_num(iou(*counts), nan=0.0)


def _r(v: float, digits: int = 4) -> float | None:
    return round(float(v), digits) if np.isfinite(v) else None


def segmentation_iou(
    runner: ModelRunner, sessions: Sequence[str | os.PathLike], stream: str = "thermal"
) -> dict:
    """Pooled IoU per class and mean IoU, overall and per session."""
    classes = list(runner.manifest.classes)
    c = len(classes)
    total = np.zeros((3, c), np.int64)  # tp, fp, fn
    per_session = []
    for path in sessions:
        counts = np.zeros((3, c), np.int64)
        with SessionReader(path) as s:
            n = s.count(stream)
            for i in range(n):
                f = s.frame(stream, i)
                truth = f.truth["labels"]
                pred = runner.run(f.array).mask
                counts += np.stack(class_counts(joint_histogram(truth, pred, c), c))
        total += counts
        iou = _iou(counts)
        per_session.append(
            {"session": Path(path).stem, "frames": n, "mean_iou": _r(iou[1:].mean())}
        )
    iou = _iou(total)
    return {
        "iou": {k: _r(v) for k, v in zip(classes, iou, strict=True)},
        "mean_iou": _r(iou[1:].mean()),
        "sessions": per_session,
    }


def keypoint_errors(
    runner: ModelRunner, sessions: Sequence[str | os.PathLike], stream: str = "thermal"
) -> dict:
    """Median, mean and 95th-percentile error (frame px) per keypoint and overall."""
    names = list(runner.manifest.keypoints)
    errors: list[np.ndarray] = []
    missed = 0
    per_session = []
    for path in sessions:
        first = len(errors)
        with SessionReader(path) as s:
            for i in range(s.count(stream)):
                f = s.frame(stream, i)
                truth = f.truth["keypoints"]
                pred = runner.run(f.array).keypoints
                e = np.linalg.norm(pred - truth, axis=1)
                missed += int(
                    np.count_nonzero(np.isfinite(truth).all(1) & ~np.isfinite(pred).all(1))
                )
                errors.append(e)
        mine = np.stack(errors[first:]) if len(errors) > first else np.empty((0, len(names)))
        finite = mine[np.isfinite(mine)]
        per_session.append(
            {
                "session": Path(path).stem,
                "frames": len(mine),
                "median_px": _r(np.median(finite), 3) if len(finite) else None,
            }
        )
    err = np.stack(errors)  # (frames, K), NaN where either side is absent

    def stats(e: np.ndarray) -> dict:
        e = e[np.isfinite(e)]
        if not len(e):
            return {"median_px": None, "mean_px": None, "p95_px": None, "n": 0}
        return {
            "median_px": _r(np.median(e), 3),
            "mean_px": _r(e.mean(), 3),
            "p95_px": _r(np.percentile(e, 95), 3),
            "n": int(len(e)),
        }

    return {
        "per_keypoint": {k: stats(err[:, j]) for j, k in enumerate(names)},
        "all": stats(err.ravel()),
        "missed": missed,
        "frames": int(len(err)),
        "sessions": per_session,
    }
