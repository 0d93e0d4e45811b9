"""How much two class masks agree: the one place IoU and Dice are computed.

Everything is built on one joint histogram of two masks (pixel counts of every pair of
labels) so that truth-vs-labels (``thermorig evaluate``), labels-vs-labels (``evaluate
--against``) and a trained model's held-out figures all count pixels the same way.
Masks use class ids ``0..C-1`` and :data:`~drivers.truth.UNKNOWN_LABEL` (255) for
"unknown"; the histogram keeps unknown pixels (bin ``C``) and ids outside the classes
(bin ``C + 1``) apart instead of folding them into a class.

IoU says how much of a region is wrong, not how far its edge is off; the boundary
distance (:func:`boundary_distance_sums`) says that in pixels, which is what a
calibration error does to a label (it moves every edge by about the same amount).
"""

from __future__ import annotations

import cv2
import numpy as np

from drivers.truth import UNKNOWN_LABEL


def joint_histogram(a: np.ndarray, b: np.ndarray, classes: int) -> np.ndarray:
    """(C+2, C+2) int64 pixel counts: ``[i, j]`` = pixels labeled i in ``a`` and j in
    ``b``; index C is unknown (255), C+1 any other id outside ``0..C-1``."""
    if a.shape != b.shape:
        raise ValueError(f"masks of different shapes: {a.shape} and {b.shape}")
    n = classes + 2

    def bins(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m).astype(np.int64, copy=False)
        out = np.where(m == UNKNOWN_LABEL, classes, m)
        return np.where((out < 0) | (out > classes), classes + 1, out)

    flat = (bins(a) * n + bins(b)).ravel()
    return np.bincount(flat, minlength=n * n).reshape(n, n)


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` as float64, NaN where ``den`` is 0 (a class absent from both)."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)


def iou(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Per class TP / (TP + FP + FN); NaN for a class in neither mask."""
    return ratio(tp, np.asarray(tp) + fp + fn)


def dice(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Per class 2 TP / (2 TP + FP + FN); NaN for a class in neither mask."""
    return ratio(2 * np.asarray(tp), 2 * np.asarray(tp) + fp + fn)


def class_counts(joint: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(TP, FP, FN) per class of ``b`` judged against ``a`` as the reference, every
    pixel counted (unknown included): FP = labeled k in b, not k in a; FN = k in a,
    not labeled k in b."""
    tp = np.diag(joint)[:classes]
    return tp, joint[:, :classes].sum(axis=0) - tp, joint[:classes].sum(axis=1) - tp


def _border(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` (uint8 0/1) with a 4-neighbour outside it; the image's
    own edge is no border (erosion pads with the mask's inside)."""
    return cv2.subtract(mask, cv2.erode(mask, _CROSS))


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def boundary_distance_sums(a: np.ndarray, b: np.ndarray, classes: int) -> tuple[float, int]:
    """Symmetric boundary distance of two masks, as (sum of distances in px, count).

    For every labeled class (ids ``1..C-1``) present in both: each border pixel of the
    class in ``a`` contributes its distance to the nearest border pixel of the class in
    ``b``, and the other way round. Sums and counts pool over classes and frames; the
    mean is ``sum / count``. A class in only one mask has no distance (IoU counts it).
    Unknown pixels (255) belong to no class, so a class's border runs where its
    labels end.
    """
    if a.shape != b.shape:
        raise ValueError(f"masks of different shapes: {a.shape} and {b.shape}")
    total, count = 0.0, 0
    for c in range(1, classes):
        ma, mb = (np.asarray(m == c, np.uint8) for m in (a, b))
        ba, bb = _border(ma), _border(mb)
        if not ba.any() or not bb.any():
            continue
        for src, dst in ((ba, bb), (bb, ba)):
            dist = cv2.distanceTransform(1 - dst, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            on = src.view(bool)
            total += float(dist[on].sum(dtype=np.float64))
            count += int(np.count_nonzero(on))
    return total, count
