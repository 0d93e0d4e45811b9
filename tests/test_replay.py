"""Replay: order, exact reproduction, seek/step/loop, pacing on a fake clock."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from drivers.errors import EndOfStream, SessionError, SourceError
from drivers.recorder import record
from drivers.replay import ReplayDriver
from drivers.session import SessionReader
from drivers.sources import open_source
from tests.fakes import BOARD, write_fake_session


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay") / "s.h5"
    frames = write_fake_session(path, marks=[(1000.1, "go")])
    return path, frames


class FakeClock:
    """A monotonic clock that only moves when the driver sleeps."""

    def __init__(self):
        self.now = 50.0
        self.slept = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.now += seconds


def drain(driver) -> list:
    out = []
    while True:
        try:
            out.append(driver.read(timeout=None))
        except EndOfStream:
            return out


def test_replay_delivers_every_frame_in_timestamp_order(session):
    path, written = session
    with ReplayDriver(str(path), realtime=False) as driver:
        got = drain(driver)
        assert driver.count == len(written) == 39
        assert driver.position == pytest.approx(driver.duration)
    assert [f.timestamp for f in got] == sorted(f.timestamp for f in got)
    for src, out in zip(written, got, strict=True):  # the fake rig is in time order too
        assert (out.stream, out.index, out.timestamp) == (src.stream, src.index, src.timestamp)
        assert out.device_timestamp == src.device_timestamp
        assert np.array_equal(out.array, src.array)
        assert np.array_equal(out.truth["keypoints"], src.truth["keypoints"], equal_nan=True)


def test_info_carries_rig_and_truth(session):
    path, _ = session
    driver = open_source(f"replay:{path}", realtime=False)
    try:
        assert driver.info.spec == f"replay:{path}"
        assert driver.info.truth["board"] == BOARD
        assert driver.info.rig["reference"] == "depth"
        assert driver.info.activity == "cycling"
        assert list(driver.streams) == ["thermal", "depth", "color"]
    finally:
        driver.close()


def _datasets(f: h5py.File) -> dict:
    out = {}
    f.visititems(
        lambda name, obj: out.setdefault(name, obj) if isinstance(obj, h5py.Dataset) else None
    )
    return out


def test_recording_a_replay_reproduces_the_session_bit_for_bit(session, tmp_path):
    path, _ = session
    copy = tmp_path / "copy.h5"
    with ReplayDriver(str(path), realtime=False) as driver:
        summary = record(driver, copy)
    assert sum(summary.dropped.values()) == 0
    with h5py.File(path, "r") as a, h5py.File(copy, "r") as b:
        for key in ("format", "version", "activity", "subject", "notes", "codec"):
            assert a.attrs[key] == b.attrs[key]
        assert b.attrs["source"] == f"replay:{path}"
        da, db = _datasets(a), _datasets(b)
        assert sorted(da) == sorted(db)
        for name in da:
            if name.startswith("events"):
                continue  # markers belong to a recording, not to the frames
            x, y = da[name][()], db[name][()]
            assert x.dtype == y.dtype and x.shape == y.shape, name
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
            assert dict(da[name].parent.attrs) == dict(db[name].parent.attrs), name
        assert a["truth"].attrs["board"] == b["truth"].attrs["board"]
        assert a["truth/rig"].attrs["json"] == b["truth/rig"].attrs["json"]
        assert a["rig"].attrs["json"] == b["rig"].attrs["json"]


def test_seek_moves_every_stream_to_the_pivot_frame_time(session):
    path, _ = session
    with SessionReader(path) as reader:
        ts = {n: reader.timestamps(n) for n in reader.streams}
    start = min(t[0] for t in ts.values())
    with ReplayDriver(str(path), realtime=False) as driver:
        driver.seek(3)  # default pivot: thermal, the slowest stream
        assert driver.position == pytest.approx(ts["thermal"][3] - start)
        rest = drain(driver)
        assert rest[0].stream == "thermal" and rest[0].timestamp == ts["thermal"][3]
        for name, t in ts.items():
            got = [f.timestamp for f in rest if f.stream == name]
            assert got == [v for v in t if v >= ts["thermal"][3]]
        driver.seek(10, stream="color")
        first = driver.step()
        assert first.timestamp >= ts["color"][10]
        assert driver.step().timestamp >= first.timestamp
        with pytest.raises(SourceError, match="out of range"):
            driver.seek(9)
        with pytest.raises(SourceError, match="no stream 'ir'"):
            driver.seek(0, stream="ir")


def test_seek_with_a_lead_starts_the_other_streams_earlier(session):
    path, _ = session
    with SessionReader(path) as reader:
        ts = {n: reader.timestamps(n) for n in reader.streams}
    t = ts["thermal"][3]
    with ReplayDriver(str(path), realtime=False) as driver:
        driver.seek(3, lead=0.1)
        rest = drain(driver)
    for name, times in ts.items():
        got = [f.timestamp for f in rest if f.stream == name]
        start = t if name == "thermal" else t - 0.1  # the pivot itself never leads
        assert got == [v for v in times if v >= start], name
    assert any(f.timestamp < t for f in rest), "frames before the pivot frame come first"


def test_step_walks_frames_and_ends(session):
    path, written = session
    clock = FakeClock()
    with ReplayDriver(str(path), clock=clock, sleep=clock.sleep) as driver:
        stepped = [driver.step() for _ in range(len(written))]
        with pytest.raises(EndOfStream):
            driver.step()
    assert [f.timestamp for f in stepped] == [f.timestamp for f in written]
    assert clock.slept == []  # stepping never waits


def test_loop_restarts_with_later_timestamps(session):
    path, written = session
    n = len(written)
    with ReplayDriver(str(path), realtime=False, loop=True) as driver:
        frames = [driver.read() for _ in range(2 * n + 3)]
    for a, b in zip(frames[:n], frames[n : 2 * n], strict=True):
        assert (a.stream, a.index) == (b.stream, b.index)
        assert np.array_equal(a.array, b.array)
        assert b.timestamp > frames[n - 1].timestamp
    for name in ("thermal", "depth", "color"):
        t = [f.timestamp for f in frames if f.stream == name]
        assert np.all(np.diff(t) > 0), name


@pytest.mark.parametrize("speed", [1.0, 2.5])
def test_realtime_pacing_follows_recorded_time(session, speed):
    path, _ = session
    clock = FakeClock()
    with ReplayDriver(str(path), speed=speed, clock=clock, sleep=clock.sleep) as driver:
        start = clock.now
        frames = drain(driver)
        assert clock.now - start == pytest.approx(driver.duration / speed)
    # every frame was delivered when its recorded time (scaled) had come
    assert frames[-1].timestamp - frames[0].timestamp == pytest.approx(driver.duration)


def test_realtime_read_gives_none_when_nothing_is_due_within_timeout(session):
    path, _ = session
    clock = FakeClock()
    with ReplayDriver(str(path), clock=clock, sleep=clock.sleep) as driver:
        first = driver.read(timeout=0.01)
        assert first is not None
        second = driver.read(timeout=0.0001)  # the next frame is 1 ms later
        assert second is None and clock.slept == [0.0001]
        assert driver.read(timeout=1.0) is not None


def test_paused_replay_does_not_rush_to_catch_up(session):
    path, _ = session
    clock = FakeClock()
    with ReplayDriver(str(path), clock=clock, sleep=clock.sleep) as driver:
        driver.read()
        driver.stop()
        clock.now += 100.0  # paused for 100 s
        driver.start()
        driver.read()
        clock.slept.clear()
        driver.read()
        driver.read()
        assert sum(clock.slept) > 0  # pacing resumed instead of bursting


def test_bad_replay_specs_are_one_line_errors(tmp_path):
    with pytest.raises(SessionError) as err:
        open_source(f"replay:{tmp_path / 'nope.h5'}")
    assert "not found" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(SourceError, match="speed must be positive"):
        ReplayDriver(str(tmp_path / "x.h5"), speed=0)
    with pytest.raises(SourceError, match="replay needs a session file"):
        ReplayDriver("")
