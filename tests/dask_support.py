"""A real Dask scheduler and worker processes for tests, on 127.0.0.1 only.

Started as a lab starts them (``dask scheduler``, ``dask worker``), with a scheduler
file to find each other; no discovery, no dashboard, nothing beyond loopback.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class DaskProcesses:
    scheduler_file: Path
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def address(self) -> str:
        return json.loads(self.scheduler_file.read_text())["address"]

    def kill_worker(self, i: int) -> None:
        self.workers[i].send_signal(signal.SIGKILL)
        self.workers[i].wait(10)


def _dask(*args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dask", *args],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def _wait_for_workers(address: str, n: int, timeout: float = 60.0) -> None:
    from distributed import Client

    with Client(address, timeout=timeout) as client:
        client.wait_for_workers(n, timeout=timeout)


@contextlib.contextmanager
def dask_processes(folder: Path, workers: int = 2) -> Iterator[DaskProcesses]:
    """``dask scheduler`` and ``workers`` × ``dask worker`` (no nanny: killing one
    kills it, as a crash would), stopped after."""
    folder.mkdir(parents=True, exist_ok=True)
    sched_file = folder / "scheduler.json"
    sched = _dask(
        "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
        "--scheduler-file", str(sched_file), log=folder / "scheduler.log",
    )  # fmt: skip
    procs = DaskProcesses(sched_file, sched)
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            if sched.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "scheduler.log").read_text())
            time.sleep(0.1)
        for i in range(workers):
            procs.workers.append(
                _dask(
                    "worker",
                    "--scheduler-file",
                    str(sched_file),
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--name",
                    f"w{i}",
                    log=folder / f"worker{i}.log",
                )  # fmt: skip
            )
        _wait_for_workers(procs.address, workers)
        yield procs
    finally:
        for p in [*procs.workers, sched]:
            if p.poll() is None:
                p.terminate()
        for p in [*procs.workers, sched]:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
