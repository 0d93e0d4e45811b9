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
names the sidecar ``generation`` the edits apply to. Beside edit records the journal
holds *time records* (``kind`` ``"time"``, :class:`TimeSpent`): seconds a person spent
actively on one frame (:mod:`app.review.effort`), so that a killed window's review time
comes back with its edits. They change no row: they are never edits a reader waits for.

Every record is self-delimiting and checksummed on its own, so :func:`scan` reads past
damage: a record that fails its CRC is skipped and reading resumes at the next record
that passes, so one flipped byte costs one edit, not every edit after it. A torn last
record — a kill during the write — is the one expected loss. What the records mean
for a given sidecar (saved already, pending, replayed onto a replaced file, impossible)
is :mod:`app.labels.recovery`'s business.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
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


@dataclass(frozen=True)
class TimeSpent:
    """Active review seconds on one frame of one stream, and the row's label source
    (``app.labels.sidecar`` code) when the person started on the frame."""

    stream: str
    frame: int
    seconds: float
    source: int


def encode_time(t: TimeSpent) -> bytes:
    meta = {
        "kind": "time",
        "stream": t.stream,
        "frame": int(t.frame),
        "seconds": round(float(t.seconds), 3),
        "source": int(t.source),
    }
    head = json.dumps(meta).encode()
    return _LEN.pack(len(head)) + head


def decode_time(meta: dict) -> TimeSpent:
    """The time record a header holds; ValueError for anything else."""
    try:
        stream, frame, seconds, source = (meta[k] for k in ("stream", "frame", "seconds", "source"))
        ok = isinstance(stream, str) and isinstance(frame, int) and isinstance(source, int)
        seconds = float(seconds)
    except (KeyError, TypeError, ValueError):
        raise ValueError("malformed time record") from None
    if not ok or frame < 0 or not 0 <= source < 4 or not 0 <= seconds < 1e7:
        raise ValueError("time record out of range")
    return TimeSpent(stream, frame, seconds, source)


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
    """The record a payload holds; ValueError for anything else (a payload that passed
    its CRC can still be nonsense: written by another program, or crafted)."""
    try:
        meta = _header(payload)
        kind, metas = meta["kind"], meta.get("changes", [])
        if kind not in ("do", "undo", "redo") or not isinstance(metas, list):
            raise ValueError(f"not an edit record (kind {kind!r})")
        pos = 4 + _LEN.unpack_from(payload)[0]
        changes = []
        for m in metas:
            shape = tuple(int(v) for v in m["shape"])
            if len(shape) != 2 or min(shape) < 0:
                raise ValueError(f"region shape {shape}")
            size = shape[0] * shape[1]
            if pos + 2 * size > len(payload):
                raise ValueError("region bytes missing")
            old = np.frombuffer(payload, np.uint8, size, pos).reshape(shape)
            new = np.frombuffer(payload, np.uint8, size, pos + size).reshape(shape)
            pos += 2 * size
            flags = [tuple(int(v) for v in m[k]) for k in ("flags_old", "flags_new")]
            if any(len(f) != 3 for f in flags):
                raise ValueError("row flags are not (source, status, edited)")
            frame, y0, x0 = (int(m[k]) for k in ("frame", "y0", "x0"))
            stream = m["stream"]
            if not isinstance(stream, str):
                raise ValueError(f"stream {stream!r}")
            changes.append(
                Change(stream, frame, y0, x0, old.copy(), new.copy(), flags[0], flags[1])
            )
        if pos != len(payload):
            raise ValueError("payload longer than its regions")
        return Record(kind, str(meta.get("label", "")), changes)
    except (KeyError, TypeError, IndexError, AttributeError, OverflowError, struct.error) as exc:
        raise ValueError(f"malformed record ({type(exc).__name__}: {exc})") from None


def _header(payload: bytes) -> dict:
    """The JSON header of a record's payload (all a journal's first record holds);
    ValueError if there is none (UnicodeDecodeError and JSONDecodeError are ValueErrors)."""
    try:
        (n,) = _LEN.unpack_from(payload)
    except struct.error:
        raise ValueError("payload shorter than its header length") from None
    meta = json.loads(payload[4 : 4 + n])
    if not isinstance(meta, dict):
        raise ValueError("record header is not a JSON object")
    return meta


def pack(record: Record) -> bytes:
    """``record`` framed as the journal stores it (magic, length, CRC, payload)."""
    return _frame(encode(record))


def _frame(payload: bytes) -> bytes:
    return _HEAD.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


