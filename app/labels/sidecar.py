"""The label sidecar (HDF5, format ``thermorig-labels`` version 1): its format, and reading
it (writing it: :mod:`app.labels.sidecar_writer`).

The layout (documented in docs/formats/labels.md, kept in step by tests/test_docs.py):

```
/                       attrs format, version, classes (json list), session (path of
                              the session file), session_hash (see session_fingerprint),
                              generation (a new id per write; see app.labels.journal),
                              journal_applied (the generation a review save absorbed)
/<stream>               attrs provenance (optional): one line, where the stream's
                              machine labels came from
/<stream>/masks         (N,H,W) uint8 class ids; 255 = not labeled (one frame per chunk)
/<stream>/source        (N,) uint8: 0 none, 1 projected, 2 model, 3 manual
/<stream>/status        (N,) uint8: 0 unreviewed, 1 accepted, 2 corrected, 3 rejected
/<stream>/edited        (N,) uint8: 1 where a person changed the mask (review editor)
/<stream>/confidence    (N,C) float32 per class, NaN where the class is absent (optional)
/<stream>/validity      (N,H,W) uint8 reason codes of calibration.projection (optional)
/<stream>/time_gap      (N,) float64 seconds between the frame and the frames its
                              label came from, NaN where not applicable (optional)
```

A label file is written whole, to a temporary file beside the target that replaces it
only when complete (``os.replace``): a crash leaves the old file, never half a file.
Streams of an existing file that are not rewritten are carried over; rows of a
rewritten stream that a person made, edited or reviewed (source manual, edited, or
status other than unreviewed) are kept, not overwritten by machine labels. The session is never touched.
One writer at a time: a writer holds ``LABELS.h5.lock`` (:class:`drivers.locks.LockFile`)
while it reads the old file and replaces it, and rewrites a file only for its own session.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from app.labels.journal import Journal
from app.labels.recovery import Layout, read_state
from app.labels.sidecar_checks import sidecar_problem
from drivers.errors import ThermorigError, one_line
from drivers.fingerprint import HASH_METHOD, session_fingerprint  # noqa: F401 (re-exported)
from drivers.hdf5_superblock import superblock_problem

FORMAT = "thermorig-labels"
VERSION = 1

SOURCE_NONE, SOURCE_PROJECTED, SOURCE_MODEL, SOURCE_MANUAL = 0, 1, 2, 3
STATUS_UNREVIEWED, STATUS_ACCEPTED, STATUS_CORRECTED, STATUS_REJECTED = 0, 1, 2, 3

#: Names of the codes, as the command line and manifests spell them.
STATUS_NAMES = ("unreviewed", "accepted", "corrected", "rejected")
SOURCE_NAMES = ("none", "projected", "model", "manual")

#: HDF5 file format bounds of a label file: the 1.8 format's object headers carry
#: checksums, so a damaged file is reported as damaged (HDF5 1.6-format headers have
#: none, and a flipped byte in one can send the library into an endless loop).
LIBVER = ("v108", "latest")


class LabelsError(ThermorigError):
    """A label file that is missing, not a label file, or does not fit its session."""


def default_labels_path(session: str | os.PathLike) -> Path:
    """``SESSION.labels.h5`` beside the session: where every command (autolabel, infer,
    review, stats, export) writes or looks for labels when none are named."""
    session = Path(session)
    return session.with_name(f"{session.stem}.labels.h5")


def parse_statuses(text: str) -> tuple[str, ...]:
    """``accepted,corrected`` → the status names, in order, checked."""
    names = tuple(dict.fromkeys(t.strip().lower() for t in text.split(",") if t.strip()))
    bad = [n for n in names if n not in STATUS_NAMES]
    if bad or not names:
        raise LabelsError(
            f"unknown status {', '.join(bad) or repr(text)}; use a comma-separated list of"
            f" {', '.join(STATUS_NAMES)}"
        )
    return names


def _text(v: Any) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


class LabelReader:
    """Read access to a label file; use as a context manager."""

    def __init__(self, path: str | os.PathLike, *, check_journal: bool = True):
        self.path = Path(path)
        if not self.path.is_file():
            raise LabelsError(f"label file not found: {self.path}")
        if not h5py.is_hdf5(self.path):
            raise LabelsError(f"{self.path} is not an HDF5 file; give a thermorig label file")
        damage = superblock_problem(self.path)
        if damage:
            raise LabelsError(f"{self.path}: {damage}; the label file is damaged")
        try:
            self._f = h5py.File(self.path, "r")
        except (OSError, RuntimeError) as exc:
            raise LabelsError(
                f"cannot open {self.path}: {one_line(exc)}; the file is damaged"
            ) from None
        try:
            self._load()
        except LabelsError:
            self._f.close()
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
            self._f.close()
            raise LabelsError(
                f"cannot read {self.path}: {one_line(exc)}; the label file is damaged"
            ) from None
        if check_journal:
            self._refuse_pending_edits()

    def _load(self) -> None:
        fmt = _text(self._f.attrs.get("format", ""))
        if fmt != FORMAT:
            raise LabelsError(
                f"{self.path} is not a thermorig label file (format {fmt or 'missing'!r})"
            )
        version = int(self._f.attrs.get("version", 0))
        if version > VERSION:
            raise LabelsError(
                f"{self.path} has label format version {version}; this thermorig reads up"
                f" to {VERSION}: update thermorig"
            )
        problem = sidecar_problem(self._f)
        if problem:
            raise LabelsError(
                f"{self.path}: {problem}; the label file is damaged or was not written by thermorig"
            )
        self.classes: list[str] = self.classes_of(self._f)
        self.session = _text(self._f.attrs.get("session", ""))
        self.session_hash = _text(self._f.attrs.get("session_hash", ""))
        self.generation = self.generation_of(self._f)
        self.journal_applied = _text(self._f.attrs.get("journal_applied", ""))
        self.streams = self.streams_of(self._f)

    def layout(self) -> Layout:
        """(rows, height, width) per stream: what a journal's edits must fit."""
        return {s: self.layout_of(self._f[s]) for s in self.streams}

    @staticmethod
    def layout_of(g: h5py.Group) -> tuple[int, int, int]:
        shape = tuple(g["masks"].shape)
        return shape if len(shape) == 3 else (0, 0, 0)

    def _refuse_pending_edits(self) -> None:
        """A sidecar whose review journal holds unsaved edits is not what it says: the
        edits (of a review window still open, or killed) are not in it yet. Records
        that cannot apply to this file are no reason to refuse it (review sets them
        aside)."""
        state = read_state(
            self.path, self.generation, self.journal_applied, self.layout(), len(self.classes)
        )
        if state.pending:
            self._f.close()
            raise LabelsError(
                f"{self.path} has {state.pending} unsaved review edit(s) in"
                f" {Journal.path_for(self.path).name}{state.why_pending()}; save or close the"
                " review window (or run `thermorig review` on it to recover them) first"
            )

    # The open file's facts, shared with app.labels.store (which keeps its file open).
    @staticmethod
    def classes_of(f: h5py.File) -> list[str]:
        return json.loads(_text(f.attrs.get("classes", "[]")))

    @staticmethod
    def streams_of(f: h5py.File) -> list[str]:
        return [n for n, g in f.items() if isinstance(g, h5py.Group) and "masks" in g]

    @staticmethod
    def generation_of(f: h5py.File) -> str:
        return _text(f.attrs.get("generation", ""))

    @staticmethod
    def names_of(ds: h5py.Dataset) -> list[str]:
        return json.loads(_text(ds.attrs.get("names", "[]")))

    def datasets(self, stream: str) -> list[str]:
        """Names of ``stream``'s datasets (masks, source, status and the optional ones)."""
        return list(self._group(stream))

    def keypoint_names(self, stream: str) -> list[str]:
        """Names of ``stream``'s keypoints, in column order ([] without keypoints)."""
        g = self._group(stream)
        return self.names_of(g["keypoints"]) if "keypoints" in g else []

    def provenance(self, stream: str) -> str:
        """Where ``stream``'s machine labels came from ("" when the writer did not say)."""
        return _text(self._group(stream).attrs.get("provenance", ""))

    def _group(self, stream: str) -> h5py.Group:
        if stream not in self.streams:
            have = ", ".join(self.streams) or "none"
            raise LabelsError(f"{self.path} has no labels for stream '{stream}' (it has {have})")
        return self._f[stream]

    def count(self, stream: str) -> int:
        return int(self._masks(stream).shape[0])

    def shape(self, stream: str) -> tuple[int, int]:
        return tuple(self._masks(stream).shape[1:3])

    def _masks(self, stream: str) -> h5py.Dataset:
        masks = self._read(stream, "masks", None)
        if masks is None:
            raise LabelsError(f"{self.path} has no /{stream}/masks; the file is damaged")
        return masks

    def mask(self, stream: str, i: int) -> np.ndarray:
        return self._read(stream, "masks", i)

    def array(self, stream: str, name: str) -> np.ndarray | None:
        """A per-frame dataset (source, status, confidence, time_gap) whole, or None."""
        return self._read(stream, name, ())

    def row(self, stream: str, name: str, i: int) -> np.ndarray | None:
        return self._read(stream, name, i)

    def _read(self, stream: str, name: str, index: Any) -> Any:
        """``index`` of dataset ``name`` of ``stream`` (the dataset itself for None;
        None if absent); damage HDF5 finds (OSError, KeyError, RuntimeError: a bad
        chunk, a bad checksum) as a LabelsError naming the dataset."""
        try:
            g = self._group(stream)
            if name not in g:
                return None
            return g[name] if index is None else g[name][index]
        except (OSError, KeyError, RuntimeError) as exc:
            raise LabelsError(
                f"cannot read /{stream}/{name} of {self.path}: {one_line(exc)}; the file is damaged"
            ) from None

    def check_session(self, session_path: str | os.PathLike) -> None:
        """LabelsError unless this file was made from ``session_path`` (by content)."""
        if self.session_hash and self.session_hash != session_fingerprint(session_path):
            raise LabelsError(
                f"{self.path} was made from another session ({self.session or 'unknown'}),"
                f" not {session_path}; give the matching session"
            )

    def close(self) -> None:
        if self._f.id.valid:
            self._f.close()

    def __enter__(self) -> LabelReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
