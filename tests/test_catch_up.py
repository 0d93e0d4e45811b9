"""A live recording keeps its frames on a busy machine: the writer stores frames
uncompressed while it is behind (drivers.catch_up, drivers.codecs), the queue is sized
from free memory, the preview gives way, and what happened is counted and shown."""

from __future__ import annotations

import subprocess
import sys
import threading
import types

import h5py
import hdf5plugin
import numpy as np
import pytest

from app.commands.recording import format_summary
from app.live import capture
from app.live.capture import PREVIEW_FPS_WHILE_BEHIND, CaptureWorker
from drivers import recording
from drivers.catch_up import PROBE, CatchUp
from drivers.codecs import can_store_raw, raw_frames, store_raw
from drivers.recorder import RecordingSummary, record
from drivers.recording import MIN_QUEUE_BYTES, Recording, RecordingRequest, queue_budget
from drivers.session import SessionReader
from drivers.session_info import describe_session, format_session
from drivers.types import FrameSet
from tests.fakes import FakeRig, fake_pixels


# -- the policy -------------------------------------------------------------------------
def _policy_with_costs() -> CatchUp:
    """RGB takes three quarters of the compression time, as measured on the rig."""
    policy = CatchUp(behind_at=8)
    for _ in range(10):
        policy.observe("color", raw=False, seconds=0.011)
        policy.observe("thermal", raw=False, seconds=0.002)
        policy.observe("depth", raw=False, seconds=0.002)
    return policy


def test_caught_up_the_writer_compresses_everything():
    policy = _policy_with_costs()
    policy.update(backlog=7)
    assert not policy.behind
    assert not any(policy.store_raw(s) for s in ("color", "thermal", "depth"))


def test_behind_the_costliest_stream_goes_uncompressed_first_then_all():
    policy = _policy_with_costs()
    policy.update(backlog=8)
    assert policy.behind and policy.level == 1
    assert [s for s in ("color", "thermal", "depth") if policy.store_raw(s)] == ["color"]
    policy.update(backlog=16)
    assert policy.level == 2
    assert all(policy.store_raw(s) for s in ("color", "thermal", "depth"))


def test_the_writer_compresses_again_only_once_the_backlog_has_drained():
    policy = _policy_with_costs()
    policy.update(backlog=16)
    policy.update(backlog=3)  # above a quarter of behind_at: still catching up
    assert policy.level == 2
    policy.update(backlog=2)
    assert policy.level == 0 and not policy.store_raw("color")


def test_a_stream_whose_raw_frames_write_no_faster_stays_mostly_compressed():
    """A slow disk, not the CPU, is the limit: more bytes would only slow the writer;
    an occasional probe lets the judgement change when the disk is fast again."""
    policy = _policy_with_costs()
    policy.update(backlog=16)
    policy.observe("color", raw=True, seconds=0.020)
    choices = [policy.store_raw("color") for _ in range(2 * PROBE)]
    assert choices.count(True) == 2 and policy.store_raw("thermal")
    for _ in range(3):
        policy.observe("color", raw=True, seconds=0.001)  # the probes wrote fast
    assert policy.store_raw("color")