@dataclass
class Scan:
    """What a journal's bytes hold, read past any damage.

    ``generation`` is the header's (None when the header is unreadable); ``records``
    the edit records that passed their CRC and decode, in order; ``undecodable`` how
    many passed their CRC but are not edit records; ``times`` the time records
    (:class:`TimeSpent`), in order. ``damaged_bytes`` are bytes in no
    intact record; ``damaged_records`` how many records they held (record starts found
    in them, at least one per damaged stretch). ``torn_tail``: the only damage is an
    incomplete last record — a kill while it was being written, the one loss the
    journal allows (that edit had not returned).
    """

    generation: str | None = None
    records: list[Record] = field(default_factory=list)
    times: list[TimeSpent] = field(default_factory=list)
    undecodable: int = 0
    damaged_bytes: int = 0
    damaged_records: int = 0
    torn_tail: bool = False

    @property
    def damaged(self) -> bool:
        """Something beyond a torn last record could not be read."""
        return bool(self.undecodable or (self.damaged_bytes and not self.torn_tail))


def scan(data: bytes) -> Scan:
    """Read every intact record of a journal, wherever damage lies.

    Each record starts with the magic and carries its length and CRC, so after a damaged
    stretch reading resumes at the next magic whose record passes its CRC (a false
    magic inside damaged bytes passes with odds of 2**-32).
    """
    out = Scan()
    pos, bad_from, first = 0, None, True
    while pos < len(data):
        payload = _intact_at(data, pos)
        if payload is None:
            bad_from = pos if bad_from is None else bad_from
            nxt = data.find(MAGIC, pos + 1)
            pos = len(data) if nxt < 0 else nxt
            first = False
            continue
        if bad_from is not None:
            _count_damage(out, data, bad_from, pos)
            bad_from = None
        try:
            meta = _header(payload)
            if first and meta.get("kind") == "header":
                out.generation = str(meta.get("generation", ""))
            elif meta.get("kind") == "time":
                out.times.append(decode_time(meta))
            else:
                out.records.append(decode(payload))
        except ValueError:
            out.undecodable += 1
        first = False
        pos += _HEAD.size + len(payload)
    if bad_from is not None:
        _count_damage(out, data, bad_from, len(data))
        out.torn_tail = out.damaged_records == 1 and _torn_at(data, bad_from)
    return out


def _intact_at(data: bytes, pos: int) -> bytes | None:
    """The payload of the record at ``pos`` if one starts there and passes its CRC."""
    if data[pos : pos + 4] != MAGIC or pos + _HEAD.size > len(data):
        return None
    _, n, crc = _HEAD.unpack_from(data, pos)
    payload = data[pos + _HEAD.size : pos + _HEAD.size + n]
    return payload if len(payload) == n and zlib.crc32(payload) == crc else None


def _torn_at(data: bytes, pos: int) -> bool:
    """Whether the bytes from ``pos`` to the end are the start of a record cut short by
    the end of the file — not a whole record with a damaged length (whose bytes to the
    end still pass its CRC)."""
    if pos + _HEAD.size > len(data):
        return MAGIC.startswith(data[pos : pos + 4])
    magic, n, crc = _HEAD.unpack_from(data, pos)
    rest = data[pos + _HEAD.size :]
    return magic == MAGIC and n > len(rest) and zlib.crc32(rest) != crc


def _count_damage(out: Scan, data: bytes, start: int, end: int) -> None:
    out.damaged_bytes += end - start
    out.damaged_records += max(1, data.count(MAGIC, start, end))


class Journal:
    """Append-only, fsync'd edit log beside a label sidecar."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fh = None

    @staticmethod
    def path_for(labels_path: str | os.PathLike) -> Path:
        p = Path(labels_path)
        return p.with_name(p.name + ".journal")

    def start(
        self, generation: str, records: list[Record] = (), times: list[TimeSpent] = ()
    ) -> None:
        """Begin a fresh journal for ``generation`` (atomically), holding ``records``
        and ``times``."""
        self.close()
        head = {"kind": "header", "generation": generation, "changes": []}
        blob = json.dumps(head).encode()
        with atomic_write(self.path, "wb") as fh:
            fh.write(_frame(_LEN.pack(len(blob)) + blob))
            for r in records:
                fh.write(_frame(encode(r)))
            for t in times:
                fh.write(_frame(encode_time(t)))
        self._fh = self.path.open("ab")

    def append(self, record: Record | TimeSpent) -> None:
        """Write ``record`` and return only once it is on disk."""
        if self._fh is None:
            raise RuntimeError("journal not started")
        payload = encode_time(record) if isinstance(record, TimeSpent) else encode(record)
        self._fh.write(_frame(payload))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
