"""Network outputs back to frame pixels: class masks and keypoints.

- Segmentation: class scores come out at the network's output resolution (often a
  quarter of its input). They are resampled *as scores* (bilinear) to the frame and
  only then turned into classes (argmax), so boundaries fall between output pixels
  where the scores cross, instead of in blocks of 8×8 frame pixels.
- Keypoints from heatmaps: a spatial softmax per keypoint channel and its expectation
  (the soft-argmax of SPMKD and integral regression): sub-pixel locations that the
  network can be trained on end to end. The score is the probability mass near that
  location (a confident, peaked map scores near 1; a flat one near 0).
- Keypoints as coordinates: networks that regress (x, y) directly, ``normalized`` to
  [0, 1] of the input or in input ``pixels``, optionally with a third score column.

Points that fall outside the frame or score under the package's ``min_score`` are
NaN, the same "absent" that ground truth and label files use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from models.errors import ModelError
from models.preprocess import Geometry

#: Radius (output-map pixels) within which a heatmap's probability counts as its score.
SCORE_RADIUS = 2.0


@dataclass
class ModelResult:
    """What one model run produced for one frame, in that frame's pixels.

    ``mask`` (H, W) uint8 class ids and ``confidence`` (C,) the mean probability of
    each class over the pixels given that class (NaN where no pixel was), for
    segmenters; ``keypoints`` (K, 2) float32 (NaN = absent) and ``scores`` (K,) for
    keypoint models. ``inference_s`` is the network alone, ``total_s`` includes
    pre- and post-processing.
    """

    task: str
    mask: np.ndarray | None = None
    confidence: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    scores: np.ndarray | None = None
    inference_s: float = 0.0
    total_s: float = 0.0
    extra: dict = field(default_factory=dict)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _resample_planes(maps: np.ndarray, geometry: Geometry) -> list[np.ndarray]:
    """(C, h, w) score maps spanning the whole input, bilinearly resampled to frame
    pixels, one contiguous plane per channel.

    Without letterbox padding the map spans the frame exactly and OpenCV's resize (pixel
    centres, edge pixels replicated) is the same mapping as the general affine warp, at a
    tenth of its cost; with padding the affine warp crops the content out as it goes.
    """
    _, mh, mw = maps.shape
    size = (geometry.frame_w, geometry.frame_h)
    if geometry.content_size == (geometry.input_w, geometry.input_h):
        return [cv2.resize(m, size, interpolation=cv2.INTER_LINEAR) for m in maps]
    M = geometry.frame_to_map(mw, mh)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return [cv2.warpAffine(m, M, size, flags=flags, borderMode=cv2.BORDER_REPLICATE) for m in maps]


def _argmax_planes(planes: list[np.ndarray]) -> np.ndarray:
    """Index of the largest plane per pixel (ties: the lower index), as uint8 —
    a running maximum, several times faster than ``np.argmax`` over a stacked axis."""
    best = planes[0].copy()
    idx = np.zeros(best.shape, np.uint8)
    for k in range(1, len(planes)):
        np.copyto(idx, np.uint8(k), where=planes[k] > best)
        np.maximum(best, planes[k], out=best)
    return idx


def segmentation(logits: np.ndarray, geometry: Geometry, n_classes: int) -> ModelResult:
    """(1, C, h, w) class scores to a frame-size class mask and per-class confidence."""
    if logits.ndim != 4 or logits.shape[0] != 1 or logits.shape[1] != n_classes:
        raise ModelError(
            f"segmentation output has shape {tuple(logits.shape)}; expected (1, {n_classes}, H, W)"
        )
    if n_classes > 255:
        raise ModelError(f"{n_classes} classes do not fit a uint8 mask (255 = unknown)")
    scores = np.ascontiguousarray(logits[0], dtype=np.float32)
    mask = _argmax_planes(_resample_planes(scores, geometry))
    # Confidence at the output resolution: the same figure at a fraction of the cost.
    prob = _softmax(scores, axis=0)
    top, arg = prob.max(axis=0), prob.argmax(axis=0)
    confidence = np.full(n_classes, np.nan, np.float32)
    for k in range(n_classes):
        sel = arg == k
        if sel.any():
            confidence[k] = float(top[sel].mean())
    return ModelResult("segmentation", mask=mask, confidence=confidence)


def soft_argmax(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, h, w) logits → (K, 2) expected (x, y) in map pixels (centres at integers)
    under a spatial softmax per channel, and (K,) the mass within SCORE_RADIUS."""
    k, h, w = heatmaps.shape
    p = _softmax(heatmaps.reshape(k, h * w).astype(np.float64), axis=1).reshape(k, h, w)
    xs, ys = np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)
    x = (p.sum(axis=1) * xs).sum(axis=1)
    y = (p.sum(axis=2) * ys).sum(axis=1)
    d2 = (xs[None, None, :] - x[:, None, None]) ** 2 + (ys[None, :, None] - y[:, None, None]) ** 2
    score = (p * (d2 <= SCORE_RADIUS**2)).sum(axis=(1, 2))
    return np.stack([x, y], axis=1), score


