"""A stream that stops mid-recording: the others go on and the session records the gap."""

import math

import numpy as np

from drivers.faults import FaultyDriver
from drivers.recorder import record
from drivers.session import SessionReader
from tests.fakes import FakeRig


def _record_faulty(tmp_path, recover_after_s):
    driver = FaultyDriver(
        FakeRig(duration=3.0), stream="thermal", fail_after_s=1.0, recover_after_s=recover_after_s
    )
    driver.open()
    out = tmp_path / "gap.h5"
    summary = record(driver, out)
    driver.close()
    return out, summary


def test_gap_recorded_and_other_streams_continue(tmp_path):
    out, summary = _record_faulty(tmp_path, recover_after_s=0.8)
    with SessionReader(out) as r:
        gaps = r.gaps()
        assert len(gaps) == 1
        stream, start, end, message = gaps[0]
        assert stream == "thermal" and "fault" in message
        assert 1000.8 < start <= 1001.0 and 1001.8 <= end < 1002.0
        thermal = r.timestamps("thermal")
        # No thermal frame inside the gap; the gap borders are real frames.
        assert not np.any((thermal > start) & (thermal < end))
        assert start in thermal and end in thermal
        # Depth and colour kept recording through the outage.
        for name in ("depth", "color"):
            ts = r.timestamps(name)
            inside = (ts > start) & (ts < end)
            assert inside.sum() >= 0.7 * r.streams[name].fps * (end - start)
    assert summary.frames["thermal"] < summary.frames["depth"]


def test_gap_still_open_at_the_end_is_recorded_open_ended(tmp_path):
    out, _ = _record_faulty(tmp_path, recover_after_s=None)
    with SessionReader(out) as r:
        ((stream, start, end, _msg),) = r.gaps()
        assert stream == "thermal" and math.isnan(end)
        assert r.timestamps("thermal")[-1] == start
        assert r.timestamps("depth")[-1] > start + 1.5
