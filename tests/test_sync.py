import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.sync import Synchronizer, choose_pivot, match_timestamps
from drivers.types import Frame, StreamSpec


def _specs(rates: dict[str, float]) -> dict[str, StreamSpec]:
    return {
        n: StreamSpec(name=n, kind=n, shape=(2, 2), dtype="uint8", units="", fps=r)
        for n, r in rates.items()
    }


def _clock(rate: float, seconds: float, offset: float, jitter: float, rng) -> np.ndarray:
    n = int(seconds * rate)
    t = offset + np.arange(n) / rate + rng.uniform(-jitter, jitter, n)
    return np.sort(t)


def _frames(timestamps: dict[str, np.ndarray]) -> list[Frame]:
    frames = [
        Frame(stream=n, index=i, timestamp=float(t), array=np.zeros((2, 2), np.uint8))
        for n, ts in timestamps.items()
        for i, t in enumerate(ts)
    ]
    return sorted(frames, key=lambda f: f.timestamp)


def _run_online(specs, frames, **kw):
    sync = Synchronizer(specs, **kw)
    sets = []
    for f in frames:
        sets.extend(sync.push(f))
    sets.extend(sync.flush())
    return sync, sets


def test_pivot_is_slowest_stream():
    assert choose_pivot(_specs({"thermal": 9, "depth": 30, "color": 30})) == "thermal"
    assert choose_pivot(_specs({"thermal": 30, "depth": 15, "color": 30})) == "depth"
    # Equal rates: thermal is the pivot, labels are made for it.
    assert choose_pivot(_specs({"color": 30, "depth": 30, "thermal": 30})) == "thermal"


def test_mixed_rates_group_nearest_within_half_period():
    rng = np.random.default_rng(0)
    rates = {"thermal": 9.0, "depth": 30.0, "color": 30.0}
    ts = {
        "thermal": _clock(9, 5, 0.012, 0.002, rng),
        "depth": _clock(30, 5, 0.0, 0.001, rng),
        "color": _clock(30, 5, 0.004, 0.001, rng),
    }
    sync, sets = _run_online(_specs(rates), _frames(ts))
    assert len(sets) == len(ts["thermal"])
    assert sync.stats.complete == len(sets)
    for fs in sets:
        for name, f in fs.frames.items():
            # nearest frame of that stream, and within half the pivot's period
            assert abs(f.timestamp - fs.timestamp) <= 0.5 / 9
            nearest = np.min(np.abs(ts[name] - fs.timestamp))
            assert abs(f.timestamp - fs.timestamp) == nearest
    assert sum(sync.stats.duplicated.values()) == 0
    # Faster streams leave frames unmatched: 30 Hz against a 9 Hz pivot.
    assert sync.stats.unmatched["depth"] > len(ts["thermal"])


def test_measured_offset_matches_true_offset():
    rng = np.random.default_rng(1)
    ts = {
        "thermal": _clock(30, 4, 0.012, 0.0015, rng),
        "depth": _clock(30, 4, 0.0, 0.0015, rng),
    }
    sync, _ = _run_online(_specs({"thermal": 30, "depth": 30}), _frames(ts))
    assert abs(sync.stats.offsets["depth"].mean - (-0.012)) < 0.001
    assert sync.stats.to_dict()["offset_ms"]["depth"]["std"] < 2.0


def test_stalled_stream_never_blocks_sets():
    rng = np.random.default_rng(2)
    ts = {
        "thermal": _clock(30, 3, 0.0, 0.0, rng),
        "depth": _clock(30, 3, 0.001, 0.0, rng),
        "color": _clock(30, 1, 0.002, 0.0, rng),  # colour camera stops after 1 s
    }
    sync = Synchronizer(_specs({"thermal": 30, "depth": 30, "color": 30}), max_wait=0.2)
    emitted = []
    for f in _frames(ts):
        emitted.extend(sync.push(f))
    # Without flush, sets keep coming out although colour stopped: at most max_wait behind.
    assert emitted[-1].timestamp > ts["thermal"][-1] - 0.25
    late = [fs for fs in emitted if fs.timestamp > 1.1]
    assert late and all("color" not in fs for fs in late)
    assert sync.stats.missing["color"] >= len(late)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    thermal_rate=st.sampled_from([9.0, 27.0, 30.0]),
    offset=st.floats(-0.03, 0.03),
    drop=st.floats(0.0, 0.3),
)
def test_online_and_offline_agree(seed, thermal_rate, offset, drop):
    rng = np.random.default_rng(seed)
    ts = {
        "thermal": _clock(thermal_rate, 2, offset, 0.002, rng),
        "depth": _clock(30, 2, 0.0, 0.002, rng),
        "color": _clock(30, 2, 0.003, 0.002, rng),
    }
    # Random drops make gaps, missing partners and (with a fast pivot) duplicates.
    ts["depth"] = ts["depth"][rng.random(len(ts["depth"])) >= drop]
    rates = {"thermal": thermal_rate, "depth": 30.0, "color": 30.0}
    frames = _frames(ts)
    sync, sets = _run_online(_specs(rates), frames, max_wait=10.0)
    matches, stats = match_timestamps(ts, rates)
    assert stats.pivot == sync.pivot
    online = {n: np.full(len(ts[stats.pivot]), -1) for n in ts}
    for fs in sets:
        pivot_index = fs.frames[fs.pivot].index
        for n, f in fs.frames.items():
            online[n][pivot_index] = f.index
    for n in ts:
        np.testing.assert_array_equal(online[n], matches[n])
    assert stats.complete == sync.stats.complete
    assert stats.missing == sync.stats.missing
    assert stats.duplicated == sync.stats.duplicated
    assert stats.unmatched == sync.stats.unmatched
