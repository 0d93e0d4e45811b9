"""Agreement of two label files of the same session, per class (IoU, Dice).

Typical use: how far a person's corrections moved the projected labels, or how two
people agree. The second file is the **reference** (``B``); the first is compared with
it (``A``). Figures are pooled over the pixels of every compared frame, as in
:mod:`app.analysis.evaluate`, so large regions count by their pixels.

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

import os
from typing import Any

import numpy as np

from app.labels.sidecar import SOURCE_NONE, STATUS_REJECTED, LabelReader, LabelsError
from drivers.session import SessionReader
from drivers.truth import UNKNOWN_LABEL
from models.metrics import dice, iou, joint_histogram


def _ratio(num: float, den: float) -> float | None:
    return round(float(num) / float(den), 6) if den > 0 else None


def _rounded(v: float) -> float | None:
    return round(float(v), 6) if np.isfinite(v) else None


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
        n = s.count(stream)
    for lr in (a, b):
        if lr.count(stream) != n:
            raise LabelsError(
                f"{lr.path} has {lr.count(stream)} {stream} rows but {session_path} has {n}"
                " frames; give the labels of this session"
            )
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
