"""Benchmark of ``thermorig batch autolabel``: time per frame (throughput) with one and two local Dask
workers, against the serial command timed in the same run, and the scheduler's cost.

A study of four subjects (2 s of cycling each, 1 s with ``--quick``; full-size
images) is written beforehand (not timed). Then, in turns: the serial autolabel of
every session in this process (the peer), ``batch`` on a LocalCluster of 1 worker,
and of 2 workers — each from no batch state and no label files, timed from the
first task submitted to the last session merged (the workers' first imports
included, the cluster's start not: seconds, once per run whatever the study). The scheduler's own cost is the round trip of an
empty task on the running cluster, per frame of a default 900-frame chunk.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from app.bench import Result, benchmark

AUTOLABEL = {"rig": "truth", "rgb_labels": "simulated"}


def _noop() -> None:
    return None


def _batch(folder: Path, workers: int) -> tuple[float, int]:
    from app.batch.cluster import open_client
    from app.batch.engine import Batch
    from app.batch.state import FOLDER
    from app.batch.work import AutolabelWork

    shutil.rmtree(folder / FOLDER, ignore_errors=True)
    for p in folder.rglob("*.labels.h5"):
        p.unlink()
    batch = Batch(AutolabelWork(**AUTOLABEL), folder, quiet=True)
    with open_client("local", workers) as client:
        batch.run(client)
    assert all(r.status == "done" for r in batch.records), [r.error for r in batch.records]
    return batch.seconds, sum(r.rows for r in batch.records)


def _overhead_ms() -> float:
    """Median round trip of an empty task on a running 1-worker LocalCluster."""
    import numpy as np

    from app.batch.cluster import open_client

    with open_client("local", 1) as client:
        client.submit(_noop, pure=False).result()  # warm
        times = []
        for _ in range(50):
            t0 = time.perf_counter()
            client.submit(_noop, pure=False).result()
            times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


@benchmark("batch")
def bench_batch(quick: bool) -> list[Result]:
    from app.labels.autolabel import autolabel
    from app.study.generate import generate_study, plan

    seconds = 1.0 if quick else 2.0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "study"
        generate_study(folder, plan(folder, subjects=4, seconds=seconds, scene="cycling"))
        sessions = sorted(folder.glob("*/cycling.h5"))
        t0 = time.perf_counter()
        for s in sessions:
            autolabel(s, Path(tmp) / f"{s.parent.name}.labels.h5", "truth", "simulated")
        serial = time.perf_counter() - t0
        one, frames = _batch(folder, 1)
        two, _ = _batch(folder, 2)
        overhead = _overhead_ms()
    what = f"{len(sessions)} sessions, {frames} thermal frames"
    return [
        Result(
            "batch",
            f"batch autolabel, 1 worker ({what})",
            1e3 * one / frames,
            "ms/frame",
            peer="serial autolabel, this process",
            peer_value=1e3 * serial / frames,
            note=f"{frames / one:.1f} frames/s; from submitting to the report (cluster start apart)",
        ),
        Result(
            "batch",
            f"batch autolabel, 2 workers ({what})",
            1e3 * two / frames,
            "ms/frame",
            peer="batch, 1 worker",
            peer_value=1e3 * one / frames,
            note=f"{frames / two:.1f} frames/s; ratio = speed-up over 1 worker (target >= 1.6x)",
        ),
        Result(
            "batch",
            "scheduler round trip of an empty task, per frame of a 900-frame chunk",
            overhead / 900,
            "ms",
            note=f"{overhead:.1f} ms per task",
        ),
    ]
