"""Capture worker, latest-wins hand-over, overlay stages and recording while previewing."""

import sys
import threading
import time

import numpy as np
import pytest

from app.live.capture import (
    CaptureWorker,
    RecordingFailed,
    RecordingFinished,
    RecordingStarted,
    SourceEnded,
    SourceFailed,
    SourceOpened,
)
from app.live.stages import (
    LatestSlot,
    Overlay,
    RateMeter,
    StageRegistry,
    StageRunner,
    StallMeter,
    lower_priority,
    truth_labels_stage,
)
from calibration.rig import Rig, RigError
from calibration.rig_streams import check_rig, rig_problem, source_rig
from drivers.errors import DiskFullError, SourceError
from drivers.recording import Recording, RecordingRequest
from drivers.replay import ReplayDriver
from drivers.session import SessionReader
from drivers.session_writer import SessionWriter
from drivers.types import Frame, FrameSet
from tests.fakes import FakeRig, fake_pixels, fake_rig, fake_specs, write_fake_session


def _opened(driver):
    driver.open()
    return driver


def _events(worker, until, timeout=10.0):
    """Events from ``worker`` until one of type ``until`` arrives."""
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = worker.events.get(timeout=0.05)
        except Exception:  # noqa: BLE001 - queue.Empty
            continue
        out.append(event)
        if isinstance(event, until):
            return out
    raise AssertionError(f"no {until.__name__} within {timeout} s; got {out}")


def _fs(i: int) -> FrameSet:
    frame = Frame("thermal", i, float(i), np.full((4, 4), i, np.uint16))
    return FrameSet(index=i, timestamp=float(i), pivot="thermal", frames={"thermal": frame})


# -- latest-wins and meters -----------------------------------------------------------


def test_latest_slot_keeps_only_the_newest_value():
    slot = LatestSlot()
    assert slot.get() == (0, None)
    for i in range(100):
        slot.put(i)
    seq, value = slot.get()
    assert (seq, value) == (100, 99)
    assert slot.get_newer(seq) == (seq, None), "nothing new since"
    slot.put(100)
    assert slot.get_newer(seq) == (101, 100)


def test_latest_slot_wakes_a_waiting_reader():
    slot = LatestSlot()
    threading.Timer(0.05, slot.put, args=("x",)).start()
    assert slot.wait_newer(0, timeout=5.0) == (1, "x")
    assert slot.wait_newer(1, timeout=0.01) == (1, None)


def test_rate_and_stall_meters_with_a_fake_clock():
    now = [0.0]
    rate = RateMeter(window=2.0, clock=lambda: now[0])
    for _ in range(31):
        rate.tick()
        now[0] += 1 / 30
    assert rate.rate == pytest.approx(30.0, rel=0.01)
    now[0] += 5.0
    assert rate.rate == 0.0, "a stopped stream reads 0, not its old rate"
    stall = StallMeter(clock=lambda: now[0])
    for gap in (0.016, 0.016, 0.120, 0.016):
        now[0] += gap
        stall.tick()
    assert stall.longest == pytest.approx(0.120) and stall.ticks == 4


# -- overlay stages -------------------------------------------------------------------


def test_truth_stage_returns_the_thermal_labels_and_keypoints():
    frames = FakeRig(duration=0.3)
    frames.open()
    thermal = next(f for f in frames.frames() if f.stream == "thermal")
    fs = FrameSet(0, thermal.timestamp, "thermal", {"thermal": thermal})
    result = truth_labels_stage("thermal")(fs)
    assert result.stream == "thermal" and result.labels is thermal.truth["labels"]
    assert result.points.shape == (6, 2)
    assert truth_labels_stage("thermal")(FrameSet(1, 0.0, "depth")) is None
    outline = truth_labels_stage("thermal", outline=True)(fs).rgba
    assert outline.shape == (*thermal.array.shape, 4) and outline[..., 3].max() == 230


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_the_overlay_thread_can_lower_its_own_priority_only():
    import os

    before = os.getpriority(os.PRIO_PROCESS, 0)
    seen = {}

    def body() -> None:
        tid = threading.get_native_id()
        seen["ok"] = lower_priority(2)
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, tid)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen["ok"] and seen["nice"] == min(before + 2, 19)
    assert os.getpriority(os.PRIO_PROCESS, 0) == before, "the calling thread is unchanged"
    assert not lower_priority(0)


