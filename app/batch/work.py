"""What each batch command does to one session, run on a Dask worker.

Each kind of work is a small frozen dataclass (pickled to the workers) whose methods
call the single command's own function — autolabel, infer, check-rig, stats — so a
batch run and a serial run are one code path. Label-writing work is *chunked*: a
long session is labeled in frame ranges, each into a chunk label file, then merged
once (:mod:`app.labels.chunks`). The rest gives one result per session.

A method raising :class:`ThermorigError` (bad session, drifted rig, a review window
holding the label file) fails that session with the error's one line; the study
goes on.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from app.analysis.curves import DEFAULT_ERODE_PX, compute_curves, summarize
from app.analysis.quality import evaluate_labels
from app.labels.autolabel import AutolabelOptions, autolabel
from app.labels.chunks import merge_chunks, publish_whole_chunk
from app.labels.infer import infer
from app.labels.rig_check import check_session_rig, require_aligned
from app.labels.sidecar import default_labels_path
from drivers.locks import LockHeld
from drivers.session import SessionReader

#: How long a merge waits for another batch run's merge of the same session (an
#: orphaned run whose client was killed); a review window's lock fails at once.
MERGE_WAIT_S = 120.0


@dataclass(frozen=True, kw_only=True)
class Work:
    """One command's work on one session (subclasses say which)."""

    command: ClassVar[str] = ""
    #: Label-writing work, split into frame ranges and merged.
    chunked: ClassVar[bool] = False
    #: The session stream it labels or reads.
    stream: str = "thermal"

    def fingerprint(self) -> str:
        """Names the batch state of these options: a re-run with other options never
        takes up chunks made with these."""
        text = json.dumps({"command": self.command, **asdict(self)}, sort_keys=True, default=str)
        return f"{self.command}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"

    def planned(self, sessions: list[Path]) -> Work:
        """This work with what must be fixed for the whole study before any task (on
        the client; a ThermorigError here is bad input: nothing runs)."""
        return self

    def finish(self, sessions: list[Path], failed: int) -> dict[str, Any] | None:
        """After every session (on the client): what the study as a whole gives."""
        return None

    def output(self, session: Path) -> Path | None:
        """The file the work leaves for the person (None: only the report)."""
        return None

    def rows(self, session: Path) -> int:
        """Rows of the stream a chunked work labels."""
        raise NotImplementedError

    def prepare(self, session: Path) -> dict[str, Any]:
        """Once per session before its chunks (e.g. the rig check)."""
        return {}

    def run_chunk(self, session: Path, frames: range, out: Path) -> dict[str, Any]:
        raise NotImplementedError

    def run_session(self, session: Path) -> dict[str, Any]:
        raise NotImplementedError

    def merge(self, session: Path, chunks: list[tuple[range, Path]]) -> dict[str, Any]:
        """The chunks into the session's label file, then its figures against the
        truth where the session has one."""
        out = self.output(session)
        assert out is not None
        command = f"thermorig batch {self.command}"
        deadline = time.monotonic() + MERGE_WAIT_S
        while True:
            try:
                d: dict[str, Any] | None = None
                if len(chunks) == 1 and chunks[0][0] == range(self.rows(session)):
                    d = publish_whole_chunk(out, self.stream, chunks[0][1], command)
                if d is None:
                    d = merge_chunks(session, out, self.stream, chunks, command)
                break
            except LockHeld as exc:  # another batch run merging the same session: wait
                if "batch" not in exc.holder.command or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        d["labels"] = str(out)
        if _has_truth(session, self.stream):
            e = evaluate_labels(out, session, self.stream)
            d["mean_iou"] = e["mean_iou_strict"]
        return d


def _has_truth(session: Path, stream: str) -> bool:
    with SessionReader(session) as s:
        return bool(s.truth) and stream in s.streams and s.count(stream) > 0


def _rows(session: Path, stream: str) -> int:
    with SessionReader(session) as s:
        return s.count(stream) if stream in s.streams else 0


@dataclass(frozen=True, kw_only=True)
class AutolabelWork(Work):
    """``thermorig autolabel`` per session: the rig check first (unless ``force`` or
    the true rig), then frame ranges, merged into ``SESSION.labels.h5``."""

    command: ClassVar[str] = "autolabel"
    chunked: ClassVar[bool] = True
    rig: str | None
    rgb_labels: str
    temporal: str = "auto"
    max_gap_s: float = 0.050
    force: bool = False

    def _options(self) -> AutolabelOptions:
        return AutolabelOptions(
            target=self.stream, temporal=self.temporal, max_gap_s=self.max_gap_s
        )

    def output(self, session: Path) -> Path:
        return default_labels_path(session)

    def rows(self, session: Path) -> int:
        return _rows(session, self.stream)

    def prepare(self, session: Path) -> dict[str, Any]:
        if self.force or self.rig == "truth":
            return {
                "rig_check": "rig not checked: " + ("--force" if self.force else "the true rig")
            }
        return {"rig_check": require_aligned(session, self.rig, self.stream)}

    def run_chunk(self, session: Path, frames: range, out: Path) -> dict[str, Any]:
        s = autolabel(session, out, self.rig, self.rgb_labels, self._options(), frames=frames)
        return {"frames": s.frames, "labeled": s.labeled}


@dataclass(frozen=True, kw_only=True)
class InferWork(Work):
    """``thermorig infer`` per session, in frame ranges, into ``SESSION.labels.h5``."""

    command: ClassVar[str] = "infer"
    chunked: ClassVar[bool] = True
    models: tuple[str, ...]
    threads: int | None = 1

    def output(self, session: Path) -> Path:
        return default_labels_path(session)

    def rows(self, session: Path) -> int:
        return _rows(session, self.stream)

    def run_chunk(self, session: Path, frames: range, out: Path) -> dict[str, Any]:
        d = infer(
            session, list(self.models), out, stream=self.stream, threads=self.threads, frames=frames
        )
        return {"frames": d["frames"], "labeled": d["written"]}


@dataclass(frozen=True, kw_only=True)
class CheckRigWork(Work):
    """``thermorig check-rig`` per session: is the rig still aligned?"""

    command: ClassVar[str] = "check-rig"
    rig: str | None = None

    def run_session(self, session: Path) -> dict[str, Any]:
        result, described = check_session_rig(session, self.rig)
        d = result.to_dict()
        return {"rig": described, "ok": bool(result.ok), "rig_check": d}


@dataclass(frozen=True, kw_only=True)
class StatsWork(Work):
    """``thermorig stats`` per session: temperature curves of its labeled classes."""

    command: ClassVar[str] = "stats"
    statuses: tuple[int, ...] | None = None
    erode_px: int = DEFAULT_ERODE_PX

    def run_session(self, session: Path) -> dict[str, Any]:
        labels = default_labels_path(session)
        curves = compute_curves(
            session, labels, self.stream, statuses=self.statuses, erode_px=self.erode_px
        )
        return {"labels": str(labels), "frames": len(curves), "classes": summarize(curves)}