def _finish_keypoints(
    points_in: np.ndarray, scores: np.ndarray, geometry: Geometry, min_score: float
) -> ModelResult:
    pts = geometry.input_to_frame(points_in)
    inside = (
        (pts[:, 0] >= -0.5)
        & (pts[:, 0] <= geometry.frame_w - 0.5)
        & (pts[:, 1] >= -0.5)
        & (pts[:, 1] <= geometry.frame_h - 0.5)
    )
    keep = inside & (scores >= min_score) & np.isfinite(pts).all(axis=1)
    out = np.full(pts.shape, np.nan, np.float32)
    out[keep] = pts[keep]
    return ModelResult("keypoints", keypoints=out, scores=scores.astype(np.float32))


def keypoints_from_heatmaps(
    output: np.ndarray, geometry: Geometry, n_keypoints: int, min_score: float = 0.0, **_: object
) -> ModelResult:
    if output.ndim != 4 or output.shape[0] != 1 or output.shape[1] != n_keypoints:
        raise ModelError(
            f"heatmap output has shape {tuple(output.shape)}; expected (1, {n_keypoints}, H, W)"
        )
    _, _, mh, mw = output.shape
    pts, scores = soft_argmax(output[0])
    # map pixel -> input pixel (both pixel-centre conventions)
    pts_in = np.empty_like(pts)
    pts_in[:, 0] = (pts[:, 0] + 0.5) * (geometry.input_w / mw) - 0.5
    pts_in[:, 1] = (pts[:, 1] + 0.5) * (geometry.input_h / mh) - 0.5
    return _finish_keypoints(pts_in, scores, geometry, min_score)


def keypoints_from_coordinates(
    output: np.ndarray,
    geometry: Geometry,
    n_keypoints: int,
    min_score: float = 0.0,
    units: str = "normalized",
) -> ModelResult:
    if output.ndim != 3 or output.shape[:2] != (1, n_keypoints) or output.shape[2] not in (2, 3):
        raise ModelError(
            f"coordinate output has shape {tuple(output.shape)}; expected (1, {n_keypoints}, 2 or 3)"
        )
    xy = output[0, :, :2].astype(np.float64)
    if units == "normalized":
        xy = xy * np.array([geometry.input_w, geometry.input_h]) - 0.5
    scores = output[0, :, 2].astype(np.float64) if output.shape[2] == 3 else np.ones(n_keypoints)
    return _finish_keypoints(xy, scores, geometry, min_score)


#: Keypoint output kinds (the JSON's ``output.kind``) → decoder.
KEYPOINT_DECODERS: dict[str, Callable[..., ModelResult]] = {
    "heatmaps": keypoints_from_heatmaps,
    "coordinates": keypoints_from_coordinates,
}
