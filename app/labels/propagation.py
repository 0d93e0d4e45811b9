"""Label propagation: a few labeled frames (keyframes) carried through the frames
between them by dense optical flow — pure functions, no files (the command's file
handling is :mod:`app.labels.propagate`).

Why optical flow: a person can label a few RGB frames of any camera placement (a rear
view of legs on an ergometer, where a pose model finds nobody), and the motion between
frames carries those labels to the rest. Each frame between two keyframes gets two
estimates — carried forward from the keyframe before it and backward from the one
after it — blended per pixel by how much each is still trusted.

How a label is carried one frame on (from frame ``a`` to its neighbour ``b``):

- Flow is computed with OpenCV's DIS optical flow on grey frames downscaled to
  ``flow_width`` (colour frames are 1280×720; the flow is cheap at 640 wide, reading
  the frame costs more).
- Labels travel as per-class probabilities (one-hot at a keyframe), warped backward:
  each pixel of ``b`` takes the probabilities at the place the flow ``b→a`` says it came
  from (bilinear, so boundaries stay sub-pixel and a chain of warps does not
  staircase). Unknown pixels (255) of a keyframe carry no probability at all.
- A per-pixel confidence travels with them: multiplied at every step by ``decay`` and by
  the forward-backward check — following ``b→a`` and then ``a→b`` must come back to
  the start; where it misses by more than ``fb_tolerance`` pixels (occlusion, a
  surface the flow lost) the pixel's confidence falls with the miss.

The two estimates are blended per pixel with their confidences as weights; the frame's
confidence is the larger of the two, so it decays with the distance to the *nearer*
keyframe. The label is the most probable class where the carried probability is at
least half (elsewhere unknown), at full size after a bilinear upscale of the
probabilities.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from drivers.truth import UNKNOWN_LABEL


@dataclass(frozen=True)
class PropagationParams:
    """Tuning of the propagation (defaults measured in docs/propagation.md)."""

    #: Width (pixels) of the grey frames the flow is computed on and the labels
    #: carried at; the height keeps the aspect ratio.
    flow_width: int = 640
    #: DIS preset: 0 ultrafast, 1 fast, 2 medium.
    preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
    #: Confidence kept per frame carried (0.97: half after 23 frames).
    decay: float = 0.97
    #: Forward-backward miss (pixels at flow size) that halves a pixel's confidence.
    fb_tolerance: float = 2.0


def work_size(shape: tuple[int, int], params: PropagationParams) -> tuple[int, int]:
    """(width, height) of the frames the flow runs on, for frames of ``shape`` (H, W)."""
    h, w = shape
    fw = min(params.flow_width, w)
    return fw, max(1, round(h * fw / w))


def grey(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An RGB (or grey) frame as a grey image of ``size`` (width, height)."""
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if frame.dtype != np.uint8:  # thermal or depth: stretch to 8 bits for the flow
        lo, hi = np.percentile(frame, (1, 99))
        frame = np.clip((frame - lo) * (255.0 / max(hi - lo, 1e-6)), 0, 255).astype(np.uint8)
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def one_hot(mask: np.ndarray, classes: int, size: tuple[int, int]) -> np.ndarray:
    """A class mask (H, W; 255 unknown) as (h, w, classes) float32 probabilities at
    ``size``; unknown pixels have none."""
    prob = np.stack([(mask == c).astype(np.float32) for c in range(classes)], axis=-1)
    return _resize(prob, size)


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    interp = cv2.INTER_AREA if size[0] < image.shape[1] else cv2.INTER_LINEAR
    out = cv2.resize(image, size, interpolation=interp)
    return out[..., None] if out.ndim == 2 else out