def test_a_capped_stage_keeps_its_newest_result_between_runs():
    registry = StageRegistry()
    calls = []
    registry.register(
        "slow", lambda fs: calls.append(fs.index) or Overlay("thermal", fs.index), max_rate=2.0
    )
    runner = StageRunner(registry)
    for i in range(5):
        runner.run_once(_fs(i))
    assert calls == [0] and runner.results()["slow"].frameset == 0
    time.sleep(0.55)
    runner.run_once(_fs(5))
    assert calls == [0, 5]


def test_results_come_in_drawing_order_with_each_stages_note():
    registry = StageRegistry()
    registry.register("under", lambda fs: Overlay("thermal", fs.index, note="first"))
    registry.register("over", lambda fs: Overlay("thermal", fs.index, note="second"))
    runner = StageRunner(registry)
    runner.run_once(_fs(1))
    registry.unregister("under")
    registry.register("under", lambda fs: Overlay("thermal", fs.index, note="now last"))
    runner.run_once(_fs(2))
    assert list(runner.results()) == ["over", "under"], "registry order, not result order"
    assert [s.note for s in runner.stats()] == ["second", "now last"]


def test_stage_runner_renders_labels_and_reports_each_stage():
    registry = StageRegistry()
    labels = np.zeros((4, 4), np.uint8)
    labels[1:3, 1:3] = 1
    registry.register("mask", lambda fs: Overlay("thermal", fs.index, labels=labels))
    registry.register("broken", lambda fs: 1 / 0, title="Broken stage")
    runner = StageRunner(registry)
    runner.run_once(_fs(7))
    results = runner.results()
    assert list(results) == ["mask"]
    assert results["mask"].rgba.shape == (4, 4, 4), "runner prepares RGBA off the GUI thread"
    stats = {s.name: s for s in runner.stats()}
    assert stats["mask"].runs == 1 and stats["mask"].errors == 0 and stats["mask"].busy_ms >= 0
    assert stats["broken"].errors == 1 and "ZeroDivisionError" in stats["broken"].last_error
    registry.set_enabled("mask", False)
    assert runner.results() == {}, "a disabled stage's result is not drawn"


def test_slow_stage_skips_to_the_newest_frameset():
    """Latest-wins: a stage slower than the frames sees fewer sets, never a backlog."""
    registry = StageRegistry()
    seen = []

    def slow(fs):
        seen.append(fs.index)
        time.sleep(0.02)
        return Overlay("thermal", fs.index)

    registry.register("slow", slow)
    runner = StageRunner(registry)
    runner.start()
    try:
        for i in range(200):
            runner.submit(_fs(i))
            time.sleep(0.001)
        deadline = time.monotonic() + 5
        while runner.results().get("slow", Overlay("x")).frameset != 199:
            assert time.monotonic() < deadline, f"never reached the newest set: {seen[-3:]}"
            time.sleep(0.01)
    finally:
        runner.stop()
    assert len(seen) < 100, f"processed {len(seen)} of 200: it queued instead of skipping"
    assert seen == sorted(seen)


# -- capture worker -------------------------------------------------------------------


def test_capture_worker_publishes_framesets_and_ends():
    submitted = []
    worker = CaptureWorker(lambda: _opened(FakeRig(duration=1.0)), "fake:rig", (submitted.append,))
    worker.start()
    try:
        events = _events(worker, SourceEnded)
        assert isinstance(events[0], SourceOpened) and set(events[0].streams) == {
            "thermal",
            "depth",
            "color",
        }
        seq, fs = worker.latest.get()
        assert seq == len(submitted) >= 8, "one FrameSet per pivot (9 fps thermal) frame"
        assert fs is submitted[-1] and set(fs.frames) == {"thermal", "depth", "color"}
        time.sleep(0.35)
        _, stats = worker.stats.get()
        assert stats.ended and stats.sets == seq and stats.sync["pivot"] == "thermal"
        assert stats.health["thermal"].frames == 9
    finally:
        worker.stop()
    assert not worker.alive


