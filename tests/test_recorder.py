"""The recorder: codecs, limits, dropped frames, full disks, kills, no overwriting."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import namedtuple
from pathlib import Path

import h5py
import numpy as np
import pytest

from drivers import codecs, session_writer
from drivers.base import BaseDriver
from drivers.errors import DiskFullError, SessionError, SourceError
from drivers.recorder import CODECS, SessionWriter, record
from drivers.replay import ReplayDriver
from drivers.session import SessionReader
from drivers.types import StreamSpec
from tests.fakes import FakeRig, fake_pixels, fake_specs, fake_truth, write_fake_session

REPO = Path(__file__).resolve().parents[1]
Usage = namedtuple("Usage", "total used free")


def opened(rig: FakeRig) -> FakeRig:
    rig.open()
    return rig


def assert_intact(reader: SessionReader, seed: int = 0) -> int:
    """Every frame's pixels and truth are what the fake rig makes for its index."""
    total = 0
    for name, spec in reader.streams.items():
        for i in range(reader.count(name)):
            frame = reader.frame(name, i)
            assert np.array_equal(frame.array, fake_pixels(spec, frame.index, seed))
            want = fake_truth(spec, frame.index, seed)
            assert np.array_equal(frame.truth["labels"], want["labels"])
            assert np.array_equal(frame.truth["keypoints"], want["keypoints"], equal_nan=True)
            total += 1
    return total


def test_record_summary_matches_the_file(tmp_path):
    path = tmp_path / "rec.h5"
    summary = record(opened(FakeRig(duration=1.0)), path, subject="S02", activity="other")
    assert summary.frames == {"thermal": 9, "depth": 15, "color": 15}
    assert summary.dropped == {"thermal": 0, "depth": 0, "color": 0}
    assert summary.stopped_by == "end" and summary.path == path
    assert summary.bytes == path.stat().st_size and summary.ms_per_frame > 0
    assert summary.seconds == pytest.approx(14 / 15 + 0.002)
    with SessionReader(path) as reader:
        assert {n: reader.count(n) for n in reader.streams} == summary.frames
        assert reader.attrs["activity"] == "other" and reader.attrs["subject"] == "S02"
        assert assert_intact(reader) == 39


@pytest.mark.parametrize("codec", list(CODECS))
def test_each_codec_round_trips(tmp_path, codec):
    path = tmp_path / f"{codec}.h5"
    frames = write_fake_session(path, FakeRig(duration=0.5, scale=3), codec=codec)
    expected_filter = {"blosc2-lz4": "32026", "lzf": "lzf", "gzip": "gzip", "none": None}[codec]
    with h5py.File(path, "r") as f:
        assert f.attrs["codec"] == codec and "codec_note" not in f.attrs
        filters = f["streams/color/frames"]._filters
        assert (expected_filter in filters) if expected_filter else not filters
    with SessionReader(path) as reader:
        rows = {n: 0 for n in reader.streams}
        for src in frames:
            got = reader.frame(src.stream, rows[src.stream])
            rows[src.stream] += 1
            assert np.array_equal(got.array, src.array) and got.timestamp == src.timestamp
            assert np.array_equal(got.truth["labels"], src.truth["labels"])


def test_blosc2_falls_back_to_lzf_without_hdf5plugin(tmp_path, monkeypatch):
    monkeypatch.setattr(codecs, "hdf5plugin", None)
    path = tmp_path / "fallback.h5"
    write_fake_session(path, FakeRig(duration=0.3))
    with h5py.File(path, "r") as f:
        assert f.attrs["codec"] == "lzf"
        assert "hdf5plugin is missing" in f.attrs["codec_note"]
        assert f["streams/thermal/frames"].compression == "lzf"


@pytest.mark.parametrize(
    "kwargs, expected",
    [({"codec": "zstd-ultra"}, "unknown codec"), ({"activity": "rowing"}, "unknown activity")],
)
def test_bad_options_raise_before_creating_a_file(tmp_path, kwargs, expected):
    path = tmp_path / "x.h5"
    rig = opened(FakeRig())
    with pytest.raises(SessionError, match=expected):
        SessionWriter(path, rig.streams, rig.info, **kwargs)
    assert not path.exists()


def test_existing_file_is_never_overwritten_unless_asked(tmp_path):
    path = tmp_path / "keep.h5"
    path.write_bytes(b"precious")
    with pytest.raises(SessionError, match="already exists"):
        record(opened(FakeRig(duration=0.2)), path)
    assert path.read_bytes() == b"precious"
    summary = record(opened(FakeRig(duration=0.2)), path, overwrite=True)
    assert sum(summary.frames.values()) > 0
    with SessionReader(path) as reader:
        assert assert_intact(reader) == sum(summary.frames.values())


def test_replayed_session_cannot_be_recorded_over(tmp_path):
    path = tmp_path / "source.h5"
    write_fake_session(path)
    before = path.read_bytes()
    driver = ReplayDriver(str(path), realtime=False)
    driver.open()
    with pytest.raises(SessionError, match="being replayed"):
        record(driver, path, overwrite=True)
    driver.close()
    assert path.read_bytes() == before


