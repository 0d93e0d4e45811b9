"""The hand-over queue and the device-to-host clock mapping of live drivers."""

from __future__ import annotations

import threading

import pytest

from drivers.live import ClockMap, FrameQueue


def test_drop_oldest_queue_keeps_the_latest_and_counts_discards():
    q = FrameQueue(3)
    for i in range(5):
        assert q.put(i)
    assert q.discarded == 2
    assert [q.get(0), q.get(0), q.get(0), q.get(0)] == [2, 3, 4, None]


def test_blocking_queue_waits_for_room_and_never_loses():
    q = FrameQueue(1, drop_oldest=False)
    assert q.put("a")
    assert not q.put("b", timeout=0.01)  # full: refused, not dropped
    got = []
    consumer = threading.Thread(target=lambda: got.extend(q.get(1.0) for _ in range(3)))
    consumer.start()
    for item in ("b", "c"):
        assert q.put(item, timeout=1.0)
    consumer.join(2.0)
    assert got == ["a", "b", "c"] and q.discarded == 0


def test_clock_map_follows_device_deltas_and_never_runs_ahead_of_arrival():
    m = ClockMap(max_drift=0.0)
    # Device starts at 7.0 s; arrival latencies 20, 20, 50 (late), 5 (fast) ms.
    assert m.map("dev", 7.000, 100.020) == pytest.approx(100.020)
    assert m.map("dev", 7.033, 100.053) == pytest.approx(100.053)
    assert m.map("dev", 7.066, 100.116) == pytest.approx(100.086)  # late arrival ignored
    # A frame cannot be exposed after it arrived: the mapping moves down to it.
    assert m.map("dev", 7.100, 100.105) == pytest.approx(100.105)
    assert m.map("dev", 7.133, 100.160) == pytest.approx(100.138)
    # Another clock (another device) has its own mapping.
    assert m.map("other", 0.0, 100.2) == pytest.approx(100.2)


def test_clock_map_tracks_a_slow_device_clock_within_the_drift_allowance():
    m = ClockMap(max_drift=2e-4)
    # Device clock runs 100 ppm slow; constant 10 ms latency.
    errors = []
    for k in range(0, 3600, 10):
        host = 500.0 + k
        mapped = m.map("dev", k * (1 - 1e-4), host + 0.010)
        errors.append(abs(mapped - (host + 0.010)))
    assert max(errors[5:]) < 0.003  # without drift tracking: 0.36 s after an hour
    m.reset("dev")
    assert m.map("dev", 0.0, 1.0) == 1.0
