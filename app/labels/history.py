"""Undo and redo of review edits, bounded so that a long session cannot eat the memory.

A step is a journal :class:`~app.labels.journal.Record`: the changed region of each
frame it touched plus the row flags, so a brush stroke costs its bounding box.
"""

from __future__ import annotations

from collections import deque

from app.labels.journal import Record

#: Undo keeps at least this many steps, more while they fit in HISTORY_BYTES.
MIN_HISTORY = 100
MAX_HISTORY = 1000
HISTORY_BYTES = 256 << 20


class History:
    """Undo and redo stacks of steps (lists of changes), bounded by count and bytes."""

    def __init__(self) -> None:
        self.undo: deque[Record] = deque()
        self.redo: list[Record] = []
        self._bytes = 0

    def push(self, record: Record) -> None:
        self.undo.append(record)
        self._bytes += sum(c.nbytes for c in record.changes)
        self.redo.clear()
        while len(self.undo) > MAX_HISTORY or (
            len(self.undo) > MIN_HISTORY and self._bytes > HISTORY_BYTES
        ):
            old = self.undo.popleft()
            self._bytes -= sum(c.nbytes for c in old.changes)

    def pop_undo(self) -> Record | None:
        if not self.undo:
            return None
        r = self.undo.pop()
        self._bytes -= sum(c.nbytes for c in r.changes)
        self.redo.append(r)
        return r

    def pop_redo(self) -> Record | None:
        if not self.redo:
            return None
        r = self.redo.pop()
        self.undo.append(r)
        self._bytes += sum(c.nbytes for c in r.changes)
        return r
