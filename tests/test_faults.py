"""Fault records, back-off, stall detection and the fault-injecting wrapper.

All time is driven by hand (a fake clock, or frame timestamps): nothing sleeps.
"""

from __future__ import annotations

import numpy as np
import pytest

from drivers.base import BaseDriver
from drivers.errors import EndOfStream, SourceError
from drivers.faults import Backoff, FaultLog, FaultyDriver, ReportsFaults, StallWatch
from drivers.types import Frame, StreamSpec


class FakeClock:
    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


class TwoStreams(BaseDriver):
    """A finite source: thermal at 10 Hz and depth at 30 Hz for ``seconds``."""

    def __init__(self, seconds: float = 3.0):
        super().__init__("test:two")
        rates = {"thermal": 10.0, "depth": 30.0}
        self._queue = sorted(
            (round(i / fps, 6), name)
            for name, fps in rates.items()
            for i in range(int(seconds * fps))
        )
        self._counts = dict.fromkeys(rates, 0)
        self._rates = rates

    def open(self) -> None:
        self._streams = {
            n: StreamSpec(n, n, (4, 4), "uint16", "x", fps) for n, fps in self._rates.items()
        }

    def _next_frame(self, timeout):
        if not self._queue:
            raise EndOfStream("done")
        t, name = self._queue.pop(0)
        i = self._counts[name]
        self._counts[name] += 1
        return Frame(name, i, 1000.0 + t, np.full((4, 4), i, np.uint16))


def test_backoff_doubles_up_to_the_ceiling_and_resets():
    clock = FakeClock(0.0)
    b = Backoff(0.5, 2.0, 4.0, clock=clock)
    assert b.due()
    waits = [b.failed() for _ in range(5)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert not b.due()
    clock.t = 3.99
    assert not b.due()
    clock.t = 4.0
    assert b.due()
    b.succeeded()
    assert b.failed() == 0.5
    with pytest.raises(ValueError):
        Backoff(0.0)


def test_stall_watch_allows_start_up_and_slow_streams():
    clock = FakeClock(0.0)
    w = StallWatch(
        {"thermal": 9.0, "depth": 30.0, "slow": 1.0}, timeout_s=1.0, startup_s=5.0, clock=clock
    )
    clock.t = 5.9
    assert w.stalled() == []  # still starting up
    clock.t = 6.05  # allowances: depth 1 s, thermal 10 periods = 1.11 s, slow 10 s
    assert w.stalled() == ["depth"]
    clock.t = 6.2
    assert sorted(w.stalled()) == ["depth", "thermal"]
    for s in ("thermal", "depth", "slow"):
        w.fed(s)
    clock.t = 6.2 + 1.5
    assert sorted(w.stalled()) == ["depth", "thermal"]  # 1 fps: allowance is 10 periods
    w.arm(["depth"])
    assert w.stalled() == ["thermal"]


def test_fault_log_records_intervals_and_feeds_the_monitor():
    class Monitor:
        def __init__(self):
            self.faults = {}

        def fault(self, stream, msg):
            self.faults[stream] = msg

    m = Monitor()
    log = FaultLog(lambda: m)
    log.begin("depth", 10.0, "unplugged")
    log.begin("depth", 11.0, "still unplugged")  # same outage, new message
    log.retried("depth")
    assert m.faults["depth"] == "still unplugged" and log.is_open("depth")
    assert log.end("thermal", 12.0) is None
    done = log.end("depth", 12.5)
    assert (done.start, done.end, done.retries) == (10.0, 12.5, 1)
    assert m.faults["depth"] == "" and not log.open_faults()
    assert [i.to_dict() for i in log.intervals()] == [
        {"stream": "depth", "start": 10.0, "end": 12.5, "message": "still unplugged", "retries": 1}
    ]


def test_faulty_driver_silences_one_stream_and_reports_the_gap():
    d = FaultyDriver(TwoStreams(3.0), stream="thermal", fail_after_s=1.0, recover_after_s=0.75)
    assert isinstance(d, ReportsFaults)
    d.open()
    frames, faults_seen = [], []
    for f in d.frames():
        frames.append(f)
        faults_seen.append(d.health()["thermal"].fault)
    thermal = [round(f.timestamp - 1000.0, 6) for f in frames if f.stream == "thermal"]
    depth = [f for f in frames if f.stream == "depth"]
    assert len(depth) == 90  # the other stream is untouched
    # 1.0 .. 1.7 swallowed (1.75 excluded: 1.8 is the first after recovery).
    assert thermal == [
        0.0,
        0.1,
        0.2,
        0.3,
        0.4,
        0.5,
        0.6,
        0.7,
        0.8,
        0.9,
        *[round(x / 10, 1) for x in range(18, 30)],
    ]
    (gap,) = d.fault_intervals()
    assert gap.stream == "thermal"
    assert gap.start == pytest.approx(1000.9) and gap.end == pytest.approx(1001.8)
    assert any(faults_seen) and not faults_seen[-1]
    assert d.health()["thermal"].frames == len(thermal)


def test_faulty_driver_without_recovery_and_bad_arguments():
    d = FaultyDriver(TwoStreams(2.0), stream="depth", fail_after_s=0.5)
    d.open()
    frames = list(d.frames())
    assert max(f.timestamp for f in frames if f.stream == "depth") < 1000.5
    (gap,) = d.fault_intervals()
    assert gap.ongoing and d.health()["depth"].fault
    with pytest.raises(SourceError, match="cannot inject a fault into 'color'"):
        FaultyDriver(TwoStreams(), stream="color", fail_after_s=1.0).open()
    with pytest.raises(SourceError):
        FaultyDriver(TwoStreams(), stream="depth", fail_after_s=1.0, recover_after_s=0)
