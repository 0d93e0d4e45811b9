"""What a label file's review journal means for it, and getting every edit back.

A journal (:mod:`app.labels.journal`) holds review edits that are not in the sidecar
yet — or were, once saved. Which, is decided by generations: the journal's header
names the sidecar generation its edits apply to.

- ``current``: the header names the sidecar's generation: the edits are pending.
- ``saved``: it names the generation a review save started from (the sidecar's
  ``journal_applied``): the save finished, the journal reset did not; nothing pending.
- ``other``: another generation that was never saved: the sidecar was replaced while
  the edits were unsaved (by a program that took no lock). They are pending, and are
  replayed onto the file as it is now — a person's edits win over a machine's rows.
- ``unknown``: the header is unreadable, so nobody can tell; the edits are pending and
  replayed the same way. Replaying edits a file already holds changes nothing (each
  record writes its regions' final values), so the doubt costs nothing.

A record that passed its CRC can still be impossible for this file (a frame beyond
its rows, an unknown stream, a class id it does not have): such records are set
aside, never applied, and never block a reader. Whenever anything could not be
applied — damaged bytes, impossible records — the journal is copied aside
(``LABELS.h5.journal.damaged``, numbered, never replaced) before it is rewritten, and
:meth:`JournalState.note` tells the person in one line what came back and what did not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.labels.journal import Change, Journal, Record, Scan, TimeSpent, scan
from drivers.atomic import publish_new, temp_beside
from drivers.truth import UNKNOWN_LABEL

CURRENT, SAVED, OTHER, UNKNOWN, NONE = "current", "saved", "other", "unknown", "none"
#: Row flag limits (source, status, edited): the codes of app.labels.sidecar
#: (SOURCE_NAMES, STATUS_NAMES, 0/1), here to keep the sidecar importing this module.
FLAG_LIMITS = (4, 4, 2)
#: A stream's layout: (rows, height, width).
Layout = dict[str, tuple[int, int, int]]


def change_problem(c: Change, layout: Layout, n_classes: int) -> str | None:
    """Why ``c`` cannot apply to a label file of ``layout`` and ``n_classes``; None if it can."""
    if c.stream not in layout:
        return f"stream {c.stream!r} is not in the file"
    n, h, w = layout[c.stream]
    if not 0 <= c.frame < n:
        return f"frame {c.frame} is beyond {c.stream}'s {n} rows"
    rh, rw = c.new.shape
    if c.new.size and not (0 <= c.y0 and 0 <= c.x0 and c.y0 + rh <= h and c.x0 + rw <= w):
        return f"region {rh}x{rw} at ({c.y0}, {c.x0}) is outside {c.stream}'s {h}x{w} frames"
    for flags in (c.flags_old, c.flags_new):
        if any(not 0 <= v < lim for v, lim in zip(flags, FLAG_LIMITS, strict=True)):
            return f"row flags {tuple(flags)} of frame {c.frame} are out of range"
    if c.new.size:
        ids = np.unique(c.new)
        bad = ids[(ids >= n_classes) & (ids != UNKNOWN_LABEL)]
        if bad.size:
            return f"class id {int(bad[0])} is not one of the file's {n_classes} classes"
    return None


def record_problem(r: Record, layout: Layout, n_classes: int) -> str | None:
    """A record is one step: it applies whole or not at all."""
    for c in r.changes:
        why = change_problem(c, layout, n_classes)
        if why:
            return why
    return None


@dataclass
class JournalState:
    """A journal as it stands against one sidecar (see the module doc)."""

    path: Path
    origin: str = NONE
    scan: Scan = field(default_factory=Scan)
    edits: list[Record] = field(default_factory=list)
    impossible: list[str] = field(default_factory=list)
    #: Review time records that fit the file (they change no row: never "pending").
    times: list[TimeSpent] = field(default_factory=list)

    @property
    def pending(self) -> int:
        """Edits the sidecar does not hold (as far as anyone can tell)."""
        return len(self.edits) if self.origin in (CURRENT, OTHER, UNKNOWN) else 0

    @property
    def exact(self) -> bool:
        """Whole and of this generation: its records replay as made, undo history too."""
        return self.origin == CURRENT and not self.scan.damaged and not self.impossible

    @property
    def keep_aside(self) -> bool:
        """Something in it cannot be applied: the bytes must be kept before a rewrite."""
        return self.origin != SAVED and (self.scan.damaged or bool(self.impossible))

    def why_pending(self) -> str:
        if self.origin == UNKNOWN:
            return " (its header is damaged)"
        if self.origin == OTHER:
            return " (made before the label file was replaced)"
        return " (some of it is damaged)" if self.scan.damaged else ""

    def note(self, labels: Path, applied: int, aside: Path | None) -> str:
        """One line for the person: what came back, what did not, where the rest is;
        "" when the journal simply replayed as made. ``applied``: edits that changed
        the file."""
        parts = []
        if self.origin in (OTHER, UNKNOWN) and applied:
            why = (
                "the journal's header is damaged"
                if self.origin == UNKNOWN
                else f"{labels.name} was replaced while they were unsaved"
            )
            parts.append(
                f"replayed {applied} review edit(s) of {_frames(self.edits)} onto {labels.name}"
                f" ({why}): check them, undo takes each back"
            )
        elif self.pending and (self.scan.damaged or self.impossible):
            parts.append(f"recovered {self.pending} review edit(s)")
        sc = self.scan
        if sc.damaged:
            unread = sc.damaged_records + sc.undecodable
            parts.append(
                f"{unread} damaged record(s) ({sc.damaged_bytes} bytes) could not be read"
                + ("" if self.pending else "; no edit could be recovered")
            )
        if self.impossible:
            shown = "; ".join(self.impossible[:3]) + ("; ..." if len(self.impossible) > 3 else "")
            parts.append(f"{len(self.impossible)} impossible edit(s) set aside ({shown})")
        if sc.torn_tail and self.origin != SAVED:
            parts.append("the edit being written when the editor was killed was incomplete")
        if aside is not None:
            parts.append(f"the journal as it was is kept as {aside.name}")
        return f"{self.path.name}: " + "; ".join(parts) if parts else ""


def _frames(records: list[Record]) -> str:
    rows = sorted({(c.stream, c.frame) for r in records for c in r.changes})
    frames = [str(f) for _, f in rows]
    more = f" and {len(frames) - 8} more" if len(frames) > 8 else ""
    return ("frame " if len(frames) == 1 else "frames ") + ", ".join(frames[:8]) + more


def read_state(
    labels: str | os.PathLike, generation: str, applied: str, layout: Layout, n_classes: int
) -> JournalState:
    """The journal beside ``labels`` against a sidecar of ``generation`` whose review
    save started from ``applied`` (its ``journal_applied``; "" if none), with streams
    of ``layout`` and ``n_classes`` classes. Reads only; never raises on its content."""
    path = Journal.path_for(labels)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return JournalState(path)
    sc = scan(data)
    if sc.generation is None:
        origin = UNKNOWN
    elif sc.generation == generation:
        origin = CURRENT
    elif applied and sc.generation == applied:
        origin = SAVED
    else:
        origin = OTHER
    state = JournalState(path, origin, sc)
    for r in sc.records:
        why = record_problem(r, layout, n_classes)
        if why:
            state.impossible.append(why)
        else:
            state.edits.append(r)
    for t in sc.times:
        n = layout.get(t.stream, (0,))[0]
        if t.frame < n:
            state.times.append(t)
        else:
            state.impossible.append(f"review time of {t.stream} frame {t.frame} beyond its rows")
    return state


def set_aside(journal: Path) -> Path:
    """Copy ``journal`` to ``JOURNAL.damaged`` (``.damaged.1``, ``.2``, ... if taken),
    durably, never replacing a file; the path it got."""
    data = journal.read_bytes()
    for k in range(10_000):
        target = journal.with_name(journal.name + ".damaged" + (f".{k}" if k else ""))
        if os.path.lexists(target):
            continue
        tmp = temp_beside(target)
        try:
            tmp.write_bytes(data)
            publish_new(tmp, target)
            return target
        except FileExistsError:
            continue
        finally:
            tmp.unlink(missing_ok=True)
    raise FileExistsError(f"no free name for a copy of {journal}")