# -- uncompressed chunks in a compressed dataset ------------------------------------------
def test_raw_chunks_read_back_bit_exact_by_plain_h5py(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 65535, (6, 12, 16), dtype=np.uint16)
    path = tmp_path / "mixed.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(
            "frames", shape=frames.shape, chunks=(1, 12, 16), dtype=np.uint16, **hdf5plugin.Blosc2()
        )
        assert can_store_raw(ds)
        for i, frame in enumerate(frames):
            if i % 2:
                store_raw(ds, i, frame)
            else:
                ds[i] = frame
        assert raw_frames(ds) == 3 and raw_frames(ds, count=2) == 1
    np.save(tmp_path / "want.npy", frames)
    code = (
        "import sys, h5py, hdf5plugin, numpy as np\n"
        "got = h5py.File(sys.argv[1], 'r')['frames'][:]\n"
        "print(np.array_equal(got, np.load(sys.argv[2])))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(tmp_path / "want.npy")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "True"


def test_an_uncompressed_dataset_has_nothing_to_store_raw(tmp_path):
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        ds = f.create_dataset("frames", shape=(2, 4, 4), chunks=(1, 4, 4), dtype=np.uint8)
        assert not can_store_raw(ds) and raw_frames(ds) == 0


# -- the recording ------------------------------------------------------------------------
def _stalled_recording(tmp_path, rig: FakeRig, **request) -> tuple[Recording, threading.Event]:
    """A live recording whose writer waits at ``gate`` before its first frame."""
    req = RecordingRequest(tmp_path / "busy.h5", min_free_bytes=0, **request)
    rec = Recording(req, rig.streams, rig.info, lossless=False)
    gate = threading.Event()
    real = rec.writer.write

    def write(frame):
        gate.wait(10)
        real(frame)

    rec.writer.write = write
    return rec, gate


def test_a_writer_behind_stores_frames_uncompressed_and_loses_none(tmp_path):
    rig = FakeRig(duration=None, scale=4)
    rig.open()
    rec, gate = _stalled_recording(tmp_path, rig)
    frames = [rig.read() for _ in range(90)]  # 2.3 s of the source; behind at 0.5 s
    assert all(rec.offer(f) for f in frames)
    gate.set()
    rec.finish(wait=True)
    status = rec.status()
    assert status.total_dropped == 0 and status.total_frames == 90
    assert 40 <= status.total_raw < 90 and not status.behind
    with h5py.File(rec.path, "r") as f:
        for name, count in status.stored_raw.items():
            assert raw_frames(f[f"streams/{name}/frames"]) == count
        ds = f[f"streams/{frames[-1].stream}/frames"]
        last = ds.id.get_chunk_info_by_coord((ds.shape[0] - 1,) + (0,) * (ds.ndim - 1))
        assert last.filter_mask == 0, "caught up, the writer compressed again"
    with SessionReader(rec.path) as reader:
        for name, spec in reader.streams.items():
            for i in range(reader.count(name)):
                frame = reader.frame(name, i)
                assert np.array_equal(frame.array, fake_pixels(spec, frame.index))
    info = describe_session(rec.path)
    assert {n: s["stored_uncompressed"] for n, s in info["streams"].items()} == status.stored_raw
    assert "stored uncompressed (the machine was busy" in format_session(info)


def test_without_adapting_the_same_backlog_stays_compressed(tmp_path):
    rig = FakeRig(duration=None, scale=4)
    rig.open()
    rec, gate = _stalled_recording(tmp_path, rig, adaptive=False)
    assert all(rec.offer(rig.read()) for _ in range(90))
    gate.set()
    rec.finish(wait=True)
    assert rec.status().total_raw == 0 and rec.status().total_frames == 90


def test_a_live_queue_takes_half_the_free_memory(monkeypatch):
    monkeypatch.setattr(recording, "available_memory", lambda: 8 * 2**30)
    assert queue_budget(None) == 4 * 2**30
    monkeypatch.setattr(recording, "available_memory", lambda: None)
    assert queue_budget(None) == MIN_QUEUE_BYTES
    assert queue_budget(2**20) == 2**20
    monkeypatch.setattr(recording, "available_memory", lambda: 8 * 2**30)
    assert queue_budget(None, live=False) == MIN_QUEUE_BYTES, "a file can wait for the disk"


def test_frames_are_dropped_only_when_the_queue_is_full_and_then_counted(tmp_path):
    rig = FakeRig(duration=None, scale=4)
    rig.open()
    one = max(s.frame_bytes for s in rig.streams.values())
    rec, gate = _stalled_recording(tmp_path, rig, queue_bytes=6 * one)
    assert rec.status().queue_fill == 0.0
    accepted = [rec.offer(rig.read()) for _ in range(30)]
    full = rec.status()  # what the window's indicator reads: the queue all but full
    assert full.queue_fill > 0.75 and not full.lossless  # (> 5/6: no frame fitted)
    gate.set()
    rec.finish(wait=True)
    status = rec.status()
    assert accepted.count(False) == status.total_dropped > 0
    assert status.total_frames == accepted.count(True)
    assert status.queue_fill == 0.0, "all written"


def test_the_summary_shows_drops_frames_stored_uncompressed_and_source_losses(tmp_path):
    summary = RecordingSummary(
        path=tmp_path / "s.h5",
        frames={"thermal": 90, "color": 90},
        dropped={"thermal": 0, "color": 2},
        seconds=10.0,
        bytes=10**6,
        ms_per_frame=1.0,
        stored_raw={"thermal": 0, "color": 40},
        source_dropped={"thermal": 3, "color": 0},
    )
    line = format_summary(summary)
    assert "2 dropped" in line and "40 stored uncompressed" in line and "3 lost at the" in line


class _SkippingRig(FakeRig):
    """Loses every fifth depth frame before delivering it, as a camera with a full
    buffer would."""

    def _next_frame(self, timeout):
        frame = super()._next_frame(timeout)
        if frame is not None and frame.stream == "depth" and frame.index % 5 == 2:
            return super()._next_frame(timeout)
        return frame


def test_frames_lost_at_the_source_are_counted_apart(tmp_path):
    rig = _SkippingRig(duration=2.0)
    rig.open()
    summary = record(rig, tmp_path / "lossy.h5")
    assert summary.source_dropped == {"thermal": 0, "depth": 6, "color": 0}
    assert sum(summary.dropped.values()) == 0 and summary.frames["depth"] == 24


# -- the preview gives way ------------------------------------------------------------------
def test_the_preview_slows_down_while_the_recording_is_behind(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(capture.time, "monotonic", lambda: now[0])
    shown: list[FrameSet] = []
    worker = CaptureWorker(lambda: None, "fake", sinks=(shown.append,))
    worker._tee = types.SimpleNamespace(behind=True)
    sets = [FrameSet(i, i / 30, "thermal") for i in range(30)]
    for fs in sets:  # one second of a 30 fps source
        worker._publish(fs)
        now[0] += 1 / 30
    assert len(shown) == pytest.approx(PREVIEW_FPS_WHILE_BEHIND, abs=1)
    assert worker.preview_held == 30 - len(shown) and worker.latest.get()[1] is shown[-1]
    worker._tee = types.SimpleNamespace(behind=False)
    before = len(shown)
    worker._publish(FrameSet(30, 1.0, "thermal"))
    worker._publish(FrameSet(31, 1.0, "thermal"))  # at the same instant: shown too
    assert len(shown) == before + 2
