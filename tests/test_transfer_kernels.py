"""The label transfer's compiled kernels read lens tables exactly as ``cv2.remap`` does
(so the transfer stays bit for bit the first implementation's) and are safe to call from
several threads at once (numba's default thread pool is not)."""

from __future__ import annotations

import threading

import cv2
import numba
import numpy as np
import pytest

from app.bench.projection import _depth_frames, _labels
from app.bench.projection import _rig as bench_rig
from calibration.projection import Projector
from calibration.rig import RigError
from calibration.transfer_kernels import _bilinear_uv, _nearest, _table_coords


@numba.njit
def _bilinear_all(table, xs, ys):
    u = np.empty(xs.shape, np.float32)
    v = np.empty(xs.shape, np.float32)
    for i in range(xs.shape[0]):
        u[i], v[i] = _bilinear_uv(table, xs[i], ys[i])
    return u, v


@numba.njit
def _nearest_all(shape, xs, ys):
    rows = np.empty(xs.shape, np.int64)
    cols = np.empty(xs.shape, np.int64)
    inside = np.empty(xs.shape, np.bool_)
    for i in range(xs.shape[0]):
        rows[i], cols[i], inside[i] = _nearest(shape, xs[i], ys[i])
    return rows, cols, inside


def test_bilinear_reads_a_two_channel_table_bit_for_bit_as_cv2_remap():
    rng = np.random.default_rng(3)
    table = (rng.normal(0, 400, (61, 83, 2))).astype(np.float32)
    xs = (rng.random(20000) * 82).astype(np.float32)
    ys = (rng.random(20000) * 60).astype(np.float32)
    # The table's last column and row, and whole numbers: the replicated border.
    xs[:50], ys[50:100], xs[100:150] = 82.0, 60.0, np.round(xs[100:150])
    u, v = _bilinear_all(table, xs, ys)
    args = (xs[None], ys[None], cv2.INTER_LINEAR, None, cv2.BORDER_REPLICATE)
    ref_u = cv2.remap(np.ascontiguousarray(table[..., 0]), *args)[0]
    ref_v = cv2.remap(np.ascontiguousarray(table[..., 1]), *args)[0]
    assert np.array_equal(u, ref_u) and np.array_equal(v, ref_v)


def test_nearest_rounds_half_to_even_and_knows_the_border_like_cv2_remap():
    image = np.arange(1, 10 * 7 + 1, dtype=np.float32).reshape(7, 10)
    halves = np.array([-0.5, -0.50001, 0.5, 1.5, 2.5, 8.5, 9.4999, 9.5, 3.2], np.float32)
    xs = np.concatenate([halves, np.full(9, 4.0, np.float32)])
    ys = np.concatenate([np.full(9, 3.0, np.float32), halves - 3.0 + 3.0])
    rows, cols, inside = _nearest_all(image.shape, xs, ys)
    ref = cv2.remap(image, xs[None], ys[None], cv2.INTER_NEAREST, None, cv2.BORDER_CONSTANT, 0)[0]
    assert np.array_equal(inside, ref != 0)
    assert np.array_equal(np.where(inside, image[rows, cols], 0), ref)


def test_two_threads_transferring_at_once_get_what_each_gets_alone():
    rig = bench_rig((448, 360), (448, 384), 1.2)
    frames = _depth_frames(rig["depth"], 2)
    labels = _labels(rig["color"])
    projectors = [Projector(rig, 0.001), Projector(rig, 0.001)]
    alone = [projectors[0].transfer_labels(d, labels, 3) for d in frames]
    results: dict[int, list] = {0: [], 1: []}

    def work(k: int) -> None:
        for _ in range(15):
            results[k].append(projectors[k].transfer_labels(frames[k], labels, 3))

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in (0, 1):
        assert len(results[k]) == 15
        for r in results[k]:
            assert np.array_equal(r.labels, alone[k].labels)
            assert np.array_equal(r.reason, alone[k].reason)


def test_a_depth_image_of_another_size_is_refused_before_the_unchecked_kernels_run():
    rig = bench_rig((448, 360), (448, 384), 1.2)
    projector = Projector(rig, 0.001)
    with pytest.raises(RigError, match="depth frames are 224x180 but the rig's depth camera"):
        projector.dst_render.render_inf(np.zeros((180, 224), np.uint16))


@numba.njit
def _coords_of(d, az, gx_c):
    one = np.float32(1.0)
    return _table_coords(d, az, one, gx_c, one, one, one, np.float32(9), np.float32(7), one)


def test_a_nan_or_far_coordinate_stays_inside_the_lens_table():
    nan, f32 = np.float32(np.nan), np.float32
    for az, gx_c, expect_x in (
        (f32(1), nan, 0.0),
        (f32(1), f32(1e9), 9.0),
        (f32(1), f32(-1e9), 0.0),
    ):
        _, gx, gy = _coords_of(f32(2.0), az, gx_c)
        assert gx == expect_x and 0 <= gy <= 7
    _, gx, gy = _coords_of(f32(2.0), nan, f32(1))  # a NaN depth in X: both held
    assert 0 <= gx <= 9 and 0 <= gy <= 7
