"""Running one command over a study on a Dask client: plan, submit, merge, remember.

Per session, in order: skipped if the batch state says it is done (and its output is
still there); else, for label-writing work, a *prepare* task (the rig check, the
row count), one task per frame range not finished yet, and a *merge* task once all
its ranges are; for other work one task. Tasks run the single command's function
(:mod:`app.batch.work`) where the worker is and read the session there (a shared
filesystem; nothing but paths and small results crosses the network).

A session fails alone, with the one-line reason its command would print (a damaged
file, a drifted rig, a review window holding its label file); the rest go on. A
worker that dies takes only its running task with it: Dask gives it to another
worker, and a re-run redoes only ranges that have no chunk file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.batch.sessions import find_sessions, session_key
from app.batch.state import BatchState
from app.batch.work import Work
from app.progress import progress_bar
from drivers.errors import ThermorigError, one_line

#: Frames per chunk of a long session (30 s at 30 Hz): enough work per task that the
#: scheduler's few milliseconds do not count, few enough that a lost worker costs
#: little and two workers share even a one-session study.
CHUNK_FRAMES = 900


def _worker_address() -> str:
    """This Dask worker's address ("local" when not on one). OpenCV keeps its own
    thread pool: measured on 2 cores, one worker labels a session in 4.7-5.3 s with it
    and 6.1 s with OpenCV held to one thread."""
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:  # not on a worker (called directly)
        return "local"


def run_task(work: Work, method: str, *args: Any) -> dict[str, Any]:
    """Runs on a worker: ``work.method(*args)``, timed, with where it ran; a
    ThermorigError comes back as the session's one-line failure, not an exception."""
    where = _worker_address()
    t0 = time.perf_counter()
    value, error = None, None
    try:
        if method == "prepare":
            value = {**work.prepare(args[0]), "rows": work.rows(args[0])}
        else:
            value = getattr(work, method)(*args)
    except ThermorigError as exc:
        error = one_line(exc)
    return {"value": value, "error": error, "worker": where, "s": time.perf_counter() - t0}


@dataclass
class SessionRecord:
    session: Path
    key: str
    status: str = "pending"  # pending, done, skipped, failed
    rows: int = 0
    chunks: list[range] = field(default_factory=list)
    chunks_left: int = 0
    seconds: float = 0.0
    workers: set[str] = field(default_factory=set)
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def _chunks(rows: int, size: int) -> list[range]:
    return [range(a, min(a + size, rows)) for a in range(0, rows, size)]


class Batch:
    """One run of ``work`` over the sessions of ``spec`` on ``client``."""

    def __init__(
        self,
        work: Work,
        spec: str | Path,
        *,
        chunk_frames: int = CHUNK_FRAMES,
        quiet: bool = False,
        log: Callable[[str], None] = print,
    ):
        self.work, self.chunk_frames, self.quiet, self.log = work, chunk_frames, quiet, log
        self.root, sessions = find_sessions(spec)
        self.work = work = work.planned(sessions)
        self.state = BatchState(self.root, work)
        self.records = [SessionRecord(s, session_key(self.root, s)) for s in sessions]
        self.seconds = 0.0
        self.finished: dict[str, Any] | None = None

    def run(self, client) -> list[SessionRecord]:
        from distributed import as_completed

        t0 = time.perf_counter()
        self.state.open()
        self._futures: dict[Any, tuple[str, SessionRecord, range | None]] = {}
        self._ac = as_completed()
        self._client = client
        unit = "frames" if self.work.chunked else "sessions"
        with progress_bar(0, f"batch {self.work.command}", unit, self.quiet) as bar:
            self._bar = bar
            for rec in self.records:
                done = self.state.done(rec.key, rec.session)
                if done is not None:
                    rec.status, rec.result = "skipped", done
                    rec.rows = int(done.get("rows", 0))
                    self._grow(rec.rows if self.work.chunked else 1, done=True)
                elif self.work.chunked:
                    self._submit("prepare", rec, None, rec.session)
                else:
                    self._grow(1)
                    self._submit("run_session", rec, None, rec.session)
            for future in self._ac:
                kind, rec, frames = self._futures.pop(future)
                self._finished(kind, rec, frames, future)
        failed = sum(r.status == "failed" for r in self.records)
        self.finished = self.work.finish([r.session for r in self.records], failed)
        self.seconds = time.perf_counter() - t0
        return self.records

    def _grow(self, n: int, done: bool = False) -> None:
        self._bar.total = (self._bar.total or 0) + n
        if done:
            self._bar.update(n)
        self._bar.refresh()

    def _describe(self) -> None:
        counts = {s: sum(r.status == s for r in self.records) for s in ("done", "skipped")}
        failed = sum(r.status == "failed" for r in self.records)
        text = f"{counts['done'] + counts['skipped']}/{len(self.records)} sessions"
        self._bar.set_postfix_str(text + (f", {failed} failed" if failed else ""), refresh=True)

    def _submit(self, kind: str, rec: SessionRecord, frames: range | None, *args: Any) -> None:
        future = self._client.submit(run_task, self.work, kind, *args, pure=False)
        self._futures[future] = (kind, rec, frames)
        self._ac.add(future)

    def _fail(self, rec: SessionRecord, error: str) -> None:
        if rec.status != "failed":
            rec.status, rec.error = "failed", error
            for f, (_, other, _) in list(self._futures.items()):
                if other is rec:
                    f.cancel()
        self._describe()

    def _finished(self, kind: str, rec: SessionRecord, frames: range | None, future) -> None:
        if rec.status == "failed" or future.cancelled():
            return
        try:
            out = future.result()
        except Exception as exc:  # noqa: BLE001 - a bug or a worker lost too often: this session only
            self._fail(rec, f"{kind} failed: {one_line(exc)}")
            return
        rec.seconds += out["s"]
        rec.workers.add(out["worker"])
        if out["error"]:
            self._fail(rec, out["error"])
            return
        value = out["value"]
        if kind == "prepare":
            rec.result.update({k: v for k, v in value.items() if k != "rows"})
            rec.rows = value["rows"]
            rec.chunks = _chunks(rec.rows, self.chunk_frames)
            self._grow(rec.rows)
            missing = [c for c in rec.chunks if self.state.chunk_file(rec.key, c) is None]
            self._bar.update(rec.rows - sum(len(c) for c in missing))
            rec.chunks_left = len(missing)
            for c in missing:
                out = self.state.new_chunk_path(rec.key, c)
                self._submit("run_chunk", rec, c, rec.session, c, out)
            if not missing:
                self._merge(rec)
        elif kind == "run_chunk":
            self._bar.update(len(frames))
            rec.chunks_left -= 1
            if rec.chunks_left == 0:
                self._merge(rec)
        else:  # merge or run_session: the session is finished
            if kind == "run_session":
                rec.rows = int(value.get("frames", 0))
            rec.result.update(value)
            rec.result["rows"] = rec.rows
            self.state.mark_done(rec.key, rec.result)
            rec.status = "done"
            if kind == "run_session":
                self._bar.update(1)
            self._describe()

    def _merge(self, rec: SessionRecord) -> None:
        if not rec.chunks:
            self._fail(rec, f"{rec.session} has no {self.work.stream} frames to label")
            return
        paths = [(c, self.state.chunk_file(rec.key, c)) for c in rec.chunks]
        if any(p is None for _, p in paths):
            self._fail(rec, f"a chunk of {rec.session.name} vanished before the merge; run again")
            return
        self._submit("merge", rec, None, rec.session, paths)
