"""What a session must hold to be read at all, and whether its clock can be trusted.

:class:`drivers.session.SessionReader` runs :func:`check_stream` on every stream when
it opens a file, so a session that breaks the format (a float32 thermal stream, colour
frames without three channels, a missing ``timestamps`` dataset, a negative ``count``)
is refused with one line naming the dataset — instead of exporting all-white PNGs,
feeding a model the wrong array or reading 25 of 30 frames without a word.

Timestamps are different: a recording whose clock jumped (NaN from a dead device
clock, a host clock set backwards) still holds good frames that ``info``, ``export``
and ``repair`` can use. The reader therefore *flags* them (:func:`timestamp_problem`)
and the commands that match frames by time — autolabel, replay, calibrate, stats —
refuse such a stream with that line; ``info`` shows it as a warning and the review
window shows the thermal frames without their RGB partners.
"""

from __future__ import annotations

import h5py
import numpy as np

#: Frame dtypes and frame rank (N, H, W[, C]) per stream kind, from the session format
#: (docs/formats/session.md, "Streams"); colour frames have 3 channels. A stream of a
#: kind not listed (a third-party driver's) only needs (N, H, W[, C]) frames.
FRAME_FORMATS: dict[str, tuple[tuple[str, ...], int]] = {
    "thermal": (("uint16",), 3),
    "depth": (("uint16",), 3),
    "color": (("uint8",), 4),
    "ir": (("uint16", "uint8"), 3),
}

#: Per-stream datasets every reader needs (the rest have defaults).
REQUIRED = ("frames", "timestamps")

#: Per-frame datasets: which dtype kinds they may have (numpy ``dtype.kind``).
_ROW_KINDS = {
    "timestamps": "f",
    "indices": "iu",
    "device_timestamps": "f",
    "meta": "OSU",
}

#: Truth datasets per stream: dtype kinds and the shape of one row (H, W: the frame's).
_TRUTH = {"labels": ("u", 2), "keypoints": ("f", 2), "board_pose": ("f", 2)}


def check_stream(name: str, g: h5py.Group, truth: h5py.Group | None) -> str | None:
    """Why stream ``name`` (its group ``g``, and its truth group) breaks the session
    format, as "<dataset>: <what>", or None when it can be read."""
    where = f"/streams/{name}"
    if not isinstance(g, h5py.Group):
        return f"{where} is not a group"
    for key in REQUIRED:
        if not isinstance(g.get(key), h5py.Dataset):
            return f"{where}/{key} is missing"
    frames = g["frames"]
    kind = g.attrs.get("kind", name)
    kind = kind.decode("utf-8", "replace") if isinstance(kind, bytes) else str(kind)
    dtypes, rank = FRAME_FORMATS.get(kind, ((), 0))
    if frames.ndim not in (3, 4) or (rank and frames.ndim != rank):
        want = f"{rank - 1}-D" if rank else "2-D or 3-D"
        return (
            f"{where}/frames holds {frames.ndim - 1}-D frames of shape {frames.shape[1:]},"
            f" but {kind} frames are {want}"
        )
    if kind == "color" and frames.shape[3] != 3:
        return f"{where}/frames has {frames.shape[3]} channels, colour frames have 3 (RGB)"
    if min(frames.shape[1:3]) < 1:
        return f"{where}/frames has empty frames {frames.shape[1:]}"
    if dtypes and str(frames.dtype) not in dtypes:
        return (
            f"{where}/frames is {frames.dtype}, but {kind} frames are"
            f" {' or '.join(dtypes)} (docs/formats/session.md)"
        )
    for key, kinds in _ROW_KINDS.items():
        ds = g.get(key)
        if ds is None:
            continue
        if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or ds.dtype.kind not in kinds:
            return f"{where}/{key} is not a list of one value per frame"
    count = g.get("count")
    if count is not None:
        problem = count_problem(count)
        if problem:
            return f"{where}/count {problem}"
    if "depth_scale" in g.attrs:
        scale = np.asarray(g.attrs["depth_scale"])
        if scale.dtype.kind not in "iuf" or scale.size != 1 or not 0 < float(scale) < np.inf:
            return f"{where} depth_scale is {g.attrs['depth_scale']!r}, not metres per unit"
    if truth is not None and name in truth:
        return _truth_problem(name, truth[name], frames.shape[1:3])
    return None


def count_problem(ds: object) -> str | None:
    """Why a ``count`` dataset is not one non-negative integer, or None."""
    if not isinstance(ds, h5py.Dataset) or ds.shape != (1,) or ds.dtype.kind not in "iu":
        return "is not one integer"
    if int(ds[0]) < 0:
        return f"is {int(ds[0])}, a negative number of frames"
    return None


def _truth_problem(name: str, g: h5py.Group, frame_hw: tuple[int, int]) -> str | None:
    where = f"/truth/{name}"
    if not isinstance(g, h5py.Group):
        return f"{where} is not a group"
    for key, (kinds, row_rank) in _TRUTH.items():
        ds = g.get(key)
        if ds is None:
            continue
        if (
            not isinstance(ds, h5py.Dataset)
            or ds.ndim != 1 + row_rank
            or ds.dtype.kind not in kinds
        ):
            return f"{where}/{key} is not of the truth format"
        if key == "labels" and ds.shape[1:] != tuple(frame_hw):
            return f"{where}/labels are {ds.shape[1:]}, the frames {tuple(frame_hw)}"
        if key == "keypoints" and ds.shape[2] != 2:
            return f"{where}/keypoints are not (x, y) points"
        if key == "board_pose" and ds.shape[1:] != (4, 4):
            return f"{where}/board_pose is not 4x4 poses"
    return None


def timestamp_problem(name: str, ts: np.ndarray) -> str | None:
    """What is wrong with stream ``name``'s timestamps (one phrase), or None when they
    are finite and never go backwards (equal neighbours are allowed: two frames in one
    clock tick)."""
    bad = np.flatnonzero(~np.isfinite(ts))
    if len(bad):
        return (
            f"{len(bad)} of {len(ts)} {name} timestamps are NaN or infinite"
            f" (first at frame {int(bad[0])})"
        )
    back = np.flatnonzero(np.diff(ts) < 0)
    if len(back):
        step = float(ts[back[0]] - ts[back[0] + 1])
        return (
            f"{name} timestamps go backwards {len(back)} time(s)"
            f" (first at frame {int(back[0]) + 1}, by {step:.3g} s)"
        )
    return None
