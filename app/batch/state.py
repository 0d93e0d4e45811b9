"""A batch run's memory between runs: ``STUDY/.thermorig-batch/<command>-<options>/``.

- ``chunks/<session>/<first>-<end>.<attempt>.labels.h5``: a finished frame range (published
  atomically by the label writer, so a file there is whole; a killed worker leaves
  at most a temporary file, removed with the folder).
- ``done/<session>.json``: the session's result, written atomically once its output
  is published; a re-run skips the session. Its chunks are removed then.
- ``options.json``: the options these files were made with (the folder's name is
  their fingerprint, so other options never reuse them).
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.batch.work import Work
from drivers.atomic import atomic_write

FOLDER = ".thermorig-batch"


class BatchState:
    def __init__(self, root: Path, work: Work):
        self.work = work
        self.folder = root / FOLDER / work.fingerprint()

    def open(self) -> None:
        (self.folder / "done").mkdir(parents=True, exist_ok=True)
        options = self.folder / "options.json"
        if not options.exists():
            with atomic_write(options) as f:
                json.dump({"command": self.work.command, **asdict(self.work)}, f, default=str)

    def new_chunk_path(self, key: str, frames: range) -> Path:
        """Where one attempt at a frame range writes: a name of its own, so that an
        orphaned attempt (its client killed, its worker still running) and a re-run's
        never hold each other's lock; either's file will do."""
        name = f"{frames.start:08d}-{frames.stop:08d}.{uuid.uuid4().hex[:8]}.labels.h5"
        return self.folder / "chunks" / key / name

    def chunk_file(self, key: str, frames: range) -> Path | None:
        """A finished file of the range (any attempt's), or None."""
        found = sorted(
            (self.folder / "chunks" / key).glob(f"{frames.start:08d}-{frames.stop:08d}.*.labels.h5")
        )
        return found[0] if found else None

    def done_path(self, key: str) -> Path:
        return self.folder / "done" / f"{key}.json"

    def done(self, key: str, session: Path) -> dict[str, Any] | None:
        """The finished session's result, or None if it must be (re)done: never
        finished, or its output has gone since."""
        p = self.done_path(key)
        if not p.is_file():
            return None
        out = self.work.output(session)
        if out is not None and not out.is_file():
            return None
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            return None  # unreadable: do it again (the label writer keeps human rows)

    def mark_done(self, key: str, result: dict[str, Any]) -> None:
        with atomic_write(self.done_path(key)) as f:
            json.dump(result, f, default=str)
        shutil.rmtree(self.folder / "chunks" / key, ignore_errors=True)
