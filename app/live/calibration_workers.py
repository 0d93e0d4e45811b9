"""The calibration wizard's threads: live board search (latest-wins) and the rig fit.

Both keep the GUI thread free: the wizard polls ``states`` / ``progress`` on a timer
and never waits for a search or a fit.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from app.live.stages import OVERLAY_NICE, LatestSlot, RateMeter, lower_priority
from calibration.live import LiveCalibration, LiveState
from calibration.rig_calibration import RIG_CAMERAS, RigCalibration
from drivers.errors import ThermorigError
from drivers.types import FrameSet

#: How much lower than the GUI and capture threads the board search runs (nice steps).
#: The search takes every cycle it can get (latest-wins, ~45 ms a FrameSet); at the
#: same priority on two cores it kept the GUI thread waiting for a CPU often enough
#: that ticks came up to ~50 ms apart. Like the overlays, it is what may lag.
SEARCH_NICE = OVERLAY_NICE

#: Most FrameSets searched a second. The corners follow the board at that rate and a
#: still board is captured after STILL_FRAMES searches (0.2 s); searching every frame
#: a fast machine could (25-30/s) would only take the CPU the preview's drawing needs
#: (the GUI thread's stalls), on two cores above all.
MAX_SEARCH_RATE = 15.0
#: Whether the cameras are searched in parallel on the pool (else in turn on the
#: search thread). Measured in turns on the two shared cores (load 7-11), the parallel
#: search ran ~10 % more searches/s but the GUI thread's longest stall grew by half:
#: three threads in Python code between OpenCV calls hold the GIL the GUI thread
#: needs, and at a lower priority they may hold it while the scheduler runs others.
#: The search is cheap enough for the 10/s target without it.
PARALLEL_CAMERAS = False


def search_threads(parallel: bool) -> int:
    """Pool threads: one for the full search of a captured pose (which then runs beside
    the live search instead of holding it up for ~0.3-1 s), one per camera if parallel."""
    return 1 + (len(RIG_CAMERAS) if parallel else 0)


def _nice() -> int:
    """The calling thread's nice value (0 where threads have none of their own)."""
    if not hasattr(os, "getpriority") or not sys.platform.startswith("linux"):
        return 0
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def _below(base: int) -> None:
    """Run the calling thread SEARCH_NICE levels below ``base``, the GUI thread's (a
    new thread starts at the nice of the one that made it: the search thread's)."""
    lower_priority(base + SEARCH_NICE - _nice())


class DetectionWorker:
    """Searches the newest FrameSet on its own thread (at a lower OS priority), a
    captured pose in full on a pool at the same priority (and the cameras on it in
    parallel with ``parallel``): ``submit`` is a capture sink (returns at once,
    replaces what is pending); states land in ``states``."""

    def __init__(self, live: LiveCalibration | None = None, parallel: bool = PARALLEL_CAMERAS):
        self.live = live
        self.parallel = parallel
        self.inbox: LatestSlot[FrameSet] = LatestSlot()
        self.states: LatestSlot[LiveState] = LatestSlot()
        self.rate = RateMeter()
        #: FrameSets searched so far (a rate over any span: the meter's is the last 2 s).
        self.searches = 0
        self.busy_ms = 0.0
        #: CPU time the searches took on this thread, in all (the cameras in turn: all
        #: of a search's work but a parallel one's), ms: divided by ``searches``, what a
        #: search costs whatever else the machine is doing.
        self.cpu_ms = 0.0
        self.error = ""
        self._stop = threading.Event()
        self.pool = ThreadPoolExecutor(
            search_threads(parallel), "board-search", initializer=_below, initargs=(_nice(),)
        )
        self._thread = threading.Thread(target=self._run, name="board-search", daemon=True)
        self._thread.start()

    def submit(self, fs: FrameSet) -> None:
        self.inbox.put(fs)

    def process(self, fs: FrameSet, background: bool = False) -> LiveState | None:
        """Search one FrameSet now (the thread's body; tests call it directly). With
        ``background`` (the thread), a captured pose's full search runs on the pool
        beside the next searches (and the cameras, if parallel); without, all here."""
        live = self.live
        if live is None:
            return None
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            pool = self.pool if background else None
            state = live.process(fs, pool, parallel=self.parallel)
        except Exception as exc:  # noqa: BLE001 - a detector bug must not end the wizard
            self.error = f"{type(exc).__name__}: {exc}"
            return None
        ms, cpu = 1e3 * (time.perf_counter() - t0), 1e3 * (time.thread_time() - c0)
        self.cpu_ms += cpu
        # Smoothed: a search now and then is longer (a pose captured in the foreground,
        # or one in the background taking CPU).
        self.busy_ms = ms if self.busy_ms == 0.0 else 0.8 * self.busy_ms + 0.2 * ms
        self.rate.tick()
        self.searches += 1
        if live is self.live:
            self.states.put(state)
        return state

    def _run(self) -> None:
        lower_priority(SEARCH_NICE)
        seen, began = 0, -math.inf
        while not self._stop.is_set():
            seen, fs = self.inbox.wait_newer(seen, timeout=0.25)
            if fs is None:
                continue
            wait = began + 1.0 / MAX_SEARCH_RATE - time.perf_counter()
            if wait > 0.0 and self._stop.wait(wait):
                break
            seen, fs = self.inbox.get()  # the newest after the wait
            if fs is None:  # stop() put it
                continue
            began = time.perf_counter()
            self.process(fs, background=True)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.inbox.put(None)
        self._thread.join(timeout)
        # A pose's full search still running is left to finish on its own (< 1 s).
        self.pool.shutdown(wait=False, cancel_futures=True)


class FitJob:
    """One rig fit on its own thread; ``progress`` holds (stage, done, total)."""

    def __init__(self, live: LiveCalibration):
        self.progress: LatestSlot[tuple[str, int, int]] = LatestSlot()
        self.result: RigCalibration | None = None
        self.error = ""
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(live,), name="rig-fit", daemon=True)
        self._thread.start()

    def _run(self, live: LiveCalibration) -> None:
        try:
            self.result = live.calibrate(lambda *p: self.progress.put(p))
        except ThermorigError as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown to the person, the app goes on
            self.error = f"the fit failed ({type(exc).__name__}: {exc})"
        finally:
            self.done.set()
