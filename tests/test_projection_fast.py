"""The fast per-frame transfer gives exactly what the first, plain implementation gave
(tests/projection_reference.py): same labels, reason codes, depths and confidences."""

from __future__ import annotations

import numpy as np
import pytest

from app.bench.projection import _depth_frames, _labels
from app.bench.projection import _rig as bench_rig
from calibration.depth_render import remove_flying_pixels
from calibration.projection import (
    NO_DEPTH,
    Projector,
    _class_confidence_numpy,
    class_confidence,
)
from tests import projection_reference as ref
from tests.scene3d import DEPTH_SCALE, apart, cast, depth_image, legs, make_rig


@pytest.fixture(scope="module")
def small_rig():
    return make_rig()


@pytest.fixture(scope="module")
def bench_like():
    """The benchmark's rig and frames (walls, floor, two legs, ToF noise, drop-outs)
    at 448x360, so the test stays quick but still decimates the occlusion buffer."""
    rig = bench_rig((448, 360), (448, 384), 1.2)
    return rig, _depth_frames(rig["depth"], 2), _labels(rig["color"])


def _assert_same_transfer(fast, slow) -> None:
    assert np.array_equal(fast.labels, slow.labels)
    assert np.array_equal(fast.reason, slow.reason)
    # Depths: the same float32 operations in the same order, so bit for bit.
    assert fast.depth.dtype == np.float32
    assert np.array_equal(fast.depth, slow.depth)
    assert np.array_equal(fast.class_confidence, slow.class_confidence, equal_nan=True)
    assert fast.confidence == slow.confidence


def _scene_frames(rig):
    out = []
    for scene in (legs(), apart(), apart(0.03)):
        depth = depth_image(rig, scene)
        _, rgb = cast(rig["color"], scene)
        out.append((depth, rgb))
    depth, rgb = out[0]
    holes = depth.copy()
    holes[60, 80] = 0  # a small hole: filled
    holes[10:40, 10:40] = 0  # a large one: stays unknown
    holes[70:90, 100] = (holes[70:90, 99].astype(np.int32) + 700).astype(np.uint16)  # flying
    out.append((holes, rgb))
    return out


def test_transfer_equals_the_first_implementation_on_the_test_scenes(small_rig):
    projector = Projector(small_rig, DEPTH_SCALE)
    for depth, rgb in _scene_frames(small_rig):
        fast = projector.transfer_labels(depth, rgb, 3, 0.01)
        slow = ref.transfer_labels(projector, depth, rgb, 3, 0.01)
        _assert_same_transfer(fast, slow)
        assert 0 < np.count_nonzero(fast.labels == 255) < fast.labels.size


def test_transfer_equals_the_first_implementation_on_benchmark_frames(bench_like):
    rig, frames, labels = bench_like
    projector = Projector(rig, 0.001)
    for depth in frames:
        fast = projector.transfer_labels(depth, labels, 3)
        _assert_same_transfer(fast, ref.transfer_labels(projector, depth, labels, 3))
        assert len(np.unique(fast.reason)) >= 5  # edges, holes, occlusion, outside all occur


def test_geometry_and_render_equal_the_first_implementation(bench_like):
    rig, frames, _ = bench_like
    projector = Projector(rig, 0.001)
    assert projector._decimate == 2
    depth = frames[0]
    g = projector.geometry(depth)
    z, u, v, reason = ref.geometry(projector, depth)
    assert np.array_equal(g.depth, z) and np.array_equal(g.reason, reason)
    known = reason != NO_DEPTH  # u, v mean nothing without depth
    assert np.array_equal(g.u[known], u[known]) and np.array_equal(g.v[known], v[known])
    clean = remove_flying_pixels(depth, 50)
    assert np.array_equal(clean, ref.remove_flying_pixels(depth, 50))
    step = projector._decimate
    for renderer, frame in (
        (projector.dst_render, clean),
        (projector.src_render, clean[::step, ::step]),
    ):
        assert np.array_equal(renderer.render(frame), ref.render(renderer, frame))


def test_values_carried_back_keep_their_reasons(small_rig):
    """transfer_values shares the geometry: same reasons, fill wherever unknown."""
    depth, rgb = _scene_frames(small_rig)[0]
    back = Projector(small_rig, DEPTH_SCALE, src="thermal", dst="color", dst_scale=0.5)
    temps = np.linspace(20, 35, 160 * 128, dtype=np.float32).reshape(128, 160)
    out, reason = back.transfer_values(depth, temps, fill=np.nan)
    assert np.array_equal(reason, ref.geometry(back, depth)[3])
    assert np.isnan(out[reason > 2]).all() and np.isfinite(out[reason <= 2]).all()


def test_confidence_by_histogram_equals_the_numpy_count():
    rng = np.random.default_rng(3)
    labels = rng.choice(np.array([0, 1, 2, 255], np.uint8), (96, 128), p=[0.6, 0.2, 0.15, 0.05])
    labels[:, :20] = 1  # a solid block: some of it sure
    reason = rng.choice(np.arange(7, dtype=np.uint8), labels.shape, p=[0.7] + [0.05] * 6)
    fast = class_confidence(labels, reason, 4)
    slow = _class_confidence_numpy(labels, reason, 4)
    assert np.array_equal(fast, slow, equal_nan=True)
    many = class_confidence(labels, reason, 12)  # counted by histogram
    assert np.array_equal(many, _class_confidence_numpy(labels, reason, 12), equal_nan=True)
    assert np.array_equal(many[:4], fast, equal_nan=True) and np.isnan(many[4:]).all()
    assert np.isnan(fast[3]) and 0 < fast[1] < 1
    # Any integer labels still work (the numpy count).
    wide = class_confidence(labels.astype(np.int32), reason, 4)
    assert np.array_equal(wide, fast, equal_nan=True)