def test_capture_worker_reports_a_source_that_cannot_open():
    def fail():
        raise SourceError("unknown source 'nope:x'; known sources: synthetic:cycling")

    worker = CaptureWorker(fail, "nope:x")
    worker.start()
    (event,) = _events(worker, SourceFailed)
    assert event.message.startswith("unknown source 'nope:x'")
    worker.stop()


def test_recording_while_previewing_keeps_every_frame(tmp_path):
    """Start, mark, stop: the file holds every frame read while recording, in order."""
    rig = FakeRig(
        duration=None, live=True, scale=4, fps=dict.fromkeys(("thermal", "depth", "color"), 30.0)
    )
    worker = CaptureWorker(lambda: _opened(rig), "fake:live")
    worker.start()
    path = tmp_path / "rec.h5"
    try:
        _events(worker, SourceOpened)
        worker.start_recording(
            RecordingRequest(path, activity="treadmill", subject="S07", notes="n", min_free_bytes=0)
        )
        _events(worker, RecordingStarted)
        time.sleep(0.4)
        worker.mark("sprint starts")
        time.sleep(0.3)
        worker.stop_recording()
        (finished,) = [
            e for e in _events(worker, RecordingFinished) if isinstance(e, RecordingFinished)
        ]
    finally:
        worker.stop()
    status = finished.status
    assert status.state == "done" and status.total_dropped == 0 and status.markers == 1
    with SessionReader(path) as reader:
        assert reader.attrs["activity"] == "treadmill" and reader.attrs["subject"] == "S07"
        for name, spec in reader.streams.items():
            n = reader.count(name)
            assert n == status.frames[name] >= 15
            idx = reader.indices(name)
            assert np.all(np.diff(idx) == 1), f"{name}: frames missing inside the recording"
            last = reader.frame(name, n - 1)
            assert np.array_equal(last.array, fake_pixels(spec, last.index))
        ((t, text),) = reader.events()
        assert text == "sprint starts"
        assert reader.timestamps("thermal")[0] <= t <= reader.timestamps("thermal")[-1]


def test_recording_request_errors_come_back_as_events(tmp_path):
    (tmp_path / "taken.h5").write_bytes(b"x")
    worker = CaptureWorker(lambda: _opened(FakeRig(duration=None, live=True)), "fake:live")
    worker.start()
    try:
        _events(worker, SourceOpened)
        worker.start_recording(RecordingRequest(tmp_path / "taken.h5", min_free_bytes=0))
        failed = [e for e in _events(worker, RecordingFailed) if isinstance(e, RecordingFailed)]
        assert "already exists" in failed[0].message
        assert worker.alive, "the preview goes on"
    finally:
        worker.stop()


def test_write_error_mid_recording_keeps_the_file_and_says_why(tmp_path, monkeypatch):
    calls = {"n": 0}
    real_write = SessionWriter.write

    def write(self, frame):
        calls["n"] += 1
        if calls["n"] > 10:
            raise DiskFullError("disk nearly full: 3 MB free in /x; free space or record elsewhere")
        real_write(self, frame)

    monkeypatch.setattr(SessionWriter, "write", write)
    rig = FakeRig(duration=None, live=True, fps=dict.fromkeys(("thermal", "depth", "color"), 30.0))
    worker = CaptureWorker(lambda: _opened(rig), "fake:live")
    worker.start()
    path = tmp_path / "full.h5"
    try:
        _events(worker, SourceOpened)
        worker.start_recording(RecordingRequest(path, min_free_bytes=0))
        failed = [e for e in _events(worker, RecordingFailed) if isinstance(e, RecordingFailed)]
        seq_before = worker.latest.get()[0]
        time.sleep(0.3)
        assert worker.latest.get()[0] > seq_before, "capture and preview go on"
    finally:
        worker.stop()
    assert failed[0].message.startswith("disk nearly full")
    assert failed[0].status.state == "failed" and failed[0].status.total_frames == 10
    with SessionReader(path) as reader:
        assert sum(reader.count(n) for n in reader.streams) == 10


