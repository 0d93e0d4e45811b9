"""How good labels are: against a synthetic session's ground truth, or against another
label file of the same session. Every figure comes from the one IoU engine,
:mod:`models.metrics`.

**Against truth** (``thermorig evaluate``). Pixels are pooled over all labeled frames
(rows whose source is not "none"): a class's IoU is TP / (TP + FP + FN) over every
pixel of every such frame, so large and small frames count by their pixels, as a model
trained on them would see them.

Unknown pixels (255) are counted two ways:

- **strict** (the headline): unknown counts as wrong. A truth pixel of class c that
  is unknown is a miss of c; unknown pixels are never hits. Marking hard pixels
  unknown therefore costs IoU: being honest is not free, being wrong is worse.
- **known**: only pixels the file labeled are scored: how right the labels that are
  there are, whatever their coverage. Read it with ``unknown_share``.

The mean IoU is over the labeled classes, i.e. every class but the first
(``background``).

**Against another label file** (``thermorig evaluate --against``). Typical use: how
far a person's corrections moved the projected labels, or how two people agree. The second file is the **reference** (``B``); the first is compared with
it (``A``). Figures are pooled over the pixels of every compared frame, as against
truth, so large regions count by their pixels.

Compared frames are those labeled in both files (source not none). A frame rejected in
either file is left out: a rejected mask is one a person said is wrong. ``statuses``
selects frames by the *reference's* review status instead (e.g. only what a person
accepted or corrected); then a rejected row of ``A`` is left out only if rejected is
not among them.

Pixels unknown (255) in either file are left out of IoU, Dice and pixel agreement —
they measure where both files say something — and reported as shares of the compared
pixels, so low coverage is visible instead of being scored as disagreement.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np

from app.labels.sidecar import SOURCE_NONE, STATUS_REJECTED, LabelReader, LabelsError
from drivers.session import SessionReader
from drivers.truth import UNKNOWN_LABEL
from models.metrics import class_counts, dice, iou, joint_histogram


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return None
    ra = np.argsort(np.argsort(a[ok])).astype(float)
    rb = np.argsort(np.argsort(b[ok])).astype(float)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


class TruthScore:
    """Labels against truth, pooled frame by frame: the counting behind
    :func:`evaluate_labels` (unknown pixels counted both ways, see the module
    docstring), for callers that score masks they hold in memory (the
    calibration-sensitivity experiment) and must report the same figure."""

    def __init__(self, classes: int):
        self.classes = classes
        self.tp, self.fp, self.fn_wrong, self.fn_unknown = (
            np.zeros(classes, np.int64) for _ in range(4)
        )
        self.unknown = self.pixels = self.unknown_fg = self.truth_fg = 0

    def add(self, truth: np.ndarray, pred: np.ndarray) -> float:
        """Count one frame; its own mean IoU (strict) over the labeled classes."""
        c = self.classes
        joint = joint_histogram(truth, pred, c)  # rows truth, columns labels
        u = c  # the unknown bin
        self.pixels += pred.size
        self.unknown += int(joint[:, u].sum())
        self.truth_fg += int(joint[1:c].sum() + joint[c + 1].sum())
        self.unknown_fg += int(joint[1:c, u].sum() + joint[c + 1, u])
        frame_tp, frame_fp, frame_fn = class_counts(joint, c)
        frame_fp = frame_fp - joint[u, :c]  # a pixel the truth does not know is no one's
        frame_fn_unknown = joint[:c, u]
        self.tp += frame_tp
        self.fp += frame_fp
        self.fn_unknown += frame_fn_unknown
        self.fn_wrong += frame_fn - frame_fn_unknown
        with np.errstate(invalid="ignore"):
            frame_iou = iou(frame_tp, frame_fp, frame_fn)
            return float(np.nanmean(frame_iou[1:])) if c > 1 else math.nan

    def iou_strict(self) -> np.ndarray:
        """Per class, unknown counted as wrong."""
        return iou(self.tp, self.fp, self.fn_wrong + self.fn_unknown)

    def iou_known(self) -> np.ndarray:
        """Per class, over the pixels the labels know (the same FP: unknown labels are
        no one's)."""
        return iou(self.tp, self.fp, self.fn_wrong)

    def mean_iou_strict(self) -> float:
        """The headline: mean strict IoU over the labeled classes (all but the first)."""
        strict = self.iou_strict()
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(np.nanmean(strict[1:] if self.classes > 1 else strict))


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
        _check_shape(lr, stream, tuple(s.streams[stream].shape[:2]), truth_path)
        source = lr.array(stream, "source")
        conf = lr.array(stream, "confidence")
        gaps = lr.array(stream, "time_gap")
        rows = np.nonzero(source != SOURCE_NONE)[0]
        c = len(classes)
        score = TruthScore(c)
        per_frame = []
        for i in rows:
            per_frame.append(
                score.add(s.frame(stream, int(i)).truth["labels"], lr.mask(stream, int(i)))
            )
        strict, known_iou = score.iou_strict(), score.iou_known()
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
            "unknown_share": _round(score.unknown / score.pixels) if score.pixels else None,
            "unknown_share_of_labeled_classes": (
                _round(score.unknown_fg / score.truth_fg) if score.truth_fg else None
            ),
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


def _ratio(num: float, den: float) -> float | None:
    return round(float(num) / float(den), 6) if den > 0 else None


def _rounded(v: float) -> float | None:
    return round(float(v), 6) if np.isfinite(v) else None


def _check_shape(
    lr: LabelReader, stream: str, shape: tuple[int, ...], session_path: str | os.PathLike
) -> None:
    """LabelsError unless ``lr``'s masks of ``stream`` have the session frames' size."""
    if lr.shape(stream) != shape:
        (h, w), (fh, fw) = lr.shape(stream), shape
        raise LabelsError(
            f"{lr.path} holds {stream} masks of {w}x{h} but the frames of {session_path} are"
            f" {fw}x{fh}; give the labels of this session"
        )


def _check_pair(
    a: LabelReader, b: LabelReader, session_path: str | os.PathLike, stream: str
) -> int:
    """Frame count after checking that both files fit the session and each other."""
    a.check_session(session_path)
    b.check_session(session_path)
    if list(a.classes) != list(b.classes):
        raise LabelsError(
            f"{a.path} has classes {a.classes} but {b.path} has {b.classes};"
            " only label files of the same classes can be compared"
        )
    with SessionReader(session_path) as s:
        if stream not in s.streams:
            raise LabelsError(f"{session_path} has no '{stream}' stream; give --stream")
        n, shape = s.count(stream), tuple(s.streams[stream].shape[:2])
    for lr in (a, b):
        if lr.count(stream) != n:
            raise LabelsError(
                f"{lr.path} has {lr.count(stream)} {stream} rows but {session_path} has {n}"
                " frames; give the labels of this session"
            )
        _check_shape(lr, stream, shape, session_path)
    if a.shape(stream) != b.shape(stream) or a.count(stream) != b.count(stream):
        raise LabelsError(
            f"{a.path} and {b.path} hold {stream} masks of different sizes or lengths"
        )
    return a.count(stream)


def compare_labels(
    labels_path: str | os.PathLike,
    reference_path: str | os.PathLike,
    session_path: str | os.PathLike,
    stream: str = "thermal",
    *,
    statuses: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """Per class IoU and Dice of ``labels_path`` against ``reference_path``, pixel
    agreement, unknown shares and frame counts (see the module docstring)."""
    with LabelReader(labels_path) as a, LabelReader(reference_path) as b:
        n = _check_pair(a, b, session_path, stream)
        classes = list(a.classes)
        c = len(classes)
        src_a, src_b = a.array(stream, "source"), b.array(stream, "source")
        st_a, st_b = a.array(stream, "status"), b.array(stream, "status")
        both = (src_a != SOURCE_NONE) & (src_b != SOURCE_NONE)
        if statuses is None:
            chosen = both & (st_a != STATUS_REJECTED) & (st_b != STATUS_REJECTED)
        else:
            chosen = both & np.isin(st_b, np.asarray(statuses, np.uint8))
            if STATUS_REJECTED not in statuses:
                chosen &= st_a != STATUS_REJECTED
        rows = np.flatnonzero(chosen)
        tp, pix_a, pix_b = (np.zeros(c, np.int64) for _ in range(3))
        known = agree = unknown_a = unknown_b = pixels = 0
        per_frame = []
        for i in rows:
            ma, mb = a.mask(stream, int(i)), b.mask(stream, int(i))
            ka, kb = ma != UNKNOWN_LABEL, mb != UNKNOWN_LABEL
            ok = ka & kb
            for m, k, lr in ((ma, ka, a), (mb, kb, b)):
                top = int(m.max(where=k, initial=0))
                if top >= c:
                    raise LabelsError(
                        f"frame {i} of {lr.path} holds class id {top}, but the file names"
                        f" only {c} classes ({', '.join(classes)}); fix the file"
                    )
            pixels += ma.size
            unknown_a += int(np.count_nonzero(~ka))
            unknown_b += int(np.count_nonzero(~kb))
            known += int(np.count_nonzero(ok))
            agree += int(np.count_nonzero(ok & (ma == mb)))
            joint = joint_histogram(ma, mb, c)[:c, :c]  # pixels both files know
            frame_tp = np.diag(joint)
            tp += frame_tp
            pix_a += joint.sum(axis=1)
            pix_b += joint.sum(axis=0)
            with np.errstate(invalid="ignore"):
                frame_iou = iou(
                    frame_tp, joint.sum(axis=1) - frame_tp, joint.sum(axis=0) - frame_tp
                )
                per_frame.append(np.nanmean(frame_iou[1:]))
        fp, fn = pix_a - tp, pix_b - tp
        iou_c = [_rounded(v) for v in iou(tp, fp, fn)]
        dice_c = [_rounded(v) for v in dice(tp, fp, fn)]
        fg_iou = [v for v in iou_c[1:] if v is not None]
        fg_dice = [v for v in dice_c[1:] if v is not None]
        pf = np.asarray(per_frame, float)
        order = np.argsort(np.nan_to_num(pf, nan=-1.0))
        return {
            "labels": str(labels_path),
            "reference": str(reference_path),
            "session": str(session_path),
            "stream": stream,
            "classes": classes,
            "frames": int(n),
            "frames_compared": int(len(rows)),
            "frames_labeled_only_in_labels": int(
                np.count_nonzero((src_a != SOURCE_NONE) & (src_b == SOURCE_NONE))
            ),
            "frames_labeled_only_in_reference": int(
                np.count_nonzero((src_a == SOURCE_NONE) & (src_b != SOURCE_NONE))
            ),
            "frames_left_out_by_status": int(np.count_nonzero(both & ~chosen)),
            "mean_iou": round(float(np.mean(fg_iou)), 6) if fg_iou else None,
            "mean_dice": round(float(np.mean(fg_dice)), 6) if fg_dice else None,
            "iou": dict(zip(classes, iou_c, strict=True)),
            "dice": dict(zip(classes, dice_c, strict=True)),
            "pixels_labels": {k: int(v) for k, v in zip(classes, pix_a, strict=True)},
            "pixels_reference": {k: int(v) for k, v in zip(classes, pix_b, strict=True)},
            "pixel_agreement": _ratio(agree, known),
            "unknown_share_labels": _ratio(unknown_a, pixels),
            "unknown_share_reference": _ratio(unknown_b, pixels),
            "worst_frames": [int(rows[k]) for k in order[:5] if pf[k] < 1.0],
        }


def format_agreement(d: dict[str, Any]) -> str:
    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.4f}"

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    lines = [
        f"{d['labels']} against {d['reference']} (reference), {d['stream']}:"
        f" {d['frames_compared']}/{d['frames']} frames compared",
        f"mean over {', '.join(d['classes'][1:])}: IoU {f(d['mean_iou'])},"
        f" Dice {f(d['mean_dice'])}; pixel agreement {pct(d['pixel_agreement'])}"
        " (pixels both files label)",
        "class                IoU     Dice     pixels  ref pixels",
    ]
    for k in d["classes"]:
        lines.append(
            f"{k:16s} {f(d['iou'][k]):>7s} {f(d['dice'][k]):>8s}"
            f" {d['pixels_labels'][k]:10d} {d['pixels_reference'][k]:11d}"
        )
    lines.append(
        f"unknown: {pct(d['unknown_share_labels'])} of pixels in the labels,"
        f" {pct(d['unknown_share_reference'])} in the reference"
    )
    left = {
        "labeled only in the labels": d["frames_labeled_only_in_labels"],
        "labeled only in the reference": d["frames_labeled_only_in_reference"],
        "left out by review status": d["frames_left_out_by_status"],
    }
    lines += [f"  {v} frames {k}" for k, v in left.items() if v]
    if d["worst_frames"]:
        lines.append(f"least agreement in frames {d['worst_frames']}")
    return "\n".join(lines)
