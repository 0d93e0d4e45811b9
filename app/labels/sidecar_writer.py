"""Writing a label sidecar (:mod:`app.labels.sidecar` holds its format and reader).

A label file is written whole, to a temporary file beside the target that replaces it
only when complete: a crash leaves the old file, never half a file. One writer at a
time, holding the file's lock, and only for the file's own session.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, NoReturn

import h5py
import numpy as np

from app.labels.review_time import carry as carry_review_time
from app.labels.sidecar import (
    FORMAT,
    LIBVER,
    SOURCE_MANUAL,
    SOURCE_NONE,
    STATUS_UNREVIEWED,
    VERSION,
    LabelReader,
    LabelsError,
    session_fingerprint,
)
from drivers.atomic import atomic_path, replace_durably, temp_beside
from drivers.locks import LockFile
from drivers.stop_request import Interrupted
from drivers.truth import UNKNOWN_LABEL
from drivers.write_failures import (
    WRITE_ERRNOS,
    check_writable,
    discard_h5,
    error_number,
    h5_for_writing,
    left_as_it_was,
    write_error,
)


class LabelWriter:
    """Writes a label file atomically, stream by stream and row by row.

    ``create_stream`` then ``write`` each row (rows never written stay unlabeled:
    mask 255, source none), then ``commit``. Leaving the ``with`` block commits unless
    an exception is on its way, in which case the target is left untouched.

    One writer per file: the writer holds the file's lock (``LABELS.h5.lock``,
    :class:`drivers.locks.LockFile`) from before it reads the existing file until the
    new one has replaced it, so two runs cannot both read the old file and the last
    replace erase the other's work; a second writer is refused, naming the first.
    ``lock``: a lock the caller already holds (the review editor creating its file);
    ``command``: how a refused writer names this one (default: this process's command).
    An existing file is rewritten only for its own session.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        session: str | os.PathLike,
        classes: list[str] | tuple[str, ...],
        session_hash: str | None = None,
        lock: LockFile | None = None,
        command: str | None = None,
    ):
        self.path = Path(path)
        if self.path.is_dir():
            raise LabelsError(f"{self.path} is a folder; give a label file name (LABELS.h5)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._own_lock = LockFile.take(self.path, command) if lock is None else None
        self._old: LabelReader | None = None
        self._f: h5py.File | None = None
        self._closing = False
        self._datasets: dict[str, dict[str, h5py.Dataset]] = {}
        try:
            session_hash = session_hash or session_fingerprint(session)
            self._old = self._existing(classes, session, session_hash)
            check_writable(self.path.parent, str(self.path))
            self._tmp = temp_beside(self.path)
        except BaseException:
            self._release()
            raise
        try:
            self._f = h5py.File(self._tmp, "w", libver=LIBVER)
            self._f.attrs["format"] = FORMAT
            self._f.attrs["version"] = VERSION
            self._f.attrs["classes"] = json.dumps(list(classes))
            self._f.attrs["session"] = str(Path(session).absolute())
            self._f.attrs["session_hash"] = session_hash
            # A new generation: a review journal of the file this replaces is stale.
            self._f.attrs["generation"] = uuid.uuid4().hex
            if self._old is not None and self._old.journal_applied:
                # Still true of this file: it holds every row the review save did.
                self._f.attrs["journal_applied"] = self._old.journal_applied
        except BaseException as exc:
            self._give_up(exc)
        self.classes = list(classes)
        self._protected: dict[str, np.ndarray] = {}
        self.kept: dict[str, int] = {}

    def _existing(
        self, classes: list[str] | tuple[str, ...], session: str | os.PathLike, fingerprint: str
    ) -> LabelReader | None:
        """The file this one replaces, checked: same session, same classes."""
        if not self.path.exists():
            return None
        old = LabelReader(self.path)
        if old.session_hash and old.session_hash != fingerprint:
            old.close()
            raise LabelsError(
                f"{self.path} holds the labels of another session ({old.session or 'unknown'}),"
                f" not {session}; write to another file, or give its own session"
            )
        if old.classes and list(old.classes) != list(classes):
            old.close()
            raise LabelsError(
                f"{self.path} holds labels of classes {old.classes}, not {list(classes)};"
                " write to another file"
            )
        return old

    def _release(self) -> None:
        if self._old is not None:
            self._old.close()
        if self._own_lock:
            self._own_lock.release()
            self._own_lock = None

    def create_stream(
        self,
        stream: str,
        n: int,
        shape: tuple[int, int],
        extras: tuple[str, ...] = (),
        keypoint_names: tuple[str, ...] = (),
        provenance: str = "",
    ) -> None:
        """Datasets of ``stream``: ``n`` rows of ``shape`` masks, plus ``extras`` among
        confidence, validity, time_gap, keypoints ((n, K, 2) for ``keypoint_names``,
        which the dataset's ``names`` attribute lists). Reviewed rows of an existing
        file are kept. ``provenance``: one line saying where this stream's machine
        labels came from (e.g. "projected from simulated annotator (strength 0.5)"),
        so that a figure measured on the file can say what it measured."""
        g = stream_group(self._f, stream, n, shape, len(self.classes), extras, keypoint_names)
        if provenance:
            g.attrs["provenance"] = provenance
        h, w = shape
        # Kept open: a dataset opened per row writes its chunks when it is freed, where
        # a full disk's error cannot be caught (see drivers.write_failures).
        self._datasets[stream] = {name: g[name] for name in g}
        self._protected[stream] = np.zeros(n, bool)
        old = self._old
        if old is not None and stream in old.streams:
            if old.count(stream) != n or old.shape(stream) != (h, w):
                raise LabelsError(
                    f"{self.path} holds {stream} labels of another size or length;"
                    " write to another file"
                )
            source, status = old.array(stream, "source"), old.array(stream, "status")
            edited = old.array(stream, "edited")
            keep = (source == SOURCE_MANUAL) | (status != STATUS_UNREVIEWED)
            if edited is not None:
                keep |= edited.astype(bool)
            src_group = old._group(stream)
            for i in np.nonzero(keep)[0]:
                for name, ds in self._datasets[stream].items():
                    if name in src_group:
                        ds[i] = src_group[name][i]
            self._protected[stream] = keep
            self.kept[stream] = int(keep.sum())
            carry_review_time(src_group, g)

    def write(
        self,
        stream: str,
        i: int,
        mask: np.ndarray,
        source: int,
        *,
        status: int = STATUS_UNREVIEWED,
        **extras: Any,
    ) -> bool:
        """Row ``i``; False (and nothing written) where a person's row is kept."""
        if self._protected[stream][i]:
            return False
        g = self._datasets[stream]
        g["masks"][i] = mask
        g["source"][i] = source
        g["status"][i] = status
        for name, value in extras.items():
            if value is not None and name in g:
                g[name][i] = value
        return True

    def commit(self) -> None:
        """Carry over streams not rewritten, then replace the target in one step."""
        try:
            if self._old is not None:
                for stream in self._old.streams:
                    if stream not in self._f:
                        self._old._f.copy(self._old._f[stream], self._f, name=stream)
                self._old.close()
            self._f.flush()  # a full disk fails here, where the file can still be let go
            self._closing = True
            self._f.close()
            replace_durably(self._tmp, self.path)
        except BaseException as exc:
            self._give_up(exc)
        self._release()

    def abort(self) -> None:
        """Close everything, remove the temporary file and let go of the lock, without
        writing another byte (a full disk would fail again); never raises."""
        try:
            if self._f is not None and not self._closing:
                discard_h5(self._f)
        finally:
            self._tmp.unlink(missing_ok=True)
            self._release()

    def _give_up(self, exc: BaseException) -> NoReturn:
        """Abort, then raise ``exc`` as the person should hear of it: a failed write in
        one line, a stop signal saying what became of the file."""
        self.abort()
        if isinstance(exc, OSError) and error_number(exc) in WRITE_ERRNOS:
            raise write_error(exc, self.path, left_as_it_was(self.path)) from exc
        if isinstance(exc, Interrupted) and not exc.outcome:
            exc.outcome = left_as_it_was(self.path)
        raise exc

    def __enter__(self) -> LabelWriter:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            self.commit()
        else:
            self._give_up(exc)


def stream_group(
    f: h5py.File,
    stream: str,
    n: int,
    shape: tuple[int, int],
    n_classes: int,
    extras: tuple[str, ...] = (),
    keypoint_names: tuple[str, ...] = (),
) -> h5py.Group:
    """The datasets of one stream, every row unlabeled (mask 255, source none,
    unreviewed): the one layout a writer and :func:`add_unlabeled_stream` both make."""
    if n < 1:  # HDF5 cannot chunk an empty stream; nothing to label is the message.
        raise LabelsError(f"the session has no {stream} frames to label")
    g = f.create_group(stream)
    h, w = shape
    mask_opts = {"chunks": (1, h, w), "compression": "gzip", "compression_opts": 1}
    g.create_dataset("masks", (n, h, w), np.uint8, fillvalue=UNKNOWN_LABEL, **mask_opts)
    g.create_dataset("source", (n,), np.uint8, fillvalue=SOURCE_NONE)
    g.create_dataset("status", (n,), np.uint8, fillvalue=STATUS_UNREVIEWED)
    g.create_dataset("edited", (n,), np.uint8, fillvalue=0)
    for name in extras:
        if name == "confidence":
            g.create_dataset(name, (n, n_classes), np.float32, fillvalue=np.nan)
        elif name == "validity":
            g.create_dataset(name, (n, h, w), np.uint8, fillvalue=255, **mask_opts)
        elif name == "time_gap":
            g.create_dataset(name, (n,), np.float64, fillvalue=np.nan)
        elif name == "keypoints" and keypoint_names:
            k = len(keypoint_names)
            g.create_dataset(name, (n, k, 2), np.float32, fillvalue=np.nan)
            g[name].attrs["names"] = json.dumps(list(keypoint_names))
        else:
            raise ValueError(f"unknown label dataset {name!r}")
    return g


def add_unlabeled_stream(path: Path, stream: str, n: int, shape: tuple[int, int]) -> None:
    """Add ``stream`` (``n`` unlabeled rows of ``shape``) to the label file at ``path``,
    atomically (a copy with the stream added replaces it; every other byte's meaning
    is kept). The caller holds the file's lock.

    The file keeps its ``generation``: a generation names the rows a review journal's
    edits apply to, and those rows are unchanged — so edits journaled before the stream
    was added (unsaved, or left by a killed editor) still replay exactly, where a new
    generation would make them look like edits made before another program replaced
    the file."""
    with atomic_path(path) as tmp:
        shutil.copyfile(path, tmp)
        with h5_for_writing(tmp, "r+") as f:
            if stream in f:
                raise LabelsError(f"{path} has {stream} labels already")
            stream_group(f, stream, n, shape, len(LabelReader.classes_of(f)))
