"""``thermorig simulate-study``: many subjects, each recorded in its own sessions.

Every session is an ordinary synthetic session recorded by the one recording engine
(:func:`drivers.recorder.record`), of a varied subject (``subject=N``: the same person
in all of its sessions) in a setup drawn from the session seed. Sessions render in a
pool of processes sized to the cores (rendering is CPU-bound numpy; one process per
session). Each session is written to a temporary file beside its target and appears
under its name only when complete, never replacing a file; a stop (Ctrl-C, SIGTERM)
removes the temporary files of the sessions under way and writes an index of the
finished ones marked incomplete. A folder that already holds a study index, or any
of the sessions, is refused: this command never replaces what it did not create.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drivers import stop_request
from drivers.atomic import publish_new, temp_beside
from drivers.study import INDEX_NAME, Study, StudyError, StudySession, StudySubject, write_study
from drivers.synthetic.subjects import draw_subject

SCENE_CHOICES = ("cycling", "treadmill", "both")
MAX_SUBJECTS = 1000


@dataclass
class Job:
    """One session to make: what to render and where it goes."""

    subject: int
    subject_seed: int
    scene: str
    seed: int
    path: Path
    seconds: float
    options: dict[str, Any] = field(default_factory=dict)


def subject_seed(study_seed: int, i: int) -> int:
    """Subject ``i`` of a study seeded ``study_seed`` (seed 0: subjects 0, 1, 2, ...)."""
    return study_seed * MAX_SUBJECTS + i


def session_seed(study_seed: int, i: int, scene: str, k: int) -> int:
    """The seed of a session (its setup, noise): distinct per subject, scene and repeat."""
    scene_no = SCENE_CHOICES.index(scene)
    return int(np.random.SeedSequence([study_seed, i, scene_no, k]).generate_state(1)[0] >> 1)


def plan(
    folder: Path,
    subjects: int,
    seconds: float,
    scene: str,
    seed: int = 0,
    sessions_per_subject: int = 1,
    options: dict[str, Any] | None = None,
) -> list[Job]:
    """The sessions of a study, checked: bad numbers and existing files are refused."""
    if not 1 <= subjects <= MAX_SUBJECTS:
        raise StudyError(f"--subjects {subjects}: use 1-{MAX_SUBJECTS}")
    if not 0 < seconds <= 3600:
        raise StudyError(f"--seconds {seconds}: use more than 0 and at most 3600")
    if scene not in SCENE_CHOICES:
        raise StudyError(f"--scene {scene}: use one of {', '.join(SCENE_CHOICES)}")
    if not 1 <= sessions_per_subject <= 50:
        raise StudyError(f"--sessions-per-subject {sessions_per_subject}: use 1-50")
    if not 0 <= seed < 2**20:
        raise StudyError(f"--seed {seed}: use 0-{2**20 - 1}")
    if folder.exists() and not folder.is_dir():
        raise StudyError(f"{folder} is a file, not a folder for a study")
    if (folder / INDEX_NAME).exists():
        raise StudyError(f"{folder / INDEX_NAME} exists; choose a new folder (nothing replaced)")
    scenes = ("cycling", "treadmill") if scene == "both" else (scene,)
    jobs = []
    for i in range(subjects):
        s_seed = subject_seed(seed, i)
        sid = draw_subject(s_seed).id
        for sc in scenes:
            for k in range(1, sessions_per_subject + 1):
                name = f"{sc}.h5" if sessions_per_subject == 1 else f"{sc}-{k}.h5"
                path = folder / sid / name
                if path.exists():
                    raise StudyError(f"{path} exists; choose a new folder (nothing replaced)")
                jobs.append(
                    Job(i, s_seed, sc, session_seed(seed, i, sc, k), path, seconds, options or {})
                )
    return jobs


# -- one session, in a worker (or in this process) -------------------------------------
_progress: Any = None
_stop: Any = None


def _init_worker(progress_queue: Any, stop_event: Any) -> None:
    """A pool worker: the parent decides when to stop (its stop event), so the
    terminal's Ctrl-C, which reaches the whole process group, is not the worker's."""
    global _progress, _stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _progress, _stop = progress_queue, stop_event


def make_session(job: Job, index: int) -> dict[str, Any] | None:
    """Record ``job``'s session; its setup (truth) when complete, None when stopped."""
    from drivers.recorder import record
    from drivers.sources import open_source

    driver = open_source(
        f"synthetic:{job.scene}",
        seed=job.seed,
        realtime=False,
        duration=job.seconds,
        subject=job.subject_seed,
        **job.options,
    )
    tmp = temp_beside(job.path)
    try:
        truth = driver.info.truth or {}

        def progress(seconds_done: float, _stats: dict) -> None:
            # With no limit given, the recorder reports seconds recorded, not a fraction.
            if _progress is not None:
                _progress.put((index, min(1.0, seconds_done / job.seconds)))

        summary = record(
            driver,
            tmp,
            seconds=None,
            overwrite=True,  # the empty temporary file this call made
            activity=job.scene,
            subject=truth["subject"]["id"],
            notes=f"simulate-study: synthetic:{job.scene} seed={job.seed}"
            f" subject={job.subject_seed}",
            progress=progress,
            stop=_stop,
        )
        if summary.stopped_by != "end" or stop_request.requested() is not None:
            tmp.unlink(missing_ok=True)
            return None
        publish_new(tmp, job.path)
        return dict(truth["setup"])
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        driver.close()


