"""The rows of a label file as the review store holds them, and a file for a session
nobody has labeled yet: :class:`app.labels.store.LabelStore`'s plumbing, apart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from app.labels.sidecar import LabelsError
from app.labels.sidecar_writer import LabelWriter
from drivers.locks import LockFile
from drivers.session import SessionReader


def bbox(diff: np.ndarray) -> tuple[int, int, int, int] | None:
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff[rows[0] : rows[-1] + 1].any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def flags_of(g: h5py.Group) -> np.ndarray:
    """A stream's rows as (source, status, edited), the store's in-memory row flags."""
    edited = g["edited"][()] if "edited" in g else np.zeros(g["masks"].shape[0], np.uint8)
    return np.stack([g["source"][()], g["status"][()], edited], axis=1)


def sizes(session_path: Path, streams: Sequence[str]) -> dict[str, tuple[int, tuple[int, int]]]:
    """Per stream: the session's frame count and frame shape (the label rows it needs)."""
    sizes = {}
    with SessionReader(session_path) as s:
        for st in streams:
            if st not in s.streams:
                raise LabelsError(f"{session_path} has no '{st}' stream to label")
            sizes[st] = (s.count(st), tuple(s.streams[st].shape[:2]))
    return sizes


def create_empty(
    labels_path: Path,
    session_path: Path,
    classes: Sequence[str],
    streams: Sequence[str],
    lock: LockFile | None,
) -> None:
    """A sidecar with every frame unlabeled, for a session nobody has labeled yet."""
    rows = sizes(session_path, streams)
    with LabelWriter(labels_path, session=session_path, classes=classes, lock=lock) as w:
        for st, (n, shape) in rows.items():
            w.create_stream(st, n, shape)
