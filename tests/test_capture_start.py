"""A live synthetic source shows frames before its cycle is rendered, and a recording
started from it still begins with the whole cycle rendered (so it drops nothing to
rendering). Launch-to-first-frame in seconds is a figure for the report, not a test."""

import queue
import time

from app.live.capture import CaptureWorker, RecordingStarted, SourceOpened, SourceProgress
from drivers.recording import RecordingRequest
from drivers.sources import open_source

#: Small images; a seed no other test uses, so the shared render cache starts cold.
OPTIONS = {
    "thermal_size": (160, 128),
    "depth_size": (160, 120),
    "color_size": (320, 180),
    "seed": 4711,
}


def _opened():
    driver = open_source("synthetic:cycling", **OPTIONS)
    driver.open()
    return driver


def _drain(worker: CaptureWorker) -> list:
    out = []
    while True:
        try:
            out.append(worker.events.get_nowait())
        except queue.Empty:
            return out


def test_frames_come_before_the_cycle_is_rendered_and_a_recording_waits_for_it(tmp_path):
    worker = CaptureWorker(_opened, "synthetic:cycling")
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while worker.latest.get()[1] is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert worker.latest.get()[1] is not None, "no FrameSet within 30 s"
        driver = worker.driver
        states = len(driver.scene.states())
        streams = len(driver.stream_names)
        rendered = driver.stats()["renders"]
        events = _drain(worker)
        assert isinstance(events[0], SourceOpened)
        assert not any(isinstance(e, SourceProgress) for e in events), "no prewarm first"
        assert 0 < rendered < states * streams // 2, (rendered, states * streams)

        worker.start_recording(RecordingRequest(tmp_path / "warm.h5"))
        deadline = time.monotonic() + 60
        seen: list = []
        while not any(isinstance(e, RecordingStarted) for e in seen):
            assert time.monotonic() < deadline, f"recording did not start: {seen}"
            seen += _drain(worker)
            time.sleep(0.01)
        progress = [e for e in seen if isinstance(e, SourceProgress)]
        assert progress and progress[-1].done == progress[-1].total == states
        # Every state of the cycle was rendered before the first recorded frame.
        assert driver.stats()["renders"] >= states * streams
        worker.stop_recording()
    finally:
        worker.stop()
    assert not worker.alive