class FlowPair:
    """Dense flow both ways between neighbouring grey frames (one DIS instance, reused:
    it keeps its buffers)."""

    def __init__(self, params: PropagationParams):
        self._dis = cv2.DISOpticalFlow_create(params.preset)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(flow b→a, flow a→b): for each pixel of b where it was in a, and back."""
        return self._dis.calc(b, a, None), self._dis.calc(a, b, None)


@lru_cache(maxsize=4)
def _grid(shape: tuple[int, int]) -> np.ndarray:
    """Pixel coordinates (h, w, 2), kept: every warp of a run has the same size."""
    h, w = shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return np.stack([xs, ys], axis=-1)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` (h, w[, C]) sampled at each pixel plus ``flow`` (bilinear; zero outside),
    i.e. an image of frame a moved into frame b when ``flow`` is the flow b→a."""
    where = _grid(flow.shape[:2]) + flow
    chans = image if image.ndim == 3 else image[..., None]
    # cv2.remap takes at most 4 channels at once.
    parts = [
        cv2.remap(
            np.ascontiguousarray(chans[..., k : k + 4]),
            where,
            None,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        for k in range(0, chans.shape[-1], 4)
    ]
    parts = [p[..., None] if p.ndim == 2 else p for p in parts]
    out = np.concatenate(parts, axis=-1)
    return out if image.ndim == 3 else out[..., 0]


def fb_consistency(flow_ba: np.ndarray, flow_ab: np.ndarray, tolerance: float) -> np.ndarray:
    """Per pixel of b, in (0, 1]: 1 where following b→a then a→b returns to the pixel,
    1/2 at a miss of ``tolerance`` pixels, falling as 1 / (1 + (miss / tolerance)²)."""
    back = warp(flow_ab, flow_ba)
    miss2 = np.sum((flow_ba + back) ** 2, axis=-1)
    return 1.0 / (1.0 + miss2 / (tolerance * tolerance))


def carry(
    prob: np.ndarray,
    conf: np.ndarray,
    flow_ba: np.ndarray,
    flow_ab: np.ndarray,
    params: PropagationParams,
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and confidence of frame a, carried one frame on to frame b."""
    weight = fb_consistency(flow_ba, flow_ab, params.fb_tolerance) * params.decay
    moved = warp(np.concatenate([prob, conf[..., None]], axis=-1), flow_ba)  # one remap
    return moved[..., :-1], moved[..., -1] * weight


def blend(
    ahead: tuple[np.ndarray, np.ndarray] | None,
    behind: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The estimates carried forward (``ahead``, from the keyframe before) and backward
    (``behind``, from the one after), blended per pixel by confidence; the confidence
    is the larger of the two. One of them may be missing (before the first or after
    the last keyframe)."""
    if ahead is None or behind is None:
        only = ahead if behind is None else behind
        assert only is not None, "blend needs at least one estimate"
        return only
    (pa, ca), (pb, cb) = ahead, behind
    total = ca + cb
    wa = np.where(total > 0, ca / np.maximum(total, 1e-12), 0.5)[..., None]
    return pa * wa + pb * (1.0 - wa), np.maximum(ca, cb)


def labels_of(
    prob: np.ndarray, conf: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The class mask (H, W uint8; 255 where less than half a class's probability
    arrived) at full size ``shape``, and per class the mean confidence over its pixels
    (NaN where the class is absent) — the label file's ``confidence`` row."""
    h, w = shape
    full = _resize(prob, (w, h))
    mass = full.sum(axis=-1)
    labels = np.argmax(full, axis=-1).astype(np.uint8)
    labels[mass < 0.5] = UNKNOWN_LABEL
    small = cv2.resize(labels, (conf.shape[1], conf.shape[0]), interpolation=cv2.INTER_NEAREST)
    per_class = np.full(prob.shape[-1], np.nan, np.float32)
    for c in range(prob.shape[-1]):
        here = small == c
        if here.any():
            per_class[c] = float(conf[here].mean())
    return labels, per_class


def propagate_span(
    greys: list[np.ndarray],
    start: np.ndarray | None,
    end: np.ndarray | None,
    params: PropagationParams,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(index into ``greys``, probabilities, confidence) of each frame strictly between
    ``greys[0]`` and ``greys[-1]``, in order, carried from ``start`` (the probabilities
    of ``greys[0]``, a keyframe) and from ``end`` (those of ``greys[-1]``). Either may be
    None, for the frames before the first or after the last keyframe: then the frames
    run to that end of ``greys`` (only ``start``: greys[1:]; only ``end``: greys[:-1]).

    Memory: the flows and the backward estimates of the span are kept (as float16,
    about 3.5 MB a frame at 640×360), the forward ones are not."""
    if start is None and end is None:
        raise ValueError("a span needs a keyframe at one end at least")
    m = len(greys)
    flows = FlowPair(params)
    pairs = [flows(greys[t], greys[t + 1]) for t in range(m - 1)]  # (b→a, a→b) of (t, t+1)
    pairs = [(ba.astype(np.float16), ab.astype(np.float16)) for ba, ab in pairs]
    lo = 1 if start is not None else 0
    hi = m - 1 if end is not None else m  # the frames estimated: lo .. hi-1
    behind: list[tuple[np.ndarray, np.ndarray] | None] = [None] * m
    if end is not None:
        state = (end, np.ones(end.shape[:2], np.float32))
        for t in range(m - 2, lo - 1, -1):
            ab, ba = pairs[t]  # carried from t+1 to t: "b" is t
            state = carry(*state, ba.astype(np.float32), ab.astype(np.float32), params)
            behind[t] = (state[0].astype(np.float16), state[1].astype(np.float16))
    ahead = None if start is None else (start, np.ones(start.shape[:2], np.float32))
    for t in range(lo, hi):
        if ahead is not None:
            ba, ab = pairs[t - 1]
            ahead = carry(*ahead, ba.astype(np.float32), ab.astype(np.float32), params)
        back = behind[t]
        behind[t] = None
        if back is not None:
            back = (back[0].astype(np.float32), back[1].astype(np.float32))
        yield (t, *blend(ahead, back))