def test_disk_filling_up_stops_cleanly_and_keeps_the_file(tmp_path, monkeypatch):
    calls = []

    def fake_usage(folder):
        calls.append(folder)
        free = 900 * 2**20 if len(calls) <= 21 else 300 * 2**20  # init check + 20 frames
        return Usage(2**40, 2**40 - free, free)

    monkeypatch.setattr(session_writer.shutil, "disk_usage", fake_usage)
    path = tmp_path / "full.h5"
    with pytest.raises(DiskFullError) as err:
        record(opened(FakeRig(duration=None)), path)
    message = str(err.value)
    assert message.startswith("disk nearly full: 300 MB free in ") and "\n" not in message
    assert sum(err.value.summary.frames.values()) == 20
    assert f"; {path} keeps 20 frames (" in message  # says what it kept
    with h5py.File(path, "r") as f:  # closed properly: plain h5py opens it
        assert f["streams/thermal/frames"].shape[0] == err.value.summary.frames["thermal"]
    with SessionReader(path) as reader:
        assert assert_intact(reader) == 20


def test_nearly_full_disk_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.setattr(
        session_writer.shutil, "disk_usage", lambda folder: Usage(2**40, 2**40 - 2**20, 2**20)
    )
    path = tmp_path / "never.h5"
    with pytest.raises(DiskFullError, match="1 MB free"):
        record(opened(FakeRig()), path)
    assert not path.exists()


def test_frames_the_writer_cannot_take_are_counted_as_dropped(tmp_path, monkeypatch):
    gate = threading.Event()
    original = SessionWriter.write

    def held_write(self, frame):
        gate.wait(10)  # the writer stalls until the source has delivered everything
        original(self, frame)

    monkeypatch.setattr(SessionWriter, "write", held_write)
    rig = opened(FakeRig(duration=1.0, on_end=gate.set))
    summary = record(rig, tmp_path / "drops.h5", lossless=False, queue_frames=2)
    written = sum(summary.frames.values())
    dropped = sum(summary.dropped.values())
    assert written + dropped == 39 and 2 <= written <= 3
    with SessionReader(summary.path) as reader:
        assert assert_intact(reader) == written


def test_lossless_recording_waits_for_a_slow_writer(tmp_path, monkeypatch):
    original = SessionWriter.write

    def slow_write(self, frame):
        time.sleep(0.002)
        original(self, frame)

    monkeypatch.setattr(SessionWriter, "write", slow_write)
    summary = record(opened(FakeRig(duration=1.0)), tmp_path / "l.h5", queue_frames=1)
    assert sum(summary.dropped.values()) == 0 and sum(summary.frames.values()) == 39


def test_limits_by_source_seconds_and_by_frames(tmp_path):
    by_time = record(opened(FakeRig(duration=10.0)), tmp_path / "t.h5", seconds=1.0)
    assert by_time.stopped_by == "duration"
    assert by_time.frames == {"thermal": 9, "depth": 15, "color": 15}
    by_count = record(opened(FakeRig(duration=10.0)), tmp_path / "n.h5", max_frames=10)
    assert by_count.stopped_by == "frames" and sum(by_count.frames.values()) == 10


def test_stop_event_progress_and_markers(tmp_path):
    stop = threading.Event()
    calls = []
    marks: queue.Queue = queue.Queue()
    marks.put((None, "warm-up done"))

    def progress(value, stats):
        calls.append((value, stats))
        stop.set()

    summary = record(
        opened(FakeRig(duration=None)), tmp_path / "p.h5", progress=progress, stop=stop, marks=marks
    )
    assert summary.stopped_by == "stop"
    assert len(calls) >= 2  # at least one during recording, one at the end
    value, stats = calls[-1]
    assert value == pytest.approx(summary.seconds)  # no limit: progress in seconds
    assert stats["frames"] == summary.frames and stats["dropped"] == summary.dropped
    with SessionReader(summary.path) as reader:
        events = reader.events()
        first = reader.timestamps("thermal")[0]
    assert events == [(first, "warm-up done")]


class _Silent(BaseDriver):
    """A camera that never delivers."""

    def open(self):
        self._streams = {"thermal": StreamSpec("thermal", "thermal", (4, 4), "uint16", "ck", 9)}

    def _next_frame(self, timeout):
        return None


def test_a_silent_source_stops_the_recording_with_a_clear_error(tmp_path):
    driver = _Silent("silent:0")
    driver.open()
    with pytest.raises(SourceError, match="delivered no frame for 0 s"):
        record(driver, tmp_path / "silent.h5", stall_timeout=0.3)
    with SessionReader(tmp_path / "silent.h5") as reader:
        assert reader.count("thermal") == 0


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX-only")
def test_sigkill_keeps_everything_older_than_a_second(tmp_path):
    path = tmp_path / "killed.h5"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes", "live-record", str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "recording", proc.stderr.read()
        time.sleep(2.5)
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    with pytest.raises(OSError, match="already open for write"):
        h5py.File(path, "r")  # HDF5 still marks the file as being written...
    with SessionReader(path) as reader:  # ...and the reader opens it anyway
        specs = fake_specs(4)
        for name in specs:
            ts = reader.timestamps(name)
            assert len(ts) >= 60, name  # > 2 s at 30 fps
            assert np.all(np.diff(ts) > 0)
            assert ts[-1] >= killed_at - 1.0, f"{name}: lost {killed_at - ts[-1]:.2f} s"
            assert np.all(np.diff(reader.indices(name)) >= 1)
        assert assert_intact(reader) == sum(reader.count(n) for n in specs)
    # HDF5 does not check the length of a file opened for SWMR reading; the reader does.
    cut = tmp_path / "killed-then-cut.h5"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with pytest.raises(SessionError, match="truncated"):
        SessionReader(cut)
