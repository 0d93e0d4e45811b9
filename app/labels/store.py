"""LabelStore: the label sidecar of one session, opened for review and correction.

GUI-free; the review window is one view of it. Reading is lazy (a 10-minute session's
masks do not fit in memory twice), edits live in memory per edited frame and in the
journal (:mod:`app.labels.journal`) until :meth:`LabelStore.save` writes a new sidecar
atomically. Every edit is one undoable step, stored as the changed region of each
frame it touched plus the row flags, so a brush stroke costs its bounding box, not a
frame, and undo covers status changes too.

Provenance: painting keeps the row's ``source`` (projected, model) — where the mask
came from — and marks it ``corrected`` and ``edited``; an unlabeled row becomes
``manual``. ``edited`` (an extra per-row dataset) is what protects a person's work from
later machine runs even if its status is set back to unreviewed (see
:class:`app.labels.sidecar_writer.LabelWriter`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import h5py
import numpy as np

from app.labels.history import History
from app.labels.journal import Change, Journal, Record, TimeSpent
from app.labels.recovery import SAVED, read_state, set_aside
from app.labels.review_time import ReviewTimes
from app.labels.sidecar import (
    SOURCE_MANUAL,
    SOURCE_NONE,
    STATUS_ACCEPTED,
    STATUS_CORRECTED,
    STATUS_REJECTED,
    STATUS_UNREVIEWED,
    LabelReader,
    LabelsError,
)
from app.labels.sidecar_writer import add_unlabeled_stream
from app.labels.store_rows import bbox, create_empty, flags_of, sizes
from calibration.projection import frame_confidences
from drivers.atomic import atomic_path
from drivers.locks import LockFile
from drivers.session import SessionReader
from drivers.truth import DEFAULT_CLASSES, UNKNOWN_LABEL
from drivers.write_failures import h5_for_writing


class LabelStore:
    """Per frame and stream: mask, source, status, keypoints; edits journaled.

    The store holds the label file's lock (:class:`drivers.locks.LockFile`) from open
    to close: no machine run or second editor can replace the file under it.
    """

    def __init__(self, labels_path: Path, session_path: Path, lock: LockFile | None = None):
        self.path = labels_path
        self.session_path = session_path
        self._lock = lock
        self._f = h5py.File(labels_path, "r")
        self._load_rows()
        self._masks: dict[tuple[str, int], np.ndarray] = {}
        self._frame_conf: dict[str, np.ndarray] = {}
        self.history = History()
        self._journal = Journal(Journal.path_for(labels_path))
        self.dirty = False
        self.recovered = 0
        #: One line about a journal that did not simply replay (damaged, replaced
        #: file, impossible edits); "" when there is nothing to tell.
        self.recovery_note = ""

    # -- opening -------------------------------------------------------------------
    @classmethod
    def open(cls, labels_path: str | os.PathLike, session_path: str | os.PathLike) -> LabelStore:
        """Open (or create: thermal labels of the default classes, all unlabeled) the
        sidecar of a session and recover the edits a killed editor left in its journal.
        LockHeld (a ThermorigError) while another program writes the file."""
        labels_path, session_path = Path(labels_path), Path(session_path)
        if not session_path.is_file():
            raise LabelsError(f"session not found: {session_path}")
        lock = LockFile.take(labels_path, "thermorig review")
        try:
            if not labels_path.exists():
                create_empty(labels_path, session_path, DEFAULT_CLASSES, ("thermal",), lock)
            with LabelReader(labels_path, check_journal=False) as lr:
                lr.check_session(session_path)
            store = cls(labels_path, session_path, lock)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        try:
            store._check_shapes()
            store._recover()
        except BaseException:
            store.close(save=False)
            raise
        return store

    def _load_rows(self) -> None:
        f = self._f
        self.generation = LabelReader.generation_of(f)
        self.journal_applied = str(f.attrs.get("journal_applied", ""))
        self.classes: list[str] = LabelReader.classes_of(f)
        self.streams = LabelReader.streams_of(f)
        self._flags = {s: flags_of(f[s]) for s in self.streams}
        #: Active review seconds per frame (app.labels.review_time), saved with the edits.
        self.review_times = ReviewTimes()
        self.review_times.load(f, self.streams)

    def _check_shapes(self) -> None:
        with SessionReader(self.session_path) as s:
            for st in self.streams:
                if st not in s.streams:
                    continue
                fshape, lshape = tuple(s.streams[st].shape[:2]), self.shape(st)
                if fshape != lshape:
                    self.close(save=False)
                    raise LabelsError(
                        f"{self.path} has {st} labels of {lshape} but the session's"
                        f" {st} frames are {fshape}; give the labels of this session"
                    )

    def _recover(self) -> None:
        """Apply the journal's pending edits; copy it aside first if any of it cannot
        be applied (:mod:`app.labels.recovery`), then start it afresh holding them."""
        layout = {s: LabelReader.layout_of(self._f[s]) for s in self.streams}
        state = read_state(
            self.path, self.generation, self.journal_applied, layout, len(self.classes)
        )
        aside = set_aside(state.path) if state.keep_aside else None
        records: list[Record] = []
        if state.exact:
            records = state.edits
            for r in records:
                self._apply(r.changes)
                if r.kind == "do":
                    self.history.push(r)
                elif r.kind == "undo":
                    self.history.pop_undo()
                elif r.kind == "redo":
                    self.history.pop_redo()
        elif state.pending:
            for r in state.edits:
                step = self._replay(r)
                if step.changes:
                    self.history.push(step)
                    records.append(step)
        self.recovered = state.pending
        self.recovery_note = state.note(self.path, len(records), aside)
        times = state.times if state.origin != SAVED else []  # saved: in the file already
        for t in times:
            self.review_times.add(t)
        self.dirty = bool(records)
        self._journal.start(self.generation, records, times)

    def _replay(self, r: Record) -> Record:
        """``r``'s new regions and row flags applied to the rows as they are now, as a
        step whose old values are the true ones (so undo restores this file, not the
        one the edit was made on); changes that alter nothing are left out."""
        changes = []
        for c in r.changes:
            h, w = c.new.shape
            old = self.mask(c.stream, c.frame)[c.y0 : c.y0 + h, c.x0 : c.x0 + w]
            flags = tuple(int(v) for v in self._flags[c.stream][c.frame])
            step = Change(c.stream, c.frame, c.y0, c.x0, old, c.new, flags, c.flags_new)
            if flags != tuple(c.flags_new) or not np.array_equal(old, c.new):
                self._apply([step])
                changes.append(step)
        return Record("do", r.label or r.kind, changes)

    # -- reading -------------------------------------------------------------------
    def count(self, stream: str) -> int:
        flags = self._flags.get(stream)  # in memory: an HDF5 lookup costs ms per call
        return len(flags) if flags is not None else int(self._group(stream)["masks"].shape[0])

    def shape(self, stream: str) -> tuple[int, int]:
        return tuple(self._group(stream)["masks"].shape[1:3])

    def mask(self, stream: str, i: int) -> np.ndarray:
        m = self._masks.get((stream, i))
        return m.copy() if m is not None else self._group(stream)["masks"][i]

    def source(self, stream: str) -> np.ndarray:
        return self._flags[stream][:, 0].copy()

    def status(self, stream: str) -> np.ndarray:
        return self._flags[stream][:, 1].copy()

    def edited(self, stream: str) -> np.ndarray:
        return self._flags[stream][:, 2].astype(bool)

    def confidence(self, stream: str) -> np.ndarray | None:
        g = self._group(stream)
        return g["confidence"][()] if "confidence" in g else None

    def frame_confidence(self, stream: str) -> np.ndarray:
        """Per frame, the lowest transfer confidence of its classes (NaN: none). Review
        never edits confidences, so it is computed once per stream."""
        if stream not in self._frame_conf:
            conf = self.confidence(stream)
            self._frame_conf[stream] = (
                np.full(self.count(stream), np.nan) if conf is None else frame_confidences(conf)
            )
        return self._frame_conf[stream].copy()

    def keypoints(self, stream: str, i: int) -> np.ndarray | None:
        g = self._group(stream)
        return g["keypoints"][i] if "keypoints" in g else None

    def keypoint_names(self, stream: str) -> list[str]:
        g = self._group(stream)
        return LabelReader.names_of(g["keypoints"]) if "keypoints" in g else []

    def queue(self, stream: str) -> np.ndarray:
        """Frames worst first: unreviewed by rising confidence (none first), then the rest."""
        conf = self.frame_confidence(stream)
        key = np.where(np.isnan(conf), -1.0, conf)
        unrev = self.status(stream) == STATUS_UNREVIEWED
        order = np.lexsort((np.arange(len(key)), key, ~unrev))
        return order

    def next_unreviewed(self, stream: str, i: int) -> int | None:
        idx = np.flatnonzero(self.status(stream) == STATUS_UNREVIEWED)
        later = idx[idx > i]
        if later.size:
            return int(later[0])
        return int(idx[0]) if idx.size else None

    def _group(self, stream: str) -> h5py.Group:
        if stream not in self.streams:
            have = ", ".join(self.streams) or "none"
            raise LabelsError(f"{self.path} has no labels for stream '{stream}' (it has {have})")
        return self._f[stream]

    # -- editing -------------------------------------------------------------------
    def set_mask(self, stream: str, i: int, new_mask: np.ndarray, label: str = "brush") -> bool:
        """Replace frame ``i``'s mask (one undo step); False when nothing changed."""
        return self._do(label, [self._mask_change(stream, i, new_mask)])

    def propagate(self, stream: str, src: int, dst: int) -> bool:
        """Copy frame ``src``'s mask into frame ``dst`` (one step)."""
        return self.set_mask(stream, dst, self.mask(stream, src), label=f"propagate {src}")

    def set_status(self, stream: str, i: int, status: int) -> bool:
        if status not in (STATUS_UNREVIEWED, STATUS_ACCEPTED, STATUS_CORRECTED, STATUS_REJECTED):
            raise LabelsError(f"unknown label status {status}")
        old = tuple(int(v) for v in self._flags[stream][i])
        new = (old[0], int(status), old[2])
        empty = np.zeros((0, 0), np.uint8)
        return self._do("status", [Change(stream, i, 0, 0, empty, empty, old, new)])

    def record_time(self, stream: str, frame: int, seconds: float, source: int) -> None:
        """Journal ``seconds`` of active review on ``frame`` that started from ``source``
        (app.review.effort measures them); saving writes the totals."""
        t = TimeSpent(stream, int(frame), float(seconds), int(source))
        self._journal.append(t)
        self.review_times.add(t)

    def accept(self, stream: str, i: int) -> bool:
        return self.set_status(stream, i, STATUS_ACCEPTED)

    def reject(self, stream: str, i: int) -> bool:
        return self.set_status(stream, i, STATUS_REJECTED)

    def _mask_change(self, stream: str, i: int, new_mask: np.ndarray) -> Change:
        h, w = self.shape(stream)
        new_mask = np.asarray(new_mask)
        if new_mask.shape != (h, w):
            raise LabelsError(f"a {stream} mask is {(h, w)}, not {new_mask.shape}")
        cur = self.mask(stream, i)
        old_flags = tuple(int(v) for v in self._flags[stream][i])
        box = bbox(cur != new_mask)
        if box is None:
            empty = np.zeros((0, 0), np.uint8)
            return Change(stream, i, 0, 0, empty, empty, old_flags, old_flags)
        y0, y1, x0, x1 = box
        # Only the changed box is checked: a whole frame's np.unique costs a brush
        # stroke's commit milliseconds, and the rest of the mask is what it was.
        new_ids = np.unique(new_mask[y0:y1, x0:x1])
        bad = np.setdiff1d(new_ids, [*range(len(self.classes)), UNKNOWN_LABEL])
        if bad.size:
            raise LabelsError(
                f"class id {int(bad[0])} is not one of this file's {len(self.classes)} classes"
            )
        source = SOURCE_MANUAL if old_flags[0] == SOURCE_NONE else old_flags[0]
        return Change(
            stream, i, y0, x0,
            cur[y0:y1, x0:x1].copy(), new_mask[y0:y1, x0:x1].astype(np.uint8),
            old_flags, (source, STATUS_CORRECTED, 1),
        )  # fmt: skip

    def _do(self, label: str, changes: list[Change]) -> bool:
        changes = [c for c in changes if c.old.size or c.flags_old != c.flags_new]
        if not changes:
            return False
        record = Record("do", label, changes)
        self._journal.append(record)
        self._apply(changes)
        self.history.push(record)
        self.dirty = True
        return True

    def undo(self) -> tuple[str, int] | None:
        r = self.history.undo[-1] if self.history.undo else None
        if r is None:
            return None
        inv = [c.inverse() for c in reversed(r.changes)]
        self._journal.append(Record("undo", r.label, inv))
        self.history.pop_undo()
        self._apply(inv)
        self.dirty = True
        return r.changes[0].stream, r.changes[0].frame

    def redo(self) -> tuple[str, int] | None:
        r = self.history.redo[-1] if self.history.redo else None
        if r is None:
            return None
        self._journal.append(Record("redo", r.label, r.changes))
        self.history.pop_redo()
        self._apply(r.changes)
        self.dirty = True
        return r.changes[0].stream, r.changes[0].frame

    @property
    def can_undo(self) -> bool:
        return bool(self.history.undo)

    @property
    def can_redo(self) -> bool:
        return bool(self.history.redo)

    def _apply(self, changes: list[Change]) -> None:
        for c in changes:
            if c.new.size:
                key = (c.stream, c.frame)
                m = self._masks.get(key)
                if m is None:
                    m = self._masks[key] = self._group(c.stream)["masks"][c.frame]
                h, w = c.new.shape
                m[c.y0 : c.y0 + h, c.x0 : c.x0 + w] = c.new
            self._flags[c.stream][c.frame] = c.flags_new

    def add_stream(self, stream: str) -> None:
        """Unlabeled rows for ``stream`` (the RGB side of a review of thermal labels) added
        to the file now; edits and journal stay valid (see add_unlabeled_stream)."""
        if stream in self.streams:
            return
        n, shape = sizes(self.session_path, (stream,))[stream]
        self._f.close()  # the open file must go before the replace (Windows)
        try:
            add_unlabeled_stream(self.path, stream, n, shape)
        finally:
            self._f = h5py.File(self.path, "r")
        self.streams = LabelReader.streams_of(self._f)
        self._flags[stream] = flags_of(self._f[stream])
        self.review_times.track(stream, self._f[stream])

    # -- saving --------------------------------------------------------------------
    def save(self) -> None:
        """Write a new sidecar holding every edit and the review time (atomically) and
        start a new journal."""
        if not self.dirty and not self.review_times.pending:
            return
        self._check_not_replaced()
        generation = uuid.uuid4().hex
        try:
            with atomic_path(self.path) as tmp:
                shutil.copyfile(self.path, tmp)
                with h5_for_writing(tmp, "r+") as f:  # a full disk: let go, tmp removed
                    for (stream, i), m in self._masks.items():
                        f[stream]["masks"][i] = m
                    for stream, flags in self._flags.items():
                        g = f[stream]
                        g["source"][...] = flags[:, 0]
                        g["status"][...] = flags[:, 1]
                        if "edited" not in g:
                            g.create_dataset("edited", data=flags[:, 2])
                        else:
                            g["edited"][...] = flags[:, 2]
                    self.review_times.write(f)
                    f.attrs["generation"] = generation
                    f.attrs["journal_applied"] = self.generation  # its journal is in
                self._f.close()  # The open file must go before the replace (Windows).
        except BaseException:
            if not self._f.id.valid:
                self._f = h5py.File(self.path, "r")
            raise
        self._f = h5py.File(self.path, "r")
        self.journal_applied, self.generation = self.generation, generation
        self._masks.clear()
        self.review_times.load(self._f, self.streams)
        self._journal.start(generation)
        self.dirty = False

    def _check_not_replaced(self) -> None:
        """Refuse to save over a file another program replaced while this one was open
        (possible only where the file system has no locks): the edits stay in the
        journal, which replays them onto that file when it is opened again."""
        with h5py.File(self.path, "r") as f:
            now = LabelReader.generation_of(f)
        if now != self.generation:
            raise LabelsError(
                f"{self.path.name} was replaced by another program while open; your edits"
                " stay in the journal and are replayed onto it when you open it again"
            )

    def close(self, save: bool = True) -> None:
        """Save (unless ``save`` is False: the edits stay in the journal), close the
        files and give the lock up — also when saving fails."""
        try:
            if save and self._f.id.valid:
                self.save()
        finally:
            self._journal.close()
            if self._f.id.valid:
                self._f.close()
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