# -- the study -------------------------------------------------------------------------
def default_workers(jobs: int) -> int:
    """Processes worth running: one per core (rendering is CPU-bound), at most one per job."""
    return max(1, min(jobs, os.cpu_count() or 1))


def generate_study(
    folder: str | os.PathLike,
    jobs: list[Job],
    *,
    workers: int = 1,
    generator: dict[str, Any] | None = None,
    progress: Callable[[float, float], None] | None = None,
) -> Study:
    """Make every session of ``jobs`` (from :func:`plan`) and write the index.

    ``progress(seconds done, seconds in all)`` reports session time rendered. A stop
    request ends the sessions under way (their temporary files removed) and writes
    the finished ones' index with ``complete: false``; the caller raises the stop.
    """
    folder = Path(folder)
    for job in jobs:
        job.path.parent.mkdir(parents=True, exist_ok=True)
    done: dict[int, dict[str, Any]] = {}
    fractions = [0.0] * len(jobs)
    total = sum(j.seconds for j in jobs)

    def report() -> None:
        if progress is not None:
            progress(sum(f * j.seconds for f, j in zip(fractions, jobs, strict=True)), total)

    try:
        with stop_request.deferred():
            if workers <= 1:
                _run_here(jobs, done, fractions, report)
            else:
                _run_pool(jobs, workers, done, fractions, report)
    finally:  # also after an error: the finished sessions are indexed, none orphaned
        study = _index(jobs, done, generator or {})
        if done or study.complete:
            write_study(folder, study)
    return study


class _Direct:
    """The progress "queue" of sessions made in this process: reports at once."""

    def __init__(self, fractions: list, report: Callable) -> None:
        self.fractions, self.report = fractions, report

    def put(self, item: tuple[int, float]) -> None:
        self.fractions[item[0]] = item[1]
        self.report()


def _run_here(jobs: list[Job], done: dict, fractions: list, report: Callable) -> None:
    global _progress, _stop
    _progress, _stop = _Direct(fractions, report), None
    try:
        for i, job in enumerate(jobs):
            if stop_request.requested() is not None:
                return
            setup = make_session(job, i)
            if setup is None:
                return
            done[i] = setup
            fractions[i] = 1.0
            report()
    finally:
        _progress = None


def _run_pool(jobs: list[Job], workers: int, done: dict, fractions: list, report) -> None:
    ctx = mp.get_context("spawn")  # no fork of a process with threads (tqdm, h5py)
    q, stop = ctx.Queue(), ctx.Event()
    with ProcessPoolExecutor(workers, ctx, initializer=_init_worker, initargs=(q, stop)) as pool:
        futures = {pool.submit(make_session, job, i): i for i, job in enumerate(jobs)}
        pending = set(futures)
        error: BaseException | None = None
        while pending:
            finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            while True:
                try:
                    k, f = q.get_nowait()
                except queue.Empty:
                    break
                fractions[k] = max(fractions[k], f)
            for fut in finished:
                if fut.cancelled():
                    continue
                if fut.exception() is not None:  # a worker's error ends the study
                    error = error or fut.exception()
                    continue
                setup = fut.result()
                if setup is not None:
                    done[futures[fut]] = setup
                    fractions[futures[fut]] = 1.0
            report()
            if (error or stop_request.requested() is not None) and not stop.is_set():
                stop.set()
                for fut in pending:
                    fut.cancel()
    if error is not None:
        raise error


def _index(jobs: list[Job], done: dict[int, dict[str, Any]], generator: dict) -> Study:
    subjects: dict[int, StudySubject] = {}
    for i, job in enumerate(jobs):
        if job.subject not in subjects:
            person = draw_subject(job.subject_seed)
            subjects[job.subject] = StudySubject(person.id, job.subject_seed, person.to_dict())
        if i in done:
            rel = job.path.relative_to(job.path.parent.parent).as_posix()
            subjects[job.subject].sessions.append(
                StudySession(rel, job.scene, job.seed, job.seconds, done[i])
            )
    return Study(list(subjects.values()), complete=len(done) == len(jobs), generator=generator)
