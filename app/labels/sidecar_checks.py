"""The label sidecar's schema, checked when a label file is opened.

A label file edited by hand or by another tool (classes that are not JSON, a status
column of the wrong length or with codes 0-3 exceeded, float masks) used to fail deep
inside stats, export or review with a traceback, or to be read as something it is not.
:class:`app.labels.sidecar.LabelReader` (and through it the review store) runs
:func:`sidecar_problem` first and refuses such a file with one line naming the dataset.

What is checked is what every reader relies on: the attributes' types, each stream's
datasets' dtype, rank and length, and the per-row codes' ranges (cheap: one byte a
frame). Mask *values* are not scanned — that would read every mask of a long session —
and need not be: every consumer treats ids outside the classes as unknown
(:func:`models.metrics.joint_histogram`).
"""

from __future__ import annotations

import json
from typing import Any

import h5py
import numpy as np

#: Per-row code datasets: the largest code each may hold (source, status: 0-3; edited: 0-1).
CODE_LIMITS = {"source": 3, "status": 3, "edited": 1}
#: Per-row datasets every stream has (``edited`` came later and may be absent).
REQUIRED_ROWS = ("source", "status")
#: The most classes a uint8 mask can name (255 is "unknown").
MAX_CLASSES = 255


def _text(v: Any) -> str | None:
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return v if isinstance(v, str) else None


def names_problem(raw: Any, what: str, max_names: int | None = None) -> str | None:
    """Why attribute ``raw`` is not JSON text of a list of names, or None."""
    text = _text(raw)
    if text is None:
        return f"{what} is not text"
    try:
        names = json.loads(text)
    except (ValueError, RecursionError):
        return f"{what} is not JSON ({text[:40]!r})"
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return f"{what} is not a JSON list of names"
    if max_names is not None and len(names) > max_names:
        return f"{what} names {len(names)} classes, a label file holds at most {max_names}"
    return None


def sidecar_problem(f: h5py.File) -> str | None:
    """Why the open label file ``f`` breaks the label format (one phrase naming the
    attribute or dataset), or None when every reader can use it."""
    problem = names_problem(f.attrs.get("classes", "[]"), "attribute 'classes'", MAX_CLASSES)
    if problem:
        return problem
    n_classes = len(json.loads(_text(f.attrs.get("classes", "[]")) or "[]"))
    for key in ("session", "session_hash", "generation"):
        if key in f.attrs and _text(f.attrs[key]) is None:
            return f"attribute '{key}' is not text"
    for name, g in f.items():
        if isinstance(g, h5py.Group) and "masks" in g:
            problem = _stream_problem(g, n_classes)
            if problem:
                return f"/{name}/{problem}"
    return None


def _stream_problem(g: h5py.Group, n_classes: int) -> str | None:
    masks = g["masks"]
    if not isinstance(masks, h5py.Dataset) or masks.ndim != 3 or masks.dtype != np.uint8:
        what = (
            f"{masks.dtype} of shape {masks.shape}"
            if isinstance(masks, h5py.Dataset)
            else "a group"
        )
        return f"masks is {what}, not (N, H, W) uint8 class ids"
    n, h, w = masks.shape
    if min(h, w) < 1:
        return f"masks are empty ({h}x{w})"
    for key in REQUIRED_ROWS:
        if key not in g:
            return f"{key} is missing"
    shapes = {
        "source": (n,),
        "status": (n,),
        "edited": (n,),
        "confidence": (n, n_classes),
        "validity": (n, h, w),
        "time_gap": (n,),
        "review_seconds": (n,),
        "review_source": (n,),
    }
    kinds = {"confidence": "f", "time_gap": "f", "validity": "u", "review_seconds": "f"}
    for key, shape in shapes.items():
        ds = g.get(key)
        if ds is None:
            continue
        if not isinstance(ds, h5py.Dataset) or ds.shape != shape:
            have = ds.shape if isinstance(ds, h5py.Dataset) else "a group"
            return f"{key} is {have}, expected {shape} (one row per mask)"
        if ds.dtype.kind not in kinds.get(key, "iu"):
            return (
                f"{key} is {ds.dtype}, not {'float' if kinds.get(key) == 'f' else 'integer'} values"
            )
        if key in CODE_LIMITS and n:
            codes = ds[()]
            if codes.min() < 0 or codes.max() > CODE_LIMITS[key]:
                return (
                    f"{key} holds code {int(codes.max() if codes.max() > CODE_LIMITS[key] else codes.min())},"
                    f" outside 0-{CODE_LIMITS[key]}"
                )
    kp = g.get("keypoints")
    if kp is not None:
        if not isinstance(kp, h5py.Dataset) or kp.ndim != 3 or kp.shape[0] != n or kp.shape[2] != 2:
            return "keypoints is not (N, K, 2) points, one row per mask"
        if kp.dtype.kind != "f":
            return f"keypoints is {kp.dtype}, not float coordinates"
        problem = names_problem(kp.attrs.get("names", "[]"), "keypoints attribute 'names'")
        if problem:
            return problem
        if len(json.loads(_text(kp.attrs.get("names", "[]")) or "[]")) != kp.shape[1]:
            return "keypoints attribute 'names' does not name every keypoint"
    return None
