"""The review journal: every label edit on disk before the editor moves on.

A label sidecar is HDF5, and HDF5 written in place by a process that is killed can be
left unreadable. So the review editor never writes the sidecar in place: each edit is
appended to a journal beside it (``LABELS.h5.journal``) and fsync'd before the call that
made it returns; saving writes a whole new sidecar atomically and starts a fresh
journal. A process killed at any moment therefore loses at most the edit it was in the
middle of writing — never a completed one.

File layout: records one after the other, each

    b"TRJ1" | uint32 payload length | uint32 CRC-32 of the payload | payload

and a payload is a uint32 length, a JSON header of that length, then the raw bytes of
the arrays the header lists. The first record is a header (``kind`` ``"header"``) that
names the sidecar's ``generation``: a journal whose generation is not the sidecar's
describes edits already saved into it (the save finished, the journal reset did not)
and is discarded. A torn last record — a kill during the write — fails its length or
CRC check; it is dropped and the file truncated to the last whole record.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drivers.atomic import atomic_write

MAGIC = b"TRJ1"
_HEAD = struct.Struct("<4sII")
_LEN = struct.Struct("<I")


@dataclass
class Change:
    """What one edit did to one frame of one stream: a mask region and the row flags.

    ``old``/``new`` are the (h, w) uint8 region at (y0, x0) before and after; empty
    when only the flags changed. ``flags_old``/``flags_new`` hold the row's
    (source, status, edited) before and after.
    """

    stream: str
    frame: int
    y0: int
    x0: int
    old: np.ndarray
    new: np.ndarray
    flags_old: tuple[int, int, int]
    flags_new: tuple[int, int, int]

    def inverse(self) -> Change:
        return Change(
            self.stream, self.frame, self.y0, self.x0, self.new, self.old,
            self.flags_new, self.flags_old,
        )  # fmt: skip

    @property
    def nbytes(self) -> int:
        return int(self.old.nbytes + self.new.nbytes)


@dataclass
class Record:
    """One journal entry: a step done, undone or redone, as the changes it applied."""

    kind: str  # "do", "undo" or "redo"
    label: str
    changes: list[Change] = field(default_factory=list)


def encode(record: Record) -> bytes:
    meta = {"kind": record.kind, "label": record.label, "changes": []}
    blobs: list[bytes] = []
    for c in record.changes:
        meta["changes"].append(
            {
                "stream": c.stream,
                "frame": int(c.frame),
                "y0": int(c.y0),
                "x0": int(c.x0),
                "shape": list(c.old.shape),
                "flags_old": list(c.flags_old),
                "flags_new": list(c.flags_new),
            }
        )
        blobs += [np.ascontiguousarray(c.old, np.uint8).tobytes(), c.new.astype(np.uint8).tobytes()]
    head = json.dumps(meta).encode()
    return _LEN.pack(len(head)) + head + b"".join(blobs)


def decode(payload: bytes) -> Record:
    meta = _header(payload)
    pos = 4 + _LEN.unpack_from(payload)[0]
    changes = []
    for m in meta.get("changes", []):
        shape = tuple(m["shape"])
        size = int(np.prod(shape)) if shape else 0
        old = np.frombuffer(payload, np.uint8, size, pos).reshape(shape)
        new = np.frombuffer(payload, np.uint8, size, pos + size).reshape(shape)
        pos += 2 * size
        changes.append(
            Change(
                m["stream"],
                m["frame"],
                m["y0"],
                m["x0"],
                old.copy(),
                new.copy(),
                tuple(m["flags_old"]),
                tuple(m["flags_new"]),
            )  # fmt: skip
        )
    return Record(meta["kind"], meta.get("label", ""), changes)


def _header(payload: bytes) -> dict:
    """The JSON header of a record's payload (all a journal's first record holds)."""
    (n,) = _LEN.unpack_from(payload)
    return json.loads(payload[4 : 4 + n])


def _frame(payload: bytes) -> bytes:
    return _HEAD.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _read_frames(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(end offset, payload) of each whole, intact record from the start."""
    pos = 0
    while pos + _HEAD.size <= len(data):
        magic, n, crc = _HEAD.unpack_from(data, pos)
        end = pos + _HEAD.size + n
        if magic != MAGIC or end > len(data):
            return
        payload = data[pos + _HEAD.size : end]
        if zlib.crc32(payload) != crc:
            return
        yield end, payload
        pos = end


def _of_generation(data: bytes, generation: str) -> list[tuple[int, bytes]]:
    """(end offset, payload) of the intact records after a journal's header, if the
    header names ``generation``; none if it names another (its edits are saved)."""
    frames = list(_read_frames(data))
    if not frames:
        return []
    head = _header(frames[0][1])
    if head.get("kind") != "header" or head.get("generation") != generation:
        return []
    return frames[1:]


class Journal:
    """Append-only, fsync'd edit log beside a label sidecar."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fh = None

    @staticmethod
    def path_for(labels_path: str | os.PathLike) -> Path:
        p = Path(labels_path)
        return p.with_name(p.name + ".journal")

    def recover(self, generation: str) -> list[Record]:
        """The records of an earlier run that belong to ``generation``, oldest first.

        Drops a torn tail (truncating the file to its last whole record) and a journal
        of another generation, whose edits the sidecar already holds.
        """
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        frames = _of_generation(data, generation)
        if frames and frames[-1][0] < len(data):
            with self.path.open("r+b") as fh:
                fh.truncate(frames[-1][0])
                os.fsync(fh.fileno())
        return [decode(p) for _, p in frames]

    def start(self, generation: str, records: list[Record] = ()) -> None:
        """Begin a fresh journal for ``generation`` (atomically), holding ``records``."""
        self.close()
        head = {"kind": "header", "generation": generation, "changes": []}
        blob = json.dumps(head).encode()
        with atomic_write(self.path, "wb") as fh:
            fh.write(_frame(_LEN.pack(len(blob)) + blob))
            for r in records:
                fh.write(_frame(encode(r)))
        self._fh = self.path.open("ab")

    def append(self, record: Record) -> None:
        """Write ``record`` and return only once it is on disk."""
        if self._fh is None:
            raise RuntimeError("journal not started")
        self._fh.write(_frame(encode(record)))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def pending_edits(labels_path: str | os.PathLike, generation: str) -> int:
    """How many journaled edits of ``generation`` a sidecar's journal holds unsaved."""
    path = Journal.path_for(labels_path)
    return len(_of_generation(path.read_bytes(), generation)) if path.exists() else 0