def test_tee_drops_and_counts_when_a_live_queue_is_full(tmp_path):
    rig = _opened(FakeRig(duration=None))
    request = RecordingRequest(tmp_path / "q.h5", min_free_bytes=0, queue_bytes=1)
    tee = Recording(request, rig.streams, rig.info, lossless=False)
    gate = threading.Event()
    real = tee.writer.write
    tee.writer.write = lambda f: (gate.wait(5), real(f))  # a disk that stalls
    frames = [rig.read() for _ in range(40)]
    accepted = [tee.offer(f) for f in frames]
    gate.set()
    tee.finish()
    assert tee.wait(10)
    status = tee.status()
    assert status.total_dropped == accepted.count(False) > 0
    assert status.total_frames == accepted.count(True)


# -- replay control -------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_session(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay") / "fake.h5"
    write_fake_session(path, FakeRig(duration=3.0))
    return path


def test_replay_seek_and_step_land_on_the_recorded_frames(fake_session):
    worker = CaptureWorker(lambda: _opened(ReplayDriver(str(fake_session))), "replay")
    worker.start()
    try:
        opened = _events(worker, SourceOpened)[-1]
        info = opened.replay
        assert info.pivot == "thermal" and info.count == 27
        worker.pause()
        worker.seek(10)
        worker.step()
        worker.step()
        deadline = time.monotonic() + 5
        with SessionReader(fake_session) as reader:
            want = reader.frame("thermal", 12)
            while True:
                _, fs = worker.latest.get()
                if fs is not None and fs["thermal"].index == want.index:
                    break
                assert time.monotonic() < deadline, "never reached row 12"
                time.sleep(0.02)
        assert np.array_equal(fs["thermal"].array, want.array)
        assert info.row_of(fs["thermal"].index) == 12
        time.sleep(0.4)
        assert worker.stats.get()[1].replay_row == 12
        assert not worker.stats.get()[1].playing
    finally:
        worker.stop()


def test_replay_plays_fast_to_the_end_and_restarts(fake_session):
    sets = []
    worker = CaptureWorker(
        lambda: _opened(ReplayDriver(str(fake_session))), "replay", (sets.append,)
    )
    worker.start()
    try:
        _events(worker, SourceOpened)
        worker.set_speed(50.0)
        _events(worker, SourceEnded)
        first_pass = len(sets)
        assert sets[-1]["thermal"].index == 126, "the last thermal frame (counter from 100)"
        worker.play()  # at the end: starts over from the first frame
        _events(worker, SourceEnded)
    finally:
        worker.stop()
    assert first_pass == 27 and len(sets) == 54
    assert sets[first_pass]["thermal"].index == 100


# -- rigs -----------------------------------------------------------------------------


def test_rig_must_match_the_streams():
    specs = fake_specs()
    rig = Rig.from_dict(fake_rig(specs))
    assert rig_problem(rig, specs) is None
    assert check_rig(rig, specs) is rig
    other = Rig.from_dict(fake_rig(fake_specs(scale=2)))
    assert "'thermal' camera is 32x24 but the stream is 16x12" in rig_problem(other, specs)
    del rig.cameras["color"]
    assert "no 'color' camera" in rig_problem(rig, specs)
    with pytest.raises(RigError, match="my.json does not fit this source"):
        check_rig(rig, specs, "my.json")


def test_source_rig_prefers_the_recorded_rig_then_the_truth():
    rig = _opened(FakeRig()).info
    found, origin = source_rig(rig)
    assert origin == "recorded with the source" and set(found.cameras) == {
        "thermal",
        "depth",
        "color",
    }
    rig.rig = None
    assert source_rig(rig)[1] == "true rig of the synthetic scene"
    rig.truth = None
    assert source_rig(rig) == (None, "")
