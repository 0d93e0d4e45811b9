"""The calibration wizard's board-search thread: it searches what it is given and runs
below the GUI and capture threads' priority (it is the part that may lag)."""

import os
import sys
import threading
import time

import numpy as np
import pytest

from app.live.calibration_workers import MAX_SEARCH_RATE, SEARCH_NICE, DetectionWorker
from calibration.live import LiveCalibration
from tests.test_calibration_live import BOARD, _frames, _specs


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_the_search_threads_run_at_a_lower_priority_than_the_thread_that_made_them():
    before = os.getpriority(os.PRIO_PROCESS, 0)
    worker = DetectionWorker()
    try:
        tid = worker._thread.native_id
        done = threading.Event()
        # The thread lowers its priority first thing; wait until it has (no timing).
        for _ in range(1000):
            if os.getpriority(os.PRIO_PROCESS, tid) == min(before + SEARCH_NICE, 19):
                done.set()
                break
            done.wait(0.005)
        assert done.is_set(), "the search thread kept the GUI thread's priority"
        assert os.getpriority(os.PRIO_PROCESS, 0) == before, "the calling thread is unchanged"
        # A pose is searched in full on the pool: its threads run as low as the search.
        niceness = worker.pool.submit(os.getpriority, os.PRIO_PROCESS, 0).result(timeout=30.0)
        assert niceness == min(before + SEARCH_NICE, 19)
    finally:
        worker.stop()
    assert not worker._thread.is_alive()


def test_a_submitted_frameset_is_searched_on_the_thread_and_its_pictures_handed_over():
    worker = DetectionWorker(LiveCalibration(BOARD, _specs()))
    try:
        worker.submit(_frames(0, (0.5, 0.5, 0.0)))
        _, state = worker.states.wait_newer(0, timeout=30.0)
        assert state is not None, worker.error
        color = state.cameras["color"]
        assert color.detection is not None and color.picture.shape == color.image.shape
        assert worker.searches == 1 and worker.busy_ms > 0.0 and worker.error == ""
        assert 0.0 < worker.cpu_ms <= worker.busy_ms * 1.05 + 1.0, "the search thread's own CPU"
    finally:
        worker.stop()
    assert not worker._thread.is_alive()


def test_searches_begin_at_most_max_search_rate_times_a_second_each_on_a_newer_frameset():
    worker = DetectionWorker(LiveCalibration(BOARD, _specs()))
    began: list[tuple[float, int]] = []
    process = worker.process

    def timed(fs, background=False):
        began.append((time.perf_counter(), fs.index))
        return process(fs, background)

    worker.process = timed
    try:
        # Frames come faster than the rate: each search takes the newest after its wait.
        for i in range(400):
            worker.submit(_frames(i, (0.5, 0.5, 0.0)))
            if worker.searches >= 4:
                break
            time.sleep(0.02)
    finally:
        worker.stop()
    assert worker.error == ""
    gaps = np.diff([t for t, _ in began])
    assert len(began) >= 4 and gaps.min() >= 1.0 / MAX_SEARCH_RATE
    assert np.all(np.diff([i for _, i in began]) > 0)
