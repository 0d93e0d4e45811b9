"""The Dask client a batch runs on: this machine's cores, or a lab's scheduler.

- ``local`` (default): a :class:`distributed.LocalCluster` of worker *processes*
  (labeling is CPU-bound Python and OpenCV; threads would share one GIL), one thread
  each, as many as ``--workers`` or the cores; it listens on 127.0.0.1 only.
- ``tcp://HOST:PORT``: an existing scheduler (``dask scheduler``, dask-jobqueue's
  SLURMCluster, dask-kubernetes), whose workers must see the study's files at the
  same paths (docs/batch.md).
- ``FILE.json``: the scheduler file ``dask scheduler --scheduler-file`` writes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from drivers.errors import ThermorigError

CONNECT_TIMEOUT_S = 20


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def dashboard(client) -> str | None:
    """The Dask dashboard's address, when the scheduler serves one. Its pages need
    bokeh (not a thermorig dependency): without it here, the scheduler's is most
    likely a page saying so, and no address is printed."""
    if importlib.util.find_spec("bokeh") is None:
        return None
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # noqa: BLE001 - an address is a courtesy, never a failure
        return None
    return client.dashboard_link if "dashboard" in services else None


@contextlib.contextmanager
def open_client(scheduler: str = "local", workers: int | None = None) -> Iterator[object]:
    """A connected :class:`distributed.Client`, closed (with its LocalCluster) after."""
    from distributed import Client, LocalCluster

    if scheduler == "local":
        n = workers or _cores()
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # any free port: two runs never collide
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    if workers is not None:
        raise ThermorigError("--workers sizes a local cluster; an existing scheduler has its own")
    try:
        if scheduler.startswith(("tcp://", "tls://")):
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        elif scheduler.endswith(".json"):
            if not Path(scheduler).is_file():
                raise ThermorigError(f"--scheduler {scheduler}: no such scheduler file")
            client = Client(scheduler_file=scheduler, timeout=CONNECT_TIMEOUT_S)
        else:
            raise ThermorigError(
                f"--scheduler {scheduler}: give local, tcp://HOST:PORT or a scheduler FILE.json"
            )
    except (OSError, TimeoutError) as exc:
        raise ThermorigError(
            f"--scheduler {scheduler}: cannot reach the scheduler ({exc}); is `dask scheduler`"
            " running there?"
        ) from None
    try:
        yield client
    finally:
        client.close()
