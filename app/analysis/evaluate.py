"""How good a label file is, measured against a synthetic session's ground truth.

Pixels are pooled over all labeled frames (rows whose source is not "none"): a class's
IoU is TP / (TP + FP + FN) over every pixel of every such frame, so large and small
frames count by their pixels, as a model trained on them would see them.

Unknown pixels (255) are counted two ways:

- **strict** (the headline): unknown counts as wrong. A truth pixel of class c that
  is unknown is a miss of c; unknown pixels are never hits. Marking hard pixels
  unknown therefore costs IoU: being honest is not free, being wrong is worse.
- **known**: only pixels the file labeled are scored: how right the labels that are
  there are, whatever their coverage. Read it with ``unknown_share``.

The mean IoU is over the labeled classes, i.e. every class but the first
(``background``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from app.labels.sidecar import SOURCE_NONE, LabelReader, LabelsError
from drivers.session import SessionReader
from models.metrics import class_counts, iou, joint_histogram


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return None
    ra = np.argsort(np.argsort(a[ok])).astype(float)
    rb = np.argsort(np.argsort(b[ok])).astype(float)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def evaluate_labels(
    labels_path: str | os.PathLike, truth_path: str | os.PathLike, stream: str = "thermal"
) -> dict[str, Any]:
    """IoU per class (strict and known-only), mean over labeled classes, coverage."""
    with LabelReader(labels_path) as lr, SessionReader(truth_path) as s:
        lr.check_session(truth_path)
        truth_classes = (s.truth or {}).get("classes") or []
        if not s.truth or stream not in s.streams:
            raise LabelsError(
                f"{truth_path} has no ground truth of '{stream}'; evaluate against a synthetic"
                " session"
            )
        classes = lr.classes or truth_classes
        if truth_classes and list(truth_classes) != list(classes):
            raise LabelsError(
                f"label classes {classes} differ from the truth's {truth_classes}; cannot compare"
            )
        n = lr.count(stream)
        if n != s.count(stream):
            raise LabelsError(
                f"{labels_path} has {n} {stream} rows but {truth_path} has {s.count(stream)} frames"
            )
        source = lr.array(stream, "source")
        conf = lr.array(stream, "confidence")
        gaps = lr.array(stream, "time_gap")
        rows = np.nonzero(source != SOURCE_NONE)[0]
        c = len(classes)
        tp, fp, fn_wrong, fn_unknown = (np.zeros(c, np.int64) for _ in range(4))
        unknown = pixels = unknown_fg = truth_fg = 0
        per_frame = []
        for i in rows:
            pred = lr.mask(stream, int(i))
            truth = s.frame(stream, int(i)).truth["labels"]
            joint = joint_histogram(truth, pred, c)  # rows truth, columns labels
            u = c  # the unknown bin
            pixels += pred.size
            unknown += int(joint[:, u].sum())
            truth_fg += int(joint[1:c].sum() + joint[c + 1].sum())
            unknown_fg += int(joint[1:c, u].sum() + joint[c + 1, u])
            frame_tp, frame_fp, frame_fn = class_counts(joint, c)
            frame_fp = frame_fp - joint[u, :c]  # a pixel the truth does not know is no one's
            frame_fn_unknown = joint[:c, u]
            tp += frame_tp
            fp += frame_fp
            fn_unknown += frame_fn_unknown
            fn_wrong += frame_fn - frame_fn_unknown
            with np.errstate(invalid="ignore"):
                frame_iou = iou(frame_tp, frame_fp, frame_fn)
                per_frame.append(np.nanmean(frame_iou[1:]) if c > 1 else np.nan)
        strict = iou(tp, fp, fn_wrong + fn_unknown)
        known_iou = iou(tp, fp, fn_wrong)  # the same FP: unknown labels are no one's
        per_frame_a = np.asarray(per_frame, float)
        fg_strict = strict[1:] if c > 1 else strict
        fg_known = known_iou[1:] if c > 1 else known_iou
        out: dict[str, Any] = {
            "labels": str(labels_path),
            "truth": str(truth_path),
            "stream": stream,
            "classes": list(classes),
            "frames": int(n),
            "frames_evaluated": int(len(rows)),
            "headline": "mean_iou_strict (unknown counted as wrong, over the labeled classes)",
            "mean_iou_strict": _round(np.nanmean(fg_strict)) if len(rows) else None,
            "mean_iou_known": _round(np.nanmean(fg_known)) if len(rows) else None,
            "iou_strict": {k: _round(v) for k, v in zip(classes, strict, strict=True)},
            "iou_known": {k: _round(v) for k, v in zip(classes, known_iou, strict=True)},
            "unknown_share": _round(unknown / pixels) if pixels else None,
            "unknown_share_of_labeled_classes": _round(unknown_fg / truth_fg) if truth_fg else None,
        }
        if len(per_frame_a):
            order = np.argsort(np.nan_to_num(per_frame_a, nan=-1.0))
            out["per_frame_mean_iou"] = {
                "min": _round(np.nanmin(per_frame_a)),
                "p5": _round(np.nanpercentile(per_frame_a, 5)),
                "median": _round(np.nanmedian(per_frame_a)),
                "worst_frames": [int(rows[k]) for k in order[:5]],
            }
            if conf is not None and c > 1:
                fg_conf = conf[rows][:, 1:]
                with np.errstate(all="ignore"):
                    frame_conf = np.where(np.isfinite(fg_conf), fg_conf, np.inf).min(axis=1)
                frame_conf[np.isinf(frame_conf)] = np.nan
                out["confidence_vs_iou_spearman"] = _round(_spearman(frame_conf, per_frame_a))
            if gaps is not None:
                g = gaps[rows]
                out["time_gap_ms"] = {
                    "mean": _round(1e3 * np.nanmean(g)) if np.isfinite(g).any() else None,
                    "max": _round(1e3 * np.nanmax(g)) if np.isfinite(g).any() else None,
                }
        return out


def _round(v: float | None, digits: int = 6) -> float | None:
    if v is None or not np.isfinite(v):
        return None
    return round(float(v), digits)


def format_evaluation(d: dict[str, Any]) -> str:
    lines = [
        f"{d['labels']} vs truth of {d['truth']} ({d['stream']}):"
        f" {d['frames_evaluated']}/{d['frames']} frames labeled",
        f"mean IoU over {', '.join(d['classes'][1:])}: {_fmt(d['mean_iou_strict'])}"
        f" (unknown counted as wrong; headline), {_fmt(d['mean_iou_known'])} over known pixels",
        "class            IoU strict   IoU known",
    ]
    for k in d["classes"]:
        lines.append(f"{k:16s} {_fmt(d['iou_strict'][k]):>10s}   {_fmt(d['iou_known'][k]):>9s}")
    lines.append(
        f"unknown: {_pct(d['unknown_share'])} of pixels,"
        f" {_pct(d['unknown_share_of_labeled_classes'])} of labeled-class pixels"
    )
    pf = d.get("per_frame_mean_iou")
    if pf:
        lines.append(
            f"per frame: min {_fmt(pf['min'])}, 5th pct {_fmt(pf['p5'])}, median"
            f" {_fmt(pf['median'])}; worst frames {pf['worst_frames']}"
        )
    if d.get("confidence_vs_iou_spearman") is not None:
        lines.append(f"confidence vs IoU rank correlation: {d['confidence_vs_iou_spearman']:+.2f}")
    if d.get("time_gap_ms") and d["time_gap_ms"]["mean"] is not None:
        lines.append(
            f"time gap: {d['time_gap_ms']['mean']:.1f} ms mean, {d['time_gap_ms']['max']:.1f} ms max"
        )
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"
